// How a trained model wants its pictures, from what `simdcnn train` saved in its metadata: input shape,
// pixel range, crop or stretch, class names, and whether it learned light strokes on a dark ground (the
// MNIST family: dark-on-light pictures are then inverted). Models from elsewhere get MNIST-like defaults
// when they take one channel, else [0, 1] and a centre crop. Browser-safe.
import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { bytesToFloats, type PixelRange, pixelTable } from './labeled-images.js';
import { type Fit, FITS, fitPixels, invertPixels, meanPixel, type RgbaImage } from './pixels.js';

export interface InputInfo {
  inputShape: [number, number, 1 | 3];
  range: PixelRange;
  fit: Fit;
  lightOnDark: boolean;
  /** One name per output class ('0', '1', ... when the model has none saved). */
  classNames: string[];
}

interface ModelLike {
  readonly inputShape: number[];
  readonly outputShape: number[];
  metadata?: Record<string, unknown>;
}

export function inputInfo(model: ModelLike): InputInfo {
  const [h, w, c] = model.inputShape;
  if (model.inputShape.length !== 3 || (c !== 1 && c !== 3))
    throw new ShapeError(`the model takes input [${model.inputShape.join(',')}]; pictures need [height, width, 1 or 3]`);
  const m = model.metadata ?? {};
  const classes = model.outputShape[model.outputShape.length - 1];
  const names =
    Array.isArray(m.classNames) && m.classNames.length === classes && m.classNames.every((s) => typeof s === 'string')
      ? (m.classNames as string[])
      : undefined;
  const r = m.inputRange;
  return {
    inputShape: [h, w, c],
    range: Array.isArray(r) && r.length === 2 && r.every(Number.isFinite) ? (r as PixelRange) : [0, 1],
    fit: FITS.includes(m.fit as Fit) ? (m.fit as Fit) : names ? 'crop' : 'stretch',
    lightOnDark: typeof m.lightOnDark === 'boolean' ? m.lightOnDark : !names && c === 1,
    classNames: names ?? Array.from({ length: classes }, (_, i) => String(i)),
  };
}

/** A decoded picture as the model's input batch of one; `inverted` when it was read as dark on light. */
export function pictureToInput(img: RgbaImage, info: InputInfo): { x: Tensor; inverted: boolean } {
  const [height, width, channels] = info.inputShape;
  const bytes = fitPixels(img, { height, width, channels, fit: info.fit });
  const inverted = info.lightOnDark && meanPixel(bytes) > 127.5;
  if (inverted) invertPixels(bytes);
  return { x: new Tensor(bytesToFloats(bytes, pixelTable(info.range)), [1, height, width, channels]), inverted };
}
