// PNG files for the command line: the size in the header is read and checked before a pixel is decoded,
// so a 69-byte file that claims 30000x30000 costs nothing.
import { DataError, ValueError } from './errors.js';

export interface ImageLimit {
  width: number;
  height: number;
}
export const DEFAULT_IMAGE_LIMIT: ImageLimit = { width: 4096, height: 4096 };

/** '2048' (square) or '8192x4096' (width x height) -> a limit; undefined gives the default. */
export function parseImageLimit(s: string | undefined, flag: string): ImageLimit {
  if (s === undefined) return DEFAULT_IMAGE_LIMIT;
  const m = /^(\d+)(?:x(\d+))?$/.exec(s.trim());
  const width = m ? Number(m[1]) : NaN,
    height = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new ValueError(`${flag} must be N or WIDTHxHEIGHT in pixels (e.g. 8192 or 8192x4096), received '${s}'`);
  }
  return { width, height };
}

/** Largest PNG file an image within the limit can be: 16-bit RGBA stored uncompressed, plus chunk overhead. */
export function maxPngBytes(limit: ImageLimit): number {
  return limit.height * (limit.width * 8 + 1) * 1.01 + 2 ** 20;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from a PNG's IHDR chunk, which the format puts first; DataError for anything else. */
export function pngSize(bytes: Uint8Array, file: string): ImageLimit {
  if (bytes.length < 24 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new DataError(`${file}: not a PNG file (no PNG signature)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (chunk !== 'IHDR' || v.getUint32(8) !== 13) throw new DataError(`${file}: a PNG must start with its IHDR chunk, found '${chunk}'`);
  const width = v.getUint32(16),
    height = v.getUint32(20);
  if (width === 0 || height === 0)
    throw new DataError(`${file}: the PNG is ${width}x${height} pixels; an image needs a width and a height of at least 1`);
  return { width, height };
}

/** DataError unless width x height fits the limit; `flag` is how the user raises it. */
export function checkImageSize(size: ImageLimit, limit: ImageLimit, what: string, flag: string): void {
  if (size.width > limit.width || size.height > limit.height) {
    throw new DataError(
      `${what} is ${size.width}x${size.height} pixels, more than the ${limit.width}x${limit.height} allowed; raise the limit with ${flag} if that is intended`,
    );
  }
}
