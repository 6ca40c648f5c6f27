// The IDX format of the MNIST files (big-endian header: 0, 0, type, rank, then rank uint32 dimensions),
// parsed strictly: a truncated, padded or mislabelled file is an error that names the file. Browser-safe.
import { DataError } from './errors.js';
import { Tensor } from './tensor.js';

export interface Idx {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, name: string): Idx {
  if (bytes.length < 4) throw new DataError(`${name}: ${bytes.length} bytes is too short for an IDX header (at least 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`${name}: not an IDX file (magic number starts ${hex(bytes[0])} ${hex(bytes[1])}, expected 00 00)`);
  }
  if (bytes[2] !== 0x08) throw new DataError(`${name}: IDX data type ${hex(bytes[2])} is not supported (expected 08, unsigned bytes)`);
  const rank = bytes[3];
  if (rank < 1 || rank > 4) throw new DataError(`${name}: IDX rank ${rank} is not supported (expected 1 to 4)`);
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new DataError(`${name}: truncated header: expected at least ${header} bytes, received ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, d) => a * d, 1);
  if (bytes.length !== header + size) {
    throw new DataError(
      `${name}: expected ${header + size} bytes for dims [${dims.join(',')}], received ${bytes.length}${bytes.length < header + size ? ' (truncated)' : ' (trailing bytes)'}`,
    );
  }
  return { dims, data: bytes.subarray(header) };
}

/** Images [N, rows, cols] as a Tensor [N, rows, cols, 1] with pixels mapped from 0..255 to lo..hi. */
export function idxImagesToTensor(idx: Idx, range: [number, number], name: string): Tensor {
  if (idx.dims.length !== 3)
    throw new DataError(`${name}: expected images of rank 3 [count, rows, cols], received dims [${idx.dims.join(',')}]`);
  // A 256-entry table: exact lo + (hi-lo)*p/255 per grey level (so 0 -> lo and 255 -> hi exactly), one lookup per pixel.
  const [lo, hi] = range;
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) table[p] = lo + ((hi - lo) * p) / 255;
  table[255] = hi;
  const out = new Float32Array(idx.data.length);
  for (let i = 0; i < out.length; i++) out[i] = table[idx.data[i]];
  return new Tensor(out, [...idx.dims, 1]);
}

export function idxLabels(idx: Idx, name: string, numClasses = 10): Uint8Array {
  if (idx.dims.length !== 1) throw new DataError(`${name}: expected labels of rank 1 [count], received dims [${idx.dims.join(',')}]`);
  const bad = idx.data.findIndex((v) => v >= numClasses);
  if (bad >= 0) throw new DataError(`${name}: label ${bad} is ${idx.data[bad]}, expected a class in [0, ${numClasses - 1}]`);
  return idx.data;
}

const hex = (b: number | undefined) => (b === undefined ? '--' : b.toString(16).padStart(2, '0'));
