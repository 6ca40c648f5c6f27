// Picture files: the size in the header is read and checked before a pixel is decoded, so a 69-byte file
// that claims 30000x30000 costs nothing. PNG, JPEG, WebP and GIF headers are read (decoders: src/data/
// decode.ts in Node, the browser's own in src/data/browser.ts). Browser-safe.
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

/**
 * Largest picture file worth reading for an image within the limit: a PNG of 16-bit RGBA stored
 * uncompressed, plus chunk overhead (more than any sane JPEG of that size, metadata included).
 */
export function maxImageFileBytes(limit: ImageLimit): number {
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

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';
export interface ImageInfo extends ImageLimit {
  format: ImageFormat;
  /** The file stores one channel (grey PNG or JPEG), so a model needs no colour for it. */
  grey: boolean;
}

/** Format, size and colour of a picture from its first bytes; DataError for anything unreadable or unknown. */
export function imageInfo(bytes: Uint8Array, file: string): ImageInfo {
  const b = bytes;
  if (b[0] === 0x89 && b[1] === 0x50) {
    const size = pngSize(b, file);
    return { format: 'png', ...size, grey: b[25] === 0 || b[25] === 4 };
  }
  if (b[0] === 0xff && b[1] === 0xd8) return jpegInfo(b, file);
  const tag = (o: number) => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);
  if (b.length >= 30 && tag(0) === 'RIFF' && tag(8) === 'WEBP') return webpInfo(b, file);
  if (b.length >= 10 && tag(0) === 'GIF8')
    return checked({ format: 'gif', width: b[6] | (b[7] << 8), height: b[8] | (b[9] << 8), grey: false }, file);
  throw new DataError(
    `${file}: not a picture this library reads (expected a PNG, JPEG, WebP or GIF file; it starts ${Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ') || 'empty'})`,
  );
}

function checked(info: ImageInfo, file: string): ImageInfo {
  if (!(info.width > 0 && info.height > 0))
    throw new DataError(
      `${file}: the ${info.format.toUpperCase()} header says ${info.width}x${info.height} pixels; a picture needs a width and a height of at least 1`,
    );
  return info;
}

/** Walks the JPEG segments to the frame header (SOFn), which holds the size and the number of components. */
function jpegInfo(b: Uint8Array, file: string): ImageInfo {
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) throw new DataError(`${file}: corrupt JPEG (no segment marker at byte ${o})`);
    const m = b[o + 1];
    if (m === 0xff) {
      o++;
      continue;
    } // fill byte
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      o += 2;
      continue;
    } // no length
    if (m === 0xd9 || m === 0xda) break; // end of image, or scan data before any frame header
    const len = (b[o + 2] << 8) | b[o + 3];
    if (len < 2) throw new DataError(`${file}: corrupt JPEG (segment ${m.toString(16)} of length ${len})`);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (o + 10 > b.length) break;
      const comps = b[o + 9];
      return checked({ format: 'jpeg', height: (b[o + 5] << 8) | b[o + 6], width: (b[o + 7] << 8) | b[o + 8], grey: comps === 1 }, file);
    }
    o += 2 + len;
  }
  throw new DataError(`${file}: corrupt or truncated JPEG (no frame header with the picture's size in its first ${b.length} bytes)`);
}

function webpInfo(b: Uint8Array, file: string): ImageInfo {
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  const le = (o: number, n: number) => {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[o + i];
    return v;
  };
  if (chunk === 'VP8X') return checked({ format: 'webp', width: le(24, 3) + 1, height: le(27, 3) + 1, grey: false }, file);
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = le(21, 4);
    return checked({ format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, grey: false }, file);
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return checked({ format: 'webp', width: le(26, 2) & 0x3fff, height: le(28, 2) & 0x3fff, grey: false }, file);
  }
  throw new DataError(`${file}: corrupt WebP header (chunk '${chunk}')`);
}

/** DataError unless width x height fits the limit; `flag` is how the user raises it. */
export function checkImageSize(size: ImageLimit, limit: ImageLimit, what: string, flag: string): void {
  if (size.width > limit.width || size.height > limit.height) {
    throw new DataError(
      `${what} is ${size.width}x${size.height} pixels, more than the ${limit.width}x${limit.height} allowed; raise the limit with ${flag} if that is intended`,
    );
  }
}
