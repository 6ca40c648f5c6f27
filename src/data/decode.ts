// PNG and JPEG files to RGBA pixels in Node, with pure-JS decoders that are optional peer dependencies
// (pngjs, jpeg-js): a missing one is a one-line "npm install X". The header is read and its size checked
// against the limit before the decoder sees the file; a file the decoder rejects is a DataError naming it.
// WebP and GIF are recognised but not decoded here (no small, well-kept pure-JS WebP decoder exists);
// browsers decode them (src/data/browser.ts). A JPEG's EXIF orientation is applied, as browsers do, so a
// phone photo comes out upright in both.
import { DataError, StateError } from '../errors.js';
import { checkImageSize, DEFAULT_IMAGE_LIMIT, type ImageLimit, imageInfo } from '../image.js';
import type { RgbaImage } from './pixels.js';

type Pngjs = typeof import('pngjs');
type JpegJs = typeof import('jpeg-js');
const cache: { pngjs?: Pngjs; jpeg?: JpegJs } = {};

/** An optional peer dependency, or a StateError saying in one line what to install (`who` needs it). */
export async function optional<T>(pkg: string, who: string): Promise<T> {
  try {
    const m = (await import(pkg)) as T & { default?: T };
    return (m.default ?? m) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    throw new StateError(`${who} needs the ${pkg} package, which is not installed: npm install ${pkg}`);
  }
}

/**
 * Decodes a PNG or JPEG file. `flag` tells the user how to raise the limit in size errors (e.g.
 * '--max-image-size' or 'maxImageSize').
 */
export async function decodeImage(
  bytes: Uint8Array,
  file: string,
  limit: ImageLimit = DEFAULT_IMAGE_LIMIT,
  flag = 'maxImageSize',
): Promise<RgbaImage> {
  const info = imageInfo(bytes, file);
  checkImageSize(info, limit, file, flag);
  if (info.format === 'png') {
    const { PNG } = (cache.pngjs ??= await optional<Pngjs>('pngjs', 'reading PNG files'));
    let png;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new DataError(`${file}: corrupt PNG (${(e as Error).message})`);
    }
    return { width: png.width, height: png.height, data: png.data };
  }
  if (info.format === 'jpeg') {
    const jpeg = (cache.jpeg ??= await optional<JpegJs>('jpeg-js', 'reading JPEG files'));
    try {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: false,
        maxResolutionInMP: (info.width * info.height) / 1e6 + 1,
        maxMemoryUsageInMB: Math.max(512, (info.width * info.height * 8) / 2 ** 20),
      });
      if (img.width !== info.width || img.height !== info.height)
        throw new Error(`decoded ${img.width}x${img.height}, the header says ${info.width}x${info.height}`);
      return orient(img, jpegOrientation(bytes));
    } catch (e) {
      throw new DataError(`${file}: corrupt JPEG (${(e as Error).message})`);
    }
  }
  throw new DataError(
    `${file}: ${info.format === 'webp' ? 'WebP' : 'GIF'} files are not decoded in Node (no small pure-JS decoder); convert them to PNG or JPEG, or load them in a browser`,
  );
}

/** The EXIF orientation (1..8) of a JPEG: APP1 "Exif" segment, TIFF header, tag 0x0112 of IFD0; 1 when absent or unreadable. */
export function jpegOrientation(b: Uint8Array): number {
  let o = 2;
  while (o + 4 <= b.length && b[o] === 0xff) {
    const m = b[o + 1],
      len = (b[o + 2] << 8) | b[o + 3];
    if (m === 0xda || m === 0xd9) break;
    if (m === 0xe1 && len >= 16 && String.fromCharCode(...b.subarray(o + 4, o + 8)) === 'Exif') {
      const t = o + 10,
        end = Math.min(b.length, o + 2 + len);
      const le = b[t] === 0x49;
      const u16 = (p: number) => (p + 2 <= end ? (le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1]) : -1);
      const u32 = (p: number) => (p + 4 <= end ? (le ? (u16(p) | (u16(p + 2) << 16)) >>> 0 : ((u16(p) << 16) | u16(p + 2)) >>> 0) : -1);
      const ifd = t + u32(t + 4);
      const n = u16(ifd);
      for (let k = 0; k < n; k++) {
        const e = ifd + 2 + 12 * k;
        if (u16(e) === 0x0112) {
          const v = u16(e + 8);
          return v >= 1 && v <= 8 ? v : 1;
        }
      }
      return 1;
    }
    o += 2 + len;
  }
  return 1;
}

/** The picture turned as EXIF orientation `o` says (2-8: mirrored and/or rotated; 5-8 swap width and height). */
export function orient(img: RgbaImage, o: number): RgbaImage {
  if (o <= 1 || o > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = o >= 5,
    W = swap ? h : w,
    H = swap ? w : h;
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Source pixel shown at (x, y) of the upright picture.
      const sx = o === 2 || o === 3 ? w - 1 - x : o === 4 ? x : o === 5 || o === 6 ? y : w - 1 - y;
      const sy = o === 2 ? y : o === 3 || o === 4 ? h - 1 - y : o === 5 || o === 8 ? x : h - 1 - x;
      const s = (sy * w + sx) * 4,
        d = (y * W + x) * 4;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
      out[d + 3] = data[s + 3];
    }
  }
  return { width: W, height: H, data: out };
}
