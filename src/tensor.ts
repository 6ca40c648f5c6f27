import { ShapeError } from './errors.js';

/** A dense float32 array with a shape; row-major (NHWC for images). */
export class Tensor {
  readonly shape: number[];
  readonly data: Float32Array;
  constructor(data: Float32Array, shape: number[]) {
    this.shape = shape.slice();
    this.data = data;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.data.length;
  }
  /** Index of the largest value along the last axis, for each row. */
  argMax(): Int32Array {
    const c = this.shape[this.shape.length - 1];
    const n = this.data.length / c;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (this.data[i * c + j] > this.data[i * c + best]) best = j;
      out[i] = best;
    }
    return out;
  }
  /** Rows [start, end) along the first axis, sharing memory. */
  slice(start: number, end: number): Tensor {
    const row = this.data.length / this.shape[0];
    return new Tensor(this.data.subarray(start * row, end * row), [end - start, ...this.shape.slice(1)]);
  }
  toString(): string {
    return `Tensor[${this.shape.join(',')}]`;
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(',')}]`;
}

/** Makes a Tensor, copying plain arrays to float32; the shape must account for every value. */
export function tensor(data: Float32Array | ArrayLike<number>, shape?: number[]): Tensor {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  const s = shape ?? [arr.length];
  for (const d of s) {
    if (!Number.isInteger(d) || d < 0)
      throw new ShapeError(`tensor: shape ${formatShape(s)} has a dimension that is not a non-negative integer`);
  }
  if (shapeSize(s) !== arr.length) {
    throw new ShapeError(`tensor: shape ${formatShape(s)} needs ${shapeSize(s)} values, received ${arr.length}`);
  }
  return new Tensor(arr, s);
}
