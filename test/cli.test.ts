// The command line: train -> saved model -> eval and predict on a PNG; bad arguments exit 2 with a message.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { expect, it } from 'vitest';
import { loadMnist } from '../src/mnist.js';
import { tutorialNet } from '../src/nets.js';
import { loadModel } from '../src/node.js';

// The built CLI (npm test builds first): a tsx start-up per call costs seconds, minutes on a busy machine.
const cli = resolve(import.meta.dirname, '../lib/cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

it('simdcnn train --net tutorial (2,000 images) saves a model; eval and predict read it back', async () => {
  const d = mkdtempSync(join(tmpdir(), 'simdcnn-cli-'));
  const out = join(d, 'model');
  const t = run(['train', '--net', 'tutorial', '--epochs', '1', '--train-limit', '2000', '--test-limit', '500', '--out', out]);
  expect(t.status, t.stderr).toBe(0);
  expect(t.stdout).toMatch(/test accuracy (\d+\.\d+)%/);
  expect(t.stdout).toMatch(/saved to .*model\.json/);
  const e = run(['eval', '--model', out]);
  expect(e.status, e.stderr).toBe(0);
  const acc = Number(e.stdout.match(/test accuracy (\d+\.\d+)%/)![1]);
  expect(acc).toBeGreaterThan(80);
  // A test digit as a dark-on-light 56x56 RGBA PNG, as someone would draw or scan it.
  const { test } = await loadMnist({ testLimit: 10 });
  const k = 3,
    label = test.labels[k];
  const png = new PNG({ width: 56, height: 56 });
  for (let y = 0; y < 56; y++)
    for (let x = 0; x < 56; x++) {
      const v = 255 - Math.round(255 * test.images.data[k * 784 + (y >> 1) * 28 + (x >> 1)]);
      png.data.set([v, v, v, 255], (y * 56 + x) * 4);
    }
  const file = join(d, 'digit.png');
  writeFileSync(file, PNG.sync.write(png));
  const p = run(['predict', '--model', out, file]);
  expect(p.status, p.stderr).toBe(0);
  expect(p.stdout).toMatch(new RegExp(`digit\\.png: ${label} \\(probability`));
  expect(p.stdout).toMatch(/inverted/);
}, 120_000);

it('simdcnn train --schedule onecycle --early-stopping 1: the run follows the schedule, saved with the optimizer', async () => {
  const d = mkdtempSync(join(tmpdir(), 'simdcnn-cli-'));
  const out = join(d, 'model');
  const args = ['--net', 'tutorial', '--epochs', '3', '--train-limit', '300', '--test-limit', '100', '--validation-split', '0.2'];
  const t = run(['train', ...args, '--schedule', 'onecycle', '--early-stopping', '1', '--out', out]);
  expect(t.status, t.stderr).toBe(0);
  expect(t.stdout).toMatch(/sgd lr 0\.005 \(onecycle\)/);
  const m = await loadModel(out);
  expect(m.optimizer!.learningRateSchedule!.toConfig()).toEqual({
    className: 'OneCycle',
    config: { maxLearningRate: 0.005, totalSteps: 3 * 240, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 },
  });
  m.dispose();
}, 120_000);

it('bad arguments and files exit with status 2 and say what is wrong', async () => {
  const cases: [string[], RegExp][] = [
    [['train', '--net', 'resnet'], /--net must be tutorial, lenet, cnn3, bncnn, resnet8 or resnet20, received 'resnet'/],
    [['train', '--epochs', '0'], /--epochs must be a positive integer/],
    [['train', '--schedule', 'linear'], /--schedule must be constant, cosine, exponential or onecycle, received 'linear'/],
    [['train', '--early-stopping', '0'], /--early-stopping must be a positive integer/],
    [['eval'], /eval needs --model PATH/],
    [['eval', '--model', '/nonexistent/dir'], /cannot read \(ENOENT\)/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, msg] of cases) {
    const r = run(args);
    expect(r.status, args.join(' ')).toBe(2);
    expect(r.stderr).toMatch(msg);
  }
  // A model that loads, so the refusal below comes from decoding the image, not from loadModel.
  const d = mkdtempSync(join(tmpdir(), 'simdcnn-cli-'));
  await tutorialNet(0).save(join(d, 'm'));
  writeFileSync(join(d, 'not.png'), 'hello');
  const r = run(['predict', '--model', join(d, 'm'), join(d, 'not.png')]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/not\.png: not a picture this library reads/);
}, 60_000);

it("simdcnn <command> --help prints that command's options and exits 0; an unknown option points to it", () => {
  const cases: [string[], RegExp, RegExp][] = [
    [['train', '--help'], /Usage: simdcnn train/, /--batch-size N[\s\S]*--out PATH/],
    [['eval', '-h'], /Usage: simdcnn eval --model PATH/, /--model PATH/],
    [['predict', '--help'], /Usage: simdcnn predict --model PATH IMAGE\.\.\./, /pngjs for PNG and jpeg-js for JPEG/],
  ];
  for (const [args, usage, options] of cases) {
    const r = run(args);
    expect(r.status, args.join(' ')).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stdout).toMatch(options);
  }
  const r = run(['train', '--bogus']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/Unknown option '--bogus'.*simdcnn train --help lists the options/);
}, 60_000);
