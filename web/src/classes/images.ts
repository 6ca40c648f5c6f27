// Pictures into examples: uploaded files (decoded by the browser after their header is checked) and
// webcam frames, centre-cropped and scaled to the net's input as RGB bytes.
import { type DataError, decodeBlob, imagePixels, type Picture } from '../../../src/index.js';
import { INPUT_SHAPE } from './net.js';

/** Largest upload accepted, per side (the header is checked before anything is decoded). */
export const MAX_SIDE = 4096;
const OPTS = { inputShape: INPUT_SHAPE, fit: 'crop' as const, maxImageSize: { width: MAX_SIDE, height: MAX_SIDE } };

/** A picture (webcam <video>, <img>, canvas, bitmap) as the net's input bytes. */
export const pictureBytes = (p: Picture): Uint8Array => imagePixels(p, OPTS);

/** One message per problem, in words for the page. */
function uploadProblem(file: File, e: unknown): string {
  const m = (e as DataError)?.message ?? String(e);
  const size = /is (\d+)x(\d+) pixels, more than/.exec(m);
  if (size)
    return `“${file.name}” is ${size[1]}×${size[2]} pixels: pictures up to ${MAX_SIDE}×${MAX_SIDE} are accepted. Scale it down first.`;
  if (/not a picture/.test(m)) return `“${file.name}” is not an image (PNG, JPEG, WebP or GIF).`;
  return m.startsWith(file.name) ? `“${file.name}”${m.slice(file.name.length)}` : `“${file.name}”: ${m}`;
}

/** Files decoded into input bytes; the ones that are not usable pictures come back as messages. */
export async function filesToBytes(files: File[]): Promise<{ images: { name: string; bytes: Uint8Array }[]; problems: string[] }> {
  const images: { name: string; bytes: Uint8Array }[] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      const bitmap = await decodeBlob(f, OPTS);
      try {
        images.push({ name: f.name, bytes: imagePixels(bitmap, OPTS) });
      } finally {
        bitmap.close();
      }
    } catch (e) {
      problems.push(uploadProblem(f, e));
    }
  }
  return { images, problems };
}

/** Input bytes drawn into a canvas of the input's size (a thumbnail: exactly what the net sees). */
export function drawBytes(canvas: HTMLCanvasElement, bytes: Uint8Array): void {
  const [h, w] = INPUT_SHAPE;
  canvas.width = w;
  canvas.height = h;
  const img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    img.data[i * 4] = bytes[i * 3];
    img.data[i * 4 + 1] = bytes[i * 3 + 1];
    img.data[i * 4 + 2] = bytes[i * 3 + 2];
    img.data[i * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}
