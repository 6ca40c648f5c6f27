// PNG and JPEG files to RGBA pixels in Node, with pure-JS decoders that are optional peer dependencies
// (pngjs, jpeg-js): a missing one is a one-line "npm install X". The header is read and its size checked
// against the limit before the decoder sees the file; a file the decoder rejects is a DataError naming it.
// WebP and GIF are recognised but not decoded here (no small, well-kept pure-JS WebP decoder exists);
// browsers decode them (src/data/browser.ts).
import { DataError, StateError } from '../errors.js';
import { checkImageSize, DEFAULT_IMAGE_LIMIT, type ImageLimit, imageInfo } from '../image.js';
import type { RgbaImage } from './pixels.js';

type Pngjs = typeof import('pngjs');
type JpegJs = typeof import('jpeg-js');
const cache: { pngjs?: Pngjs; jpeg?: JpegJs } = {};

/** An optional peer dependency, or a StateError saying in one line what to install. */
export async function optional<T>(pkg: string, what: string): Promise<T> {
  try {
    const m = (await import(pkg)) as T & { default?: T };
    return (m.default ?? m) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    throw new StateError(`reading ${what} files needs the ${pkg} package, which is not installed: npm install ${pkg}`);
  }
}

/**
 * Decodes a PNG or JPEG file. `flag` tells the user how to raise the limit in size errors (e.g.
 * '--max-image-size' or 'maxImageSize').
 */
export async function decodeImage(bytes: Uint8Array, file: string, limit: ImageLimit = DEFAULT_IMAGE_LIMIT, flag = 'maxImageSize'): Promise<RgbaImage> {
  const info = imageInfo(bytes, file);
  checkImageSize(info, limit, file, flag);
  if (info.format === 'png') {
    const { PNG } = (cache.pngjs ??= await optional<Pngjs>('pngjs', 'PNG'));
    let png;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new DataError(`${file}: corrupt PNG (${(e as Error).message})`);
    }
    return { width: png.width, height: png.height, data: png.data };
  }
  if (info.format === 'jpeg') {
    const jpeg = (cache.jpeg ??= await optional<JpegJs>('jpeg-js', 'JPEG'));
    try {
      const img = jpeg.decode(bytes, {
        useTArray: true, formatAsRGBA: true, tolerantDecoding: false,
        maxResolutionInMP: (info.width * info.height) / 1e6 + 1, maxMemoryUsageInMB: Math.max(512, (info.width * info.height * 8) / 2 ** 20),
      });
      if (img.width !== info.width || img.height !== info.height) throw new Error(`decoded ${img.width}x${img.height}, the header says ${info.width}x${info.height}`);
      return img;
    } catch (e) {
      throw new DataError(`${file}: corrupt JPEG (${(e as Error).message})`);
    }
  }
  throw new DataError(`${file}: ${info.format === 'webp' ? 'WebP' : 'GIF'} files are not decoded in Node (no small pure-JS decoder); convert them to PNG or JPEG, or load them in a browser`);
}
