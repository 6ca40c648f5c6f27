// Pictures to model inputs (src/data/pixels.ts) against float64 references and TF.js's resizeBilinear;
// picture headers (src/image.ts); byte image sets (src/data/labeled-images.ts).
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { LabeledImages, pixelTable } from '../src/data/labeled-images.js';
import { cropBox, fitPixels, type RgbaImage } from '../src/data/pixels.js';
import { DataError, ValueError } from '../src/errors.js';
import { imageInfo } from '../src/image.js';
import { randomImage } from './data-helpers.js';

/** Float64 reference: composite over white, grey or RGB, then the exact area average over each output cell of the box. */
function areaReference(img: RgbaImage, H: number, W: number, C: 1 | 3, box = { x: 0, y: 0, w: img.width, h: img.height }): number[] {
  const val = (x: number, y: number, c: number) => {
    const i = (y * img.width + x) * 4,
      a = img.data[i + 3] / 255;
    const ch = (k: number) => img.data[i + k] * a + 255 * (1 - a);
    return C === 1 ? 0.299 * ch(0) + 0.587 * ch(1) + 0.114 * ch(2) : ch(c);
  };
  const out: number[] = [];
  const sx = box.w / W,
    sy = box.h / H;
  for (let oy = 0; oy < H; oy++)
    for (let ox = 0; ox < W; ox++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let y = 0; y < box.h; y++)
          for (let x = 0; x < box.w; x++) {
            const wy = Math.max(0, Math.min(y + 1, (oy + 1) * sy) - Math.max(y, oy * sy));
            const wx = Math.max(0, Math.min(x + 1, (ox + 1) * sx) - Math.max(x, ox * sx));
            if (wx > 0 && wy > 0) s += wx * wy * val(box.x + x, box.y + y, c);
          }
        out.push(s / (sx * sy));
      }
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('fitPixels', () => {
  it('same size, opaque: RGB bytes unchanged; grey is BT.601 luma, rounded', () => {
    const img = randomImage(7, 5, 1);
    const rgb = fitPixels(img, { height: 5, width: 7, channels: 3 });
    const want = Array.from({ length: 35 * 3 }, (_, i) => img.data[Math.floor(i / 3) * 4 + (i % 3)]);
    expect(Array.from(rgb)).toEqual(want);
    const grey = fitPixels(img, { height: 5, width: 7, channels: 1 });
    expect(maxDiff(grey, areaReference(img, 5, 7, 1))).toBeLessThanOrEqual(0.5 + 1e-3);
  });
  for (const [w, h, W, H, C] of [
    [64, 48, 8, 6, 3],
    [97, 61, 13, 7, 1],
    [30, 30, 7, 7, 3],
    [255, 3, 5, 2, 1],
  ] as const) {
    it(`shrinking ${w}x${h} -> ${W}x${H}x${C} (stretch) is the exact area average (within rounding)`, () => {
      const img = randomImage(w, h, w * h);
      const got = fitPixels(img, { height: H, width: W, channels: C, fit: 'stretch' });
      expect(maxDiff(got, areaReference(img, H, W, C))).toBeLessThanOrEqual(0.5 + 1e-3);
    });
  }
  it("'crop' keeps the centred box with the target's aspect ratio: 64x48 -> 5x5 reads the middle 48x48", () => {
    expect(cropBox(64, 48, 5, 5)).toEqual({ x: 8, y: 0, w: 48, h: 48 });
    expect(cropBox(48, 64, 4, 2)).toEqual({ x: 0, y: 20, w: 48, h: 24 });
    expect(cropBox(3, 1000, 1, 1)).toEqual({ x: 0, y: 498, w: 3, h: 3 });
    const img = randomImage(64, 48, 3);
    const got = fitPixels(img, { height: 5, width: 5, channels: 3, fit: 'crop' });
    expect(maxDiff(got, areaReference(img, 5, 5, 3, cropBox(64, 48, 5, 5)))).toBeLessThanOrEqual(0.5 + 1e-3);
  });
  it('enlarging 5x3 -> 11x7 matches TF.js resizeBilinear with half-pixel centres (within rounding)', () => {
    const img = randomImage(5, 3, 4);
    const got = fitPixels(img, { height: 7, width: 11, channels: 3, fit: 'stretch' });
    const rgb = Array.from({ length: 15 * 3 }, (_, i) => img.data[Math.floor(i / 3) * 4 + (i % 3)]);
    const want = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(rgb, [3, 5, 3]), [7, 11], false, true).dataSync());
    expect(maxDiff(got, want)).toBeLessThanOrEqual(0.5 + 1e-3);
  });
  it('alpha is composited over white: transparent -> 255, half-transparent black -> 127 or 128', () => {
    const img: RgbaImage = { width: 2, height: 1, data: Uint8Array.from([10, 20, 30, 0, 0, 0, 0, 128]) };
    expect(Array.from(fitPixels(img, { height: 1, width: 2, channels: 3 }))).toEqual([255, 255, 255, 127, 127, 127]);
    expect(Array.from(fitPixels(img, { height: 1, width: 2, channels: 1 }))).toEqual([255, 127]);
  });
  it('writes into a given array at an offset and nowhere else', () => {
    const out = new Uint8Array(20).fill(7);
    fitPixels(randomImage(4, 4, 5), { height: 2, width: 2, channels: 3 }, out, 5);
    expect(Array.from(out.subarray(0, 5))).toEqual([7, 7, 7, 7, 7]);
    expect(Array.from(out.subarray(17))).toEqual([7, 7, 7]);
  });
});

function gif(w: number, h: number): Uint8Array {
  return Uint8Array.from([...'GIF89a'].map((c) => c.charCodeAt(0)).concat([w & 255, w >> 8, h & 255, h >> 8, 0, 0, 0]));
}
function webp(chunk: string, body: number[]): Uint8Array {
  const b = new Uint8Array(40);
  b.set(
    [...'RIFF'].map((c) => c.charCodeAt(0)),
    0,
  );
  b.set(
    [...'WEBP'].map((c) => c.charCodeAt(0)),
    8,
  );
  b.set(
    [...chunk].map((c) => c.charCodeAt(0)),
    12,
  );
  b.set(body, 20);
  return b;
}
/** A JPEG header with `before` bytes of APP1 metadata ahead of its frame header (SOF0) of n components. */
function jpegHeader(w: number, h: number, comps: number, before = 0): Uint8Array {
  const app = before ? [0xff, 0xe1, (before + 2) >> 8, (before + 2) & 255, ...new Array(before).fill(0)] : [];
  return Uint8Array.from([
    0xff,
    0xd8,
    ...app,
    0xff,
    0xc0,
    0,
    8 + 3 * comps,
    8,
    h >> 8,
    h & 255,
    w >> 8,
    w & 255,
    comps,
    ...new Array(3 * comps).fill(1),
    0xff,
    0xda,
  ]);
}

describe('imageInfo: format, size and colour from the header alone', () => {
  it('PNG (grey and RGBA from pngjs), JPEG (jpeg-js, and hand-made grey/RGB headers), WebP (VP8, VP8L, VP8X), GIF', () => {
    const grey = new PNG({ width: 13, height: 7, colorType: 0 });
    grey.data.fill(200);
    expect(imageInfo(PNG.sync.write(grey, { colorType: 0 }), 'g.png')).toEqual({ format: 'png', width: 13, height: 7, grey: true });
    const rgba = new PNG({ width: 3, height: 11 });
    expect(imageInfo(PNG.sync.write(rgba), 'c.png')).toEqual({ format: 'png', width: 3, height: 11, grey: false });
    const enc = jpeg.encode({ width: 17, height: 9, data: Buffer.alloc(17 * 9 * 4, 128) }, 90).data;
    expect(imageInfo(enc, 'a.jpg')).toEqual({ format: 'jpeg', width: 17, height: 9, grey: false });
    expect(imageInfo(jpegHeader(640, 480, 1, 5000), 'b.jpg')).toEqual({ format: 'jpeg', width: 640, height: 480, grey: true });
    expect(imageInfo(jpegHeader(30000, 20000, 3), 'big.jpg')).toMatchObject({ width: 30000, height: 20000 });
    expect(imageInfo(webp('VP8X', [0, 0, 0, 0, 99, 1, 0, 49, 0, 0]), 'x.webp')).toMatchObject({ format: 'webp', width: 356, height: 50 });
    const bits = (300 - 1) | ((200 - 1) << 14);
    expect(imageInfo(webp('VP8L', [0x2f, bits & 255, (bits >> 8) & 255, (bits >> 16) & 255, bits >>> 24]), 'l.webp')).toMatchObject({
      width: 300,
      height: 200,
    });
    expect(imageInfo(webp('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 64, 0, 32, 0]), 'v.webp')).toMatchObject({ width: 64, height: 32 });
    expect(imageInfo(gif(320, 240), 'a.gif')).toEqual({ format: 'gif', width: 320, height: 240, grey: false });
  });
  const bad: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /not a picture this library reads .* it starts empty/],
    ['text', new TextEncoder().encode('hello'), /not a picture .* it starts 68 65 6c 6c/],
    ['a JPEG cut before its frame header', jpegHeader(8, 8, 3, 100).subarray(0, 60), /corrupt or truncated JPEG/],
    ['a JPEG with a broken segment', Uint8Array.from([0xff, 0xd8, 0x12, 0x34, 0, 0]), /corrupt JPEG \(no segment marker at byte 2\)/],
    ['a JPEG of width 0', jpegHeader(0, 8, 3), /JPEG header says 0x8 pixels/],
    [
      'a PNG without IHDR',
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 68, 65, 84, 0, 0, 0, 1, 0, 0, 0, 1]),
      /must start with its IHDR chunk/,
    ],
    ['a WebP of an unknown chunk', webp('ABCD', []), /corrupt WebP header/],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`${what} is a DataError naming the file`, () => {
      expect(() => imageInfo(bytes, 'pic')).toThrow(DataError);
      expect(() => imageInfo(bytes, 'pic')).toThrow(msg);
      expect(() => imageInfo(bytes, 'pic')).toThrow(/^pic: /);
    });
  }
});

describe('LabeledImages', () => {
  const pixels = Uint8Array.from({ length: 5 * 2 * 3 * 1 }, (_, i) => i * 8);
  const set = new LabeledImages(pixels, [5, 2, 3, 1], [0, 1, 2, 1, 0], ['a', 'b', 'c']);
  it('5 pictures [2,3,1]: toTensors maps bytes through the range exactly; labels int32', () => {
    const { xs, ys } = set.toTensors([-1, 1]);
    expect(xs.shape).toEqual([5, 2, 3, 1]);
    expect(xs.data[0]).toBe(-1);
    expect(xs.data[7]).toBeCloseTo(-1 + (2 * 56) / 255, 6);
    expect(Array.from(ys)).toEqual([0, 1, 2, 1, 0]);
    expect(set.numClasses).toBe(3);
    expect(set.imageShape).toEqual([2, 3, 1]);
    expect(pixelTable([0, 1])[255]).toBe(1);
  });
  it('split(0.4) takes the LAST 40% for validation, as fit does; slices share the bytes', () => {
    const [tr, va] = set.split(0.4);
    expect([tr.count, va.count]).toEqual([3, 2]);
    expect(Array.from(va.labels)).toEqual([1, 0]);
    expect(va.pixels[0]).toBe(pixels[18]);
    expect(va.pixels.buffer).toBe(pixels.buffer);
    expect(() => set.split(1)).toThrow(ValueError);
  });
  it('dataset(batch 2, shuffled, seeded) converts per batch; every picture once per pass with its own label', async () => {
    const seen: number[] = [];
    for await (const b of set.dataset({ batchSize: 2, shuffle: true, seed: 1 })) {
      expect(b.xs.shape[0]).toBeLessThanOrEqual(2);
      (b.ys as Int32Array).forEach((l, r) => {
        const first = Math.round(b.xs.data[r * 6] * 255) / 8; // picture index
        seen.push(first / 6);
        expect(l).toBe([0, 1, 2, 1, 0][first / 6]);
      });
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
  });
  it('fromList builds from per-picture bytes; wrong sizes and labels are DataErrors', () => {
    const s = LabeledImages.fromList([new Uint8Array(6), new Uint8Array(6).fill(9)], [1, 0], [2, 3, 1]);
    expect(s.shape).toEqual([2, 2, 3, 1]);
    expect(s.pixels[6]).toBe(9);
    expect(() => LabeledImages.fromList([new Uint8Array(5)], [0], [2, 3, 1])).toThrow(/picture 0 has 5 bytes, expected 2x3x1 = 6/);
    expect(() => new LabeledImages(new Uint8Array(6), [1, 2, 3, 1], [-1])).toThrow(DataError);
    expect(() => new LabeledImages(new Uint8Array(6), [1, 2, 3, 1], [0, 1])).toThrow(/1 pictures but 2 labels/);
  });
});
