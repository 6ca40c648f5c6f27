// `simdcnn train --data DIR` and `--dataset NAME --data-dir PATH` on small generated data, then predict
// naming the class of PNG and JPEG pictures and eval reading what train saved. The built CLI (npm test
// builds first) is spawned, as a user runs it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/random.js';
import { augmentationLayers, defaultAugmentation } from '../src/train-plan.js';
import { cifarRecords, encodePng, idxBytes } from './data-helpers.js';

const cli = resolve(import.meta.dirname, '../lib/cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-cli-data-'));

/** A w x h picture of one hue with seeded noise: red, green or blue dominates. */
function picture(w: number, h: number, hue: number, seed: number) {
  const rng = new Rng(seed),
    data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++)
    for (let c = 0; c < 4; c++) data[i * 4 + c] = c === 3 ? 255 : c === hue ? 150 + rng.int(100) : rng.int(90);
  return { width: w, height: h, data };
}
const jpegOf = (img: ReturnType<typeof picture>) => jpeg.encode({ ...img, data: Buffer.from(img.data) }, 90).data;

describe('--augment chosen from the data', () => {
  it('digits and letters are never mirrored; CIFAR-10 flip + pad-and-crop; dark grounds fill with the ground, photos reflect', () => {
    for (const d of ['mnist', 'kmnist', 'emnist'] as const) expect(defaultAugmentation(d)).toEqual(['translate', 'rotate', 'zoom']);
    expect(defaultAugmentation('fashion-mnist')).toEqual(['flip', 'translate']);
    expect(defaultAugmentation('cifar10')).toEqual(['flip', 'crop']);
    expect(defaultAugmentation('folder')).toEqual(['flip', 'translate', 'zoom']);
    const digits = augmentationLayers(['translate', 'crop'], 'mnist', [28, 28, 1], [0, 1]).map((l) => l.getConfig());
    expect(digits[0]).toMatchObject({ fillMode: 'constant', fillValue: 0, interpolation: 'bilinear', batchInputShape: [null, 28, 28, 1] });
    expect(digits[1]).toMatchObject({ heightFactor: 0.125, fillMode: 'constant', interpolation: 'nearest' });
    expect(digits[1].batchInputShape).toBeUndefined();
    const photos = augmentationLayers(['flip', 'zoom'], 'folder', [32, 32, 3], [-0.5, 0.5]).map((l) => l.getConfig());
    expect(photos[0]).toMatchObject({ mode: 'horizontal', batchInputShape: [null, 32, 32, 3] });
    expect(photos[1]).toMatchObject({ fillMode: 'reflect' });
  });
});

describe('simdcnn train --data DIR', () => {
  const root = join(tmp, 'colours');
  const names = ['blue', 'green', 'red'];
  for (const [k, name] of names.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    const hue = [2, 1, 0][k];
    for (let i = 0; i < 12; i++) {
      const img = picture(36 + (i % 3) * 4, 28 + (i % 2) * 6, hue, k * 100 + i);
      writeFileSync(join(root, name, i % 2 ? `${i}.png` : `${i}.jpg`), i % 2 ? encodePng(img) : jpegOf(img));
    }
  }
  const out = join(tmp, 'colour-model');

  it('a folder of 3 classes (PNG and JPEG): input and net from the rule, validation held out, model saved with its class names; predict names the class; eval on the folder', () => {
    const t = run(['train', '--data', root, '--epochs', '8', '--out', out]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/colours: 36 pictures in 3 classes \(blue, green, red\)/);
    // Shorter sides: 18 pictures of 28 and 18 of 34, median (the lower middle) 28; lenet for inputs up to 32 pixels; 15% of 12 per class held out.
    expect(t.stdout).toMatch(
      /net lenet on \[28,28,3\] -> 3 classes, adam lr 0\.001, batch 32, 8 epoch\(s\), seed 0, 6 pictures held out for validation/,
    );
    expect(t.stdout).toMatch(/val_acc/);
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
    expect(meta).toMatchObject({ dataset: 'folder', classNames: names, inputRange: [0, 1], fit: 'crop', lightOnDark: false });
    const files = [
      [0, 'red.jpg'],
      [1, 'green.png'],
      [2, 'blue.jpg'],
    ] as const;
    for (const [hue, f] of files) {
      const img = picture(50, 40, hue, 999 + hue);
      writeFileSync(join(tmp, f), f.endsWith('.png') ? encodePng(img) : jpegOf(img));
    }
    const p = run(['predict', '--model', out, ...files.map(([, f]) => join(tmp, f))]);
    expect(p.status, p.stderr).toBe(0);
    for (const [, f] of files) expect(p.stdout).toMatch(new RegExp(`${f}: ${f.split('.')[0]} \\(probability`));
    expect(p.stdout).not.toMatch(/inverted/);
    const e = run(['eval', '--model', out, '--data', root]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/test accuracy \d+\.\d+% on 36 pictures of /);
  }, 120_000);
  it('--augment (chosen from the data: flip, translate, zoom for a folder) trains with the layers; the model saved without them predicts; bad lists exit 2', () => {
    const dir = join(tmp, 'augmented');
    const t = run(['train', '--data', root, '--epochs', '3', '--augment', '--out', dir]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/augmentation in training: RandomFlip, RandomTranslation, RandomZoom \(flip, translate, zoom\)/);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const classes = json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name);
    expect(classes).toEqual(['Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']);
    expect(json.userDefinedMetadata.augmentation).toEqual(['flip', 'translate', 'zoom']);
    const img = picture(40, 40, 0, 5);
    writeFileSync(join(tmp, 'aug-red.png'), encodePng(img));
    const p = run(['predict', '--model', dir, join(tmp, 'aug-red.png')]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/aug-red\.png: (red|green|blue) \(probability/);
    const listed = run([
      'train',
      '--data',
      root,
      '--epochs',
      '1',
      '--augment',
      'crop,contrast,erase',
      '--validation-split',
      '0',
      '--out',
      dir,
    ]);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/augmentation in training: RandomTranslation, RandomContrast, RandomErasing \(crop, contrast, erase\)/);
    const flip = run(['train', '--augment', 'flip,translate']);
    expect(flip.status).toBe(2);
    expect(flip.stderr).toMatch(/--augment flip: mnist holds characters, which mirroring turns into other characters or none/);
    const bad = run(['train', '--augment', 'flip,shear']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--augment takes a comma list of flip, translate, crop, rotate, zoom, contrast, erase .*received 'shear'/);
  }, 120_000);
  it('flags override the rule: --input-size 16x24 --grey --fit stretch --net cnn3 --validation-split 0', () => {
    const t = run([
      'train',
      '--data',
      root,
      '--input-size',
      '16x24',
      '--grey',
      '--fit',
      'stretch',
      '--net',
      'cnn3',
      '--validation-split',
      '0',
      '--epochs',
      '1',
      '--out',
      join(tmp, 'm2'),
    ]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/net cnn3 on \[24,16,1\] -> 3 classes/);
    expect(t.stdout).not.toMatch(/held out/);
  }, 60_000);
});

describe('simdcnn train --dataset NAME --data-dir PATH', () => {
  it('cifar10 (generated files): trains with a validation split, evaluates the test set, saves the class names; predict on a 32x32 PNG names a CIFAR class', () => {
    const d = join(tmp, 'cifar-10-batches-bin');
    mkdirSync(d, { recursive: true });
    for (let i = 1; i <= 5; i++) writeFileSync(join(d, `data_batch_${i}.bin`), cifarRecords(20, i));
    writeFileSync(join(d, 'test_batch.bin'), cifarRecords(10, 9));
    const out = join(tmp, 'cifar-model');
    const t = run(['train', '--dataset', 'cifar10', '--data-dir', d, '--epochs', '1', '--validation-split', '0.2', '--out', out]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/cifar10: 100 training \/ 10 test pictures 32x32x3, 10 classes/);
    expect(t.stdout).toMatch(/net lenet on \[32,32,3\] -> 10 classes.*20 pictures held out for validation/);
    expect(t.stdout).toMatch(/test accuracy \d+\.\d+% on 10 pictures/);
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
    expect(meta.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    writeFileSync(join(tmp, 'thing.png'), encodePng(picture(32, 32, 0, 5)));
    const p = run(['predict', '--model', out, join(tmp, 'thing.png')]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/thing\.png: (airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck) \(probability/);
    const e = run(['eval', '--model', out, '--data-dir', d]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/on 10 cifar10 test pictures/);
  }, 120_000);
  it('fashion-mnist (gzipped IDX): trains; eval reads the dataset name from the model and needs its --data-dir', () => {
    const d = join(tmp, 'fashion');
    mkdirSync(d, { recursive: true });
    const rng = new Rng(3);
    for (const [prefix, n] of [
      ['train', 40],
      ['t10k', 10],
    ] as const) {
      writeFileSync(
        join(d, `${prefix}-images-idx3-ubyte.gz`),
        gzipSync(
          idxBytes(
            [n, 28, 28],
            Array.from({ length: n * 784 }, () => rng.int(256)),
          ),
        ),
      );
      writeFileSync(
        join(d, `${prefix}-labels-idx1-ubyte.gz`),
        gzipSync(
          idxBytes(
            [n],
            Array.from({ length: n }, (_, i) => i % 10),
          ),
        ),
      );
    }
    const out = join(tmp, 'fashion-model');
    const t = run(['train', '--dataset', 'fashion-mnist', '--data-dir', d, '--epochs', '1', '--out', out]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/fashion-mnist: 40 training \/ 10 test pictures 28x28x1/);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata).toMatchObject({
      dataset: 'fashion-mnist',
      lightOnDark: true,
      fit: 'stretch',
    });
    const bad = run(['eval', '--model', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/eval on fashion-mnist needs --data-dir PATH/);
    const e = run(['eval', '--model', out, '--data-dir', d]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/on 10 fashion-mnist test pictures/);
  }, 60_000);
  it('bad data options exit 2 and say what is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--dataset', 'cifar10'], /--dataset cifar10 reads its files from --data-dir PATH/],
      [['train', '--dataset', 'svhn'], /--dataset must be mnist, fashion-mnist, kmnist, emnist or cifar10, received 'svhn'/],
      [['train', '--data', tmp, '--dataset', 'mnist'], /give either --data DIR \(an image folder\) or --dataset NAME, not both/],
      [['train', '--data', join(tmp, 'nope')], /nope: cannot read the image folder \(ENOENT\)/],
      [['train', '--data', tmp, '--validation-split', '1'], /--validation-split must be in \[0, 1\)/],
      [['train', '--data', tmp, '--fit', 'squash'], /--fit must be crop or stretch, received 'squash'/],
      [['train', '--data', tmp, '--grey', '--rgb'], /give --grey or --rgb, not both/],
      [['train', '--data', tmp, '--input-size', 'big'], /--input-size must be N or WIDTHxHEIGHT/],
      [['train', '--dataset', 'cifar10', '--data-dir', join(tmp, 'colours')], /none of data_batch_1\.bin, data_batch_1\.bin\.gz is there/],
    ];
    for (const [args, msg] of cases) {
      const r = run(args);
      expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  }, 60_000);
});
