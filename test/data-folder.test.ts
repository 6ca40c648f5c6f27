// Image folders in Node (src/data/folder.ts): root/<class>/**/*.{png,jpg,jpeg} from generated PNG and JPEG
// files; class names sorted, pictures fitted to the input, a stratified seeded validation split, pixels
// decoded per batch (proved by deleting files mid-pass), and a hostile folder: links, FIFOs, giant headers,
// corrupt files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, jpegOrientation, optional, orient } from '../src/data/decode.js';
import { imageFolder, suggestInput } from '../src/data/folder.js';
import { fitPixels, type RgbaImage } from '../src/data/pixels.js';
import { DataError, FileError, StateError } from '../src/errors.js';
import { halvesJpeg, jpegBytes, pngBytes, randomImage, withExifOrientation } from './data-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-folder-'));

function makeFolder(name: string, files: Record<string, Buffer | string>): string {
  const root = join(tmp, name);
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), body);
  }
  return root;
}

describe('imageFolder', () => {
  const root = makeFolder('pets', {
    'cat/a.png': pngBytes(40, 30, 1),
    'cat/b.PNG': pngBytes(50, 36, 2),
    'cat/c.png': pngBytes(30, 30, 3),
    'dog/x.jpg': jpegBytes(44, 32, [200, 30, 30]),
    'dog/deep/y.jpeg': jpegBytes(32, 60, [20, 220, 40]),
    'cat/notes.txt': 'not a picture',
    'cat/pic.webp': 'RIFF....WEBP',
    'readme.txt': 'hi',
    '.DS_Store': 'x',
    'cat/.hidden.png': 'x',
  });
  symlinkSync(join(root, 'cat/a.png'), join(root, 'cat/link.png'));
  symlinkSync(join(root, 'dog'), join(root, 'bird'));
  execFileSync('mkfifo', [join(root, 'dog/pipe.png')]);

  it('classes sorted from the sub-folders (nested files included); links, FIFOs and other files skipped with reasons', async () => {
    const f = await imageFolder(root);
    expect(f.classNames).toEqual(['cat', 'dog']);
    expect(f.files.map((x) => [x.path.slice(root.length + 1), x.label])).toEqual([
      ['cat/a.png', 0],
      ['cat/b.PNG', 0],
      ['cat/c.png', 0],
      ['dog/deep/y.jpeg', 1],
      ['dog/x.jpg', 1],
    ]);
    const reasons = Object.fromEntries(f.skipped.map((s) => [s.path.slice(root.length + 1), s.reason]));
    expect(reasons).toEqual({
      bird: 'a symbolic link (not followed)',
      'cat/link.png': 'a symbolic link (not followed)',
      'cat/notes.txt': 'not a .png/.jpg/.jpeg file',
      'cat/pic.webp': 'WebP is not decoded in Node',
      'dog/pipe.png': 'not a regular file (FIFO, socket or device)',
      'readme.txt': 'not inside a class folder',
    });
  });
  it('input by the rule: median short side 32 (of 30,36,30,32,32) -> [32,32,3]; grey only when every picture is grey', async () => {
    expect((await imageFolder(root)).inputShape).toEqual([32, 32, 3]);
    expect(suggestInput([{ format: 'png', width: 500, height: 400, grey: true }])).toEqual([64, 64, 1]);
    expect(suggestInput([{ format: 'png', width: 5, height: 4, grey: false }])).toEqual([8, 8, 3]);
    expect((await imageFolder(root, { imageSize: [12, 20], channels: 1 })).inputShape).toEqual([12, 20, 1]);
  });
  it('batches hold each picture decoded and fitted exactly as fitPixels does, in [0,1], with its label', async () => {
    const f = await imageFolder(root, { imageSize: 9, fit: 'crop' });
    const all = await f.dataset('all', { batchSize: 2 }).toArray();
    expect(all.map((b) => b.xs.shape)).toEqual([
      [2, 9, 9, 3],
      [2, 9, 9, 3],
      [1, 9, 9, 3],
    ]);
    const b0 = all[0];
    const want = fitPixels(PNG.sync.read(readFileSync(join(root, 'cat/a.png'))), { height: 9, width: 9, channels: 3, fit: 'crop' });
    for (let i = 0; i < want.length; i++) expect(b0.xs.data[i]).toBeCloseTo(want[i] / 255, 6);
    expect(Array.from(all[1].ys as Int32Array)).toEqual([0, 1]);
    // The red JPEG decodes to about (200, 30, 30).
    const red = all[2].xs.data;
    expect(Math.abs(red[0] * 255 - 200)).toBeLessThan(4);
    expect(Math.abs(red[1] * 255 - 30)).toBeLessThan(4);
  });
  it('validationSplit 0.25 of 8 pictures per class: 2 per class held out, seeded, disjoint; all = training + validation', async () => {
    const files: Record<string, Buffer> = {};
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 8; i++) files[`${c}/${i}.png`] = pngBytes(8, 8, i, true);
    const r = makeFolder('split', files);
    const f = await imageFolder(r, { validationSplit: 0.25, seed: 4 });
    expect(f.inputShape).toEqual([8, 8, 1]);
    expect([f.count('training'), f.count('validation'), f.count('all')]).toEqual([18, 6, 24]);
    const labelsOf = async (s: 'training' | 'validation') => (await f.dataset(s, { batchSize: 100 }).toArray())[0].ys as Int32Array;
    expect(Array.from(await labelsOf('validation'))).toEqual([0, 0, 1, 1, 2, 2]);
    const again = await imageFolder(r, { validationSplit: 0.25, seed: 4 });
    const other = await imageFolder(r, { validationSplit: 0.25, seed: 5 });
    const val = (x: typeof f) =>
      x.files.filter((_, i) => (x as unknown as { subsets: { validation: number[] } }).subsets.validation.includes(i)).map((y) => y.path);
    expect(val(again)).toEqual(val(f));
    expect(val(other)).not.toEqual(val(f));
    await expect(imageFolder(r, { validationSplit: 1 })).rejects.toThrow(/validationSplit must be in \[0, 1\)/);
    expect(() => f.dataset('everything' as 'all')).toThrow(/subset must be/);
  });
  it('streams: with no cache a pass decodes batch by batch (deleting a later file fails that batch, naming it); with the cache a second pass reads no file', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) {
      files[`p/${i}.png`] = pngBytes(10, 10, i);
      files[`q/${i}.png`] = pngBytes(10, 10, 10 + i);
    }
    const r = makeFolder('stream', files);
    const lazy = await imageFolder(r, { cacheBytes: 0 });
    const it = await lazy.dataset('all', { batchSize: 4 }).iterator();
    expect((await it.next()).value.xs.shape).toEqual([4, 10, 10, 3]);
    rmSync(join(r, 'q/5.png'));
    await it.next();
    await expect(it.next()).rejects.toThrow(FileError);
    await expect(lazy.dataset('all', { batchSize: 4 }).toArray()).rejects.toThrow(/q\/5\.png: cannot open \(ENOENT\)/);
    writeFileSync(join(r, 'q/5.png'), files['q/5.png']);
    const cached = await imageFolder(r);
    const first = await cached.dataset('all', { batchSize: 5 }).toArray();
    rmSync(join(r, 'p'), { recursive: true });
    const second = await cached.dataset('all', { batchSize: 5 }).toArray();
    expect(second.map((b) => Array.from(b.xs.data))).toEqual(first.map((b) => Array.from(b.xs.data)));
    const loaded = await cached.load();
    expect(loaded.shape).toEqual([12, 10, 10, 3]);
    expect(loaded.classNames).toEqual(['p', 'q']);
  });
});

describe('imageFolder refuses bad folders and pictures, naming them', () => {
  it('fewer than two classes, an empty class, a missing root, a file as root', async () => {
    await expect(imageFolder(makeFolder('one', { 'only/a.png': pngBytes(4, 4, 0) }))).rejects.toThrow(
      /found 1 class folder\(s\) \(only\); an image folder needs one sub-folder per class, at least two/,
    );
    await expect(imageFolder(makeFolder('empty', { 'a/a.png': pngBytes(4, 4, 0), 'b/readme.txt': 'x' }))).rejects.toThrow(
      /class folder\(s\) 'b' hold no/,
    );
    await expect(imageFolder(join(tmp, 'nope'))).rejects.toThrow(FileError);
    await expect(imageFolder(join(tmp, 'one/only/a.png'))).rejects.toThrow(/not a folder/);
  });
  it('a 69-byte PNG claiming 30000x30000 is refused from its header while scanning', async () => {
    const head = pngBytes(1, 1, 0);
    head.writeUInt32BE(30000, 16);
    head.writeUInt32BE(30000, 20);
    const r = makeFolder('giant', { 'a/ok.png': pngBytes(4, 4, 0), 'b/huge.png': head });
    await expect(imageFolder(r)).rejects.toThrow(DataError);
    await expect(imageFolder(r)).rejects.toThrow(
      /b\/huge\.png is 30000x30000 pixels, more than the 4096x4096 allowed; raise the limit with maxImageSize/,
    );
    expect((await imageFolder(r, { maxImageSize: { width: 30000, height: 30000 } })).files.length).toBe(2);
  });
  it('a PNG with broken data and a truncated JPEG are DataErrors naming the file when their batch is decoded', async () => {
    const png = pngBytes(16, 16, 1);
    png.fill(7, 40, 60);
    const jpg = jpegBytes(16, 16, [9, 9, 9]);
    const f = await imageFolder(makeFolder('corrupt', { 'a/bad.png': png, 'b/ok.jpg': jpg }), { imageSize: 4 });
    await expect(f.dataset('all', { batchSize: 1 }).toArray()).rejects.toThrow(/a\/bad\.png: corrupt PNG/);
    const g = await imageFolder(makeFolder('cut', { 'a/ok.jpg': jpg, 'b/cut.jpg': jpg.subarray(0, jpg.length - 40) }), { imageSize: 4 });
    const it = await g.dataset('all', { batchSize: 1 }).iterator();
    expect((await it.next()).done).toBe(false);
    await expect(it.next()).rejects.toThrow(/b\/cut\.jpg: corrupt JPEG/);
  });
  it('decodeImage: WebP and GIF are named as not decoded in Node; a missing optional decoder says what to install', async () => {
    const webp = Uint8Array.from([...'RIFF\0\0\0\0WEBPVP8X'].map((c) => c.charCodeAt(0)).concat(new Array(20).fill(0)));
    await expect(decodeImage(webp, 'a.webp')).rejects.toThrow(/a\.webp: WebP files are not decoded in Node/);
    await expect(optional('simdcnn-no-such-package', 'reading PNG files')).rejects.toThrow(StateError);
    await expect(optional('simdcnn-no-such-package', 'reading PNG files')).rejects.toThrow(
      'reading PNG files needs the simdcnn-no-such-package package, which is not installed: npm install simdcnn-no-such-package',
    );
  });
});

describe('JPEG EXIF orientation (applied as browsers do)', () => {
  it('orient() for all 8 values on a 3x2 picture: where the top-left source pixel ends up, and the size', () => {
    const img = randomImage(3, 2, 9);
    const at = (p: RgbaImage, x: number, y: number) => Array.from(p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 4));
    const tl = at(img, 0, 0);
    // Orientation -> [width, height, x, y of the source's top-left pixel in the upright picture].
    const want: Record<number, number[]> = {
      1: [3, 2, 0, 0],
      2: [3, 2, 2, 0],
      3: [3, 2, 2, 1],
      4: [3, 2, 0, 1],
      5: [2, 3, 0, 0],
      6: [2, 3, 1, 0],
      7: [2, 3, 1, 2],
      8: [2, 3, 0, 2],
    };
    for (const [o, [w, h, x, y]] of Object.entries(want)) {
      const r = orient(img, Number(o));
      expect([r.width, r.height], `orientation ${o}`).toEqual([w, h]);
      expect(at(r, x, y), `orientation ${o}`).toEqual(tl);
    }
  });
  it('a 16x8 JPEG, black left half, tagged orientation 6 (rotate 90 clockwise) decodes 8x16 with the black half on top', async () => {
    const tagged = withExifOrientation(halvesJpeg(16, 8), 6);
    expect(jpegOrientation(tagged)).toBe(6);
    expect(jpegOrientation(halvesJpeg(16, 8))).toBe(1);
    const img = await decodeImage(tagged, 'rotated.jpg');
    expect([img.width, img.height]).toEqual([8, 16]);
    expect(img.data[(2 * 8 + 4) * 4]).toBeLessThan(20);
    expect(img.data[(13 * 8 + 4) * 4]).toBeGreaterThan(235);
  });
});
