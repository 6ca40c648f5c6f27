// Generated pictures for the data tests: seeded RGBA pixels, PNG and JPEG files, IDX and CIFAR-10 binaries.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../src/data/pixels.js';
import { Rng } from '../src/random.js';

/** A seeded random RGBA picture; alpha 255 unless `alpha`. */
export function randomImage(width: number, height: number, seed: number, alpha = false): RgbaImage {
  const rng = new Rng(seed),
    data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 && !alpha ? 255 : rng.int(256);
  return { width, height, data };
}

/** RGBA pixels as PNG bytes (grey: colour type 0, from the red channel). */
export function encodePng(img: RgbaImage, grey = false): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data.set(img.data);
  return PNG.sync.write(png, grey ? { colorType: 0 } : {});
}

/** A seeded random opaque picture as PNG bytes (grey: every pixel R = G = B, stored as colour type 0). */
export function pngBytes(w: number, h: number, seed: number, grey = false): Buffer {
  const img = randomImage(w, h, seed);
  if (grey) for (let i = 0; i < w * h; i++) img.data.fill(img.data[i * 4], i * 4, i * 4 + 3);
  return encodePng(img, grey);
}

/** A JPEG of one colour. */
export function jpegBytes(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return jpeg.encode({ width: w, height: h, data }, 95).data;
}

/** A JPEG with an EXIF APP1 segment (big-endian TIFF) saying orientation `o` inserted after its SOI marker. */
export function withExifOrientation(jpg: Uint8Array, o: number): Buffer {
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0];
  const body = [...'Exif'].map((c) => c.charCodeAt(0)).concat([0, 0], tiff);
  return Buffer.concat([
    Buffer.from(jpg.subarray(0, 2)),
    Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body]),
    Buffer.from(jpg.subarray(2)),
  ]);
}

/** A JPEG w x h whose left half is black and right half white. */
export function halvesJpeg(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 4, 255);
  for (let y = 0; y < h; y++) for (let x = 0; x < w / 2; x++) data.fill(0, (y * w + x) * 4, (y * w + x) * 4 + 3);
  return jpeg.encode({ width: w, height: h, data }, 100).data;
}

/** An IDX file of unsigned bytes (type 0x08) with these dimensions. */
export function idxBytes(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 8, dims.length]);
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** n CIFAR-10 records, record k of class k % 10, its pixels around 25 * class with seeded noise (learnable). */
export function cifarRecords(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed),
    b = new Uint8Array(n * 3073);
  for (let k = 0; k < n; k++) {
    const label = k % 10;
    b[k * 3073] = label;
    for (let i = 1; i < 3073; i++) b[k * 3073 + i] = (label * 25 + rng.int(30)) & 255;
  }
  return b;
}
