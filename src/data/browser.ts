// Pictures in the browser as model inputs: <img>, <canvas>, OffscreenCanvas, ImageBitmap, ImageData,
// VideoFrame and <video> (a webcam frame), or a File/Blob decoded by the browser (PNG, JPEG, WebP, GIF),
// fitted by the same pipeline as in Node (src/data/pixels.ts). Sizes are checked before anything is
// drawn or decoded (a Blob's header is read first). Works in pages and workers (OffscreenCanvas).
import { DataError, ValueError } from '../errors.js';
import { checkImageSize, DEFAULT_IMAGE_LIMIT, type ImageLimit, imageInfo } from '../image.js';
import { Tensor } from '../tensor.js';
import { bytesToFloats, type PixelRange, pixelTable } from './labeled-images.js';
import { cropBox, type Fit, fitPixels, pixelShape } from './pixels.js';

/** Anything a 2D canvas can draw, or ImageData. */
export type Picture = CanvasImageSource | ImageData;

export interface PictureOptions {
  /** The model's input, [height, width, channels] with 1 or 3 channels. */
  inputShape: readonly number[];
  /** 'crop' (default): the centred box with the input's aspect ratio; 'stretch': the whole picture. */
  fit?: Fit;
  /** Pixel range of the floats (default [0, 1]). */
  range?: PixelRange;
  /** Largest picture accepted (default 4096x4096). */
  maxImageSize?: ImageLimit;
}

/** Width and height of a picture as drawn (natural size of <img>, frame size of <video>). */
function sizeOf(src: Picture): { width: number; height: number; what: string } {
  const s = src as unknown as Record<string, number>;
  if ('naturalWidth' in s) return { width: s.naturalWidth, height: s.naturalHeight, what: '<img>' };
  if ('videoWidth' in s) return { width: s.videoWidth, height: s.videoHeight, what: '<video>' };
  if ('displayWidth' in s) return { width: s.displayWidth, height: s.displayHeight, what: 'VideoFrame' };
  if (typeof s.width === 'number' && typeof s.height === 'number')
    return { width: s.width, height: s.height, what: src.constructor?.name ?? 'picture' };
  throw new ValueError(
    `expected an <img>, <canvas>, <video>, ImageBitmap, ImageData, OffscreenCanvas or VideoFrame, received ${src === null ? 'null' : typeof src}`,
  );
}

function newCanvas(width: number, height: number): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

/** A picture fitted to the input, as bytes [height, width, channels] (0..255). */
export function imagePixels(src: Picture, opts: PictureOptions, out?: Uint8Array, offset = 0): Uint8Array {
  const shape = pixelShape(opts.inputShape, opts.fit ?? 'crop', 'imagePixels');
  const { width, height, what } = sizeOf(src);
  if (!(width > 0 && height > 0)) {
    throw new DataError(
      `${what} has no pixels yet (${width}x${height})${what === '<video>' ? '; wait for its loadeddata event (readyState >= 2) before taking a frame' : what === '<img>' ? '; wait until it has loaded' : ''}`,
    );
  }
  checkImageSize({ width, height }, opts.maxImageSize ?? DEFAULT_IMAGE_LIMIT, what, 'maxImageSize');
  if (typeof ImageData !== 'undefined' && src instanceof ImageData) return fitPixels(src, shape, out, offset);
  // Only the box the fit keeps is drawn, at the picture's own resolution; the resampling is ours.
  const box = shape.fit === 'crop' ? cropBox(width, height, shape.width, shape.height) : { x: 0, y: 0, w: width, h: height };
  const canvas = newCanvas(box.w, box.h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new DataError('this browser gave no 2D canvas context to read pixels with');
  let data: ImageData;
  try {
    ctx.drawImage(src as CanvasImageSource, box.x, box.y, box.w, box.h, 0, 0, box.w, box.h);
    data = ctx.getImageData(0, 0, box.w, box.h);
  } catch (e) {
    const why =
      (e as Error).name === 'SecurityError'
        ? 'it comes from another origin without CORS (set crossOrigin="anonymous" and serve it with Access-Control-Allow-Origin)'
        : (e as Error).message;
    throw new DataError(`cannot read the pixels of this ${what}: ${why}`);
  }
  return fitPixels(data, { ...shape, fit: 'stretch' }, out, offset);
}

/** Pictures as one input batch [n, height, width, channels] of floats in `range`. */
export function imageToTensor(src: Picture | Picture[], opts: PictureOptions): Tensor {
  const list = Array.isArray(src) ? src : [src];
  if (list.length === 0) throw new ValueError('imageToTensor: no pictures given');
  const [h, w, c] = opts.inputShape,
    row = h * w * c;
  const bytes = new Uint8Array(list.length * row);
  list.forEach((p, i) => imagePixels(p, opts, bytes, i * row));
  return new Tensor(bytesToFloats(bytes, pixelTable(opts.range, 'imageToTensor')), [list.length, h, w, c]);
}

/** The current frame of a <video> (e.g. a webcam stream from getUserMedia) as a batch of one. */
export function captureFrame(video: HTMLVideoElement, opts: PictureOptions): Tensor {
  return imageToTensor(video, opts);
}

const HEADER_BYTES = 2 ** 16;

/** Decodes a File or Blob (PNG, JPEG, WebP, GIF) after checking its header's size against the limit. */
export async function decodeBlob(blob: Blob, opts: { maxImageSize?: ImageLimit } = {}): Promise<ImageBitmap> {
  const name = (blob as File).name || 'Blob';
  if (!(blob instanceof Blob))
    throw new ValueError(`decodeBlob: expected a File or Blob, received ${blob === null ? 'null' : typeof blob}`);
  let head = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
  let info;
  try {
    info = imageInfo(head, name);
  } catch (e) {
    if (blob.size <= HEADER_BYTES) throw e;
    head = new Uint8Array(await blob.arrayBuffer()); // a JPEG whose metadata comes before its frame header
    info = imageInfo(head, name);
  }
  checkImageSize(info, opts.maxImageSize ?? DEFAULT_IMAGE_LIMIT, name, 'maxImageSize');
  try {
    return await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new DataError(`${name}: the browser cannot decode this ${info.format.toUpperCase()} file (${(e as Error).message})`);
  }
}

/** Files or Blobs decoded and fitted, as one input batch. */
export async function blobToTensor(blobs: Blob | Blob[], opts: PictureOptions): Promise<Tensor> {
  const list = Array.isArray(blobs) ? blobs : [blobs];
  const bitmaps: ImageBitmap[] = [];
  try {
    for (const b of list) bitmaps.push(await decodeBlob(b, opts));
    return imageToTensor(bitmaps, opts);
  } finally {
    for (const b of bitmaps) b.close();
  }
}
