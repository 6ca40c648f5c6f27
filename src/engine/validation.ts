// Checks of what users hand a model: x, labels or targets, batch sizes. Each error names the model or the
// layer and says what was expected and what was received.
import { ShapeError, ValueError } from '../errors.js';
import { formatShape, shapeSize, Tensor } from '../tensor.js';
import type { Loss } from './losses.js';

/** Class indices (sparse loss) or a one-hot / probability Tensor [N, classes] (categorical loss). */
export type Labels = Int32Array | Uint8Array | Uint16Array | number[] | Tensor;

export interface IOShapes {
  model: string;
  /** The layer x goes into, for messages. */
  inputLayer: string;
  input: number[];
  output: number[];
}

/** A tensor as a call first saw it: its sample count and row size stay fixed while the call runs. */
export interface Source {
  x: Tensor;
  N: number;
  row: number;
  what: string;
}

/** Validates x against the model's input; the returned source fixes its sample count for the whole call. */
export function checkX(x: Tensor, s: IOShapes, what: string): Source {
  if (!(x instanceof Tensor))
    throw new ValueError(`${s.model}.${what}: x must be a Tensor (use tensor(data, shape)), received ${x === null ? 'null' : typeof x}`);
  const shape = x.shape.slice(),
    want = s.input;
  if (shape.length !== want.length + 1 || want.some((d, i) => shape[i + 1] !== d)) {
    throw new ShapeError(`${s.inputLayer}: expected input shape ${formatShape([null, ...want])}, received ${formatShape(shape)}`);
  }
  if (!(Number.isInteger(shape[0]) && shape[0] >= 1))
    throw new ShapeError(`${s.model}.${what}: x has no samples (shape ${formatShape(shape)})`);
  const src: Source = { x, N: shape[0], row: shapeSize(want), what };
  dataOf(src, s);
  return src;
}

/** x.data as it is now, checked against the size the call started with (a callback may have replaced it). */
export function dataOf(src: Source, s: IOShapes): Float32Array {
  const d = src.x.data;
  if (!(d instanceof Float32Array))
    throw new ValueError(`${s.model}.${src.what}: x.data must be a Float32Array, received ${Object.prototype.toString.call(d)}`);
  const want = src.N * src.row;
  if (d.length !== want)
    throw new ShapeError(
      `${s.model}.${src.what}: x has shape ${formatShape([src.N, ...s.input])} (${want} values) but its data holds ${d.length}`,
    );
  return d;
}

/**
 * Validates labels against x and the loss (without a loss, a Tensor means probabilities); returns int32
 * class indices or the target tensor.
 */
export function checkY(y: Labels, n: number, s: IOShapes, loss: Loss | undefined, what: string): Int32Array | Tensor {
  const out = s.output,
    C = out[out.length - 1];
  if (loss?.targets === 'values') return checkValues(y, n, s, loss, what);
  if (out.length !== 1)
    throw new ShapeError(
      `${s.model}.${what}: crossentropy needs model output [null, classes], the model gives ${formatShape([null, ...out])}; add Flatten() before the final Dense`,
    );
  if (loss ? loss.targets === 'probabilities' : y instanceof Tensor) {
    if (!(y instanceof Tensor))
      throw new ValueError(
        `${s.model}.${what}: loss '${loss!.name}' expects one-hot targets as a Tensor [${n}, ${C}]; for class indices use 'sparseCategoricalCrossentropy'`,
      );
    if (y.shape.length !== 2 || y.shape[0] !== n || y.shape[1] !== C)
      throw new ShapeError(`${s.model}.${what}: expected targets of shape [${n},${C}], received ${formatShape(y.shape)}`);
    for (let i = 0; i < y.data.length; i++) {
      const v = y.data[i];
      if (!(v >= 0 && v <= 1))
        throw new ValueError(`${s.model}.${what}: target [${Math.floor(i / C)}, ${i % C}] is ${v}; expected probabilities in [0, 1]`);
    }
    return y;
  }
  if (y instanceof Tensor)
    throw new ValueError(
      `${s.model}.${what}: loss 'sparseCategoricalCrossentropy' expects class indices (Int32Array, Uint8Array or number[]), received a Tensor ${formatShape(y.shape)}; use 'categoricalCrossentropy' for one-hot targets`,
    );
  if (!(y instanceof Int32Array || y instanceof Uint8Array || y instanceof Uint16Array || Array.isArray(y))) {
    throw new ValueError(
      `${s.model}.${what}: labels must be an Int32Array, Uint8Array, Uint16Array or number[], received ${Object.prototype.toString.call(y)}`,
    );
  }
  if (y.length !== n) throw new ShapeError(`${s.model}.${what}: expected ${n} labels (one per sample of x), received ${y.length}`);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0 || v >= C)
      throw new ValueError(`${s.model}.${what}: label ${i} is ${v}; expected an integer class index in [0, ${C - 1}]`);
  }
  return Int32Array.from(y);
}

/** Targets shaped like the output ([n, ...output]): finite, and in [0, 1] for binary crossentropy. */
function checkValues(y: Labels, n: number, s: IOShapes, loss: Loss, what: string): Tensor {
  const want = [n, ...s.output];
  if (!(y instanceof Tensor))
    throw new ValueError(
      `${s.model}.${what}: loss '${loss.name}' expects targets as a Tensor ${formatShape(want)}, received ${Object.prototype.toString.call(y)}`,
    );
  if (formatShape(y.shape) !== formatShape(want))
    throw new ShapeError(
      `${s.model}.${what}: expected targets of shape ${formatShape(want)} (the model's output), received ${formatShape(y.shape)}`,
    );
  const row = shapeSize(s.output);
  for (let i = 0; i < y.data.length; i++) {
    const v = y.data[i];
    if (loss.probabilityTargets ? !(v >= 0 && v <= 1) : !Number.isFinite(v))
      throw new ValueError(
        `${s.model}.${what}: target ${Math.floor(i / row)} holds ${v} at offset ${i % row}; expected ${loss.probabilityTargets ? 'values in [0, 1]' : 'finite numbers'}`,
      );
  }
  return y;
}

export function positiveInt(v: unknown, what: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ValueError(`${where}: ${what} must be a positive integer, received ${JSON.stringify(v)}`);
  return v;
}

/**
 * Every weight array copied, then checked: the right length (and shape, for Tensors), finite. What is checked
 * is exactly what gets written, whatever getters the arrays have.
 */
export function checkWeightArrays(weights: unknown, specs: { name: string; shape: number[] }[], where: string): Float32Array[] {
  if (!Array.isArray(weights) || weights.length !== specs.length) {
    throw new ValueError(
      `${where}: expected ${specs.length} arrays (${specs.map((s) => s.name).join(', ')}), received ${Array.isArray(weights) ? weights.length : typeof weights}`,
    );
  }
  return weights.map((w: Float32Array | Tensor | ArrayLike<number>, i) => {
    const raw = w instanceof Tensor ? w.data : w;
    const want = shapeSize(specs[i].shape);
    const d = raw && typeof raw === 'object' && typeof raw.length === 'number' ? Float32Array.from(raw) : undefined;
    if (!d || d.length !== want)
      throw new ShapeError(
        `${where}: ${specs[i].name} expects ${want} values ${formatShape(specs[i].shape)}, received ${d ? d.length : String(raw)}`,
      );
    if (w instanceof Tensor && formatShape(w.shape) !== formatShape(specs[i].shape))
      throw new ShapeError(`${where}: ${specs[i].name} expects shape ${formatShape(specs[i].shape)}, received ${formatShape(w.shape)}`);
    for (let j = 0; j < d.length; j++)
      if (!Number.isFinite(d[j])) throw new ValueError(`${where}: ${specs[i].name}[${j}] is ${d[j]}; expected finite numbers`);
    return d;
  });
}
