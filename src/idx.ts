// The IDX format of the MNIST family (MNIST, Fashion-MNIST, KMNIST, EMNIST; big-endian header: 0, 0,
// type, rank, then rank uint32 dimensions), parsed strictly: a truncated, padded or mislabelled file is an
// error that names the file. Browser-safe.
import { bytesToFloats, pixelTable } from './data/labeled-images.js';
import { type DataSource, DEFAULT_MAX_BYTES, gunzip, isGzip, readSource, sourceName } from './data/source.js';
import { DataError } from './errors.js';
import { Tensor } from './tensor.js';

export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** Total bytes the IDX header at the start of `head` declares (DataError for a bad or incomplete header). */
export function idxFileSize(head: Uint8Array, name: string): number {
  return idxHeader(head, name).size;
}

function idxHeader(bytes: Uint8Array, name: string): { dims: number[]; header: number; size: number } {
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
  return { dims, header, size: header + dims.reduce((a, d) => a * d, 1) };
}

export function parseIdx(bytes: Uint8Array, name: string): Idx {
  const { dims, header, size } = idxHeader(bytes, name);
  if (bytes.length !== size) {
    throw new DataError(
      `${name}: expected ${size} bytes for dims [${dims.join(',')}], received ${bytes.length}${bytes.length < size ? ' (truncated)' : ' (trailing bytes)'}`,
    );
  }
  return { dims, data: bytes.subarray(header) };
}

/**
 * An IDX file from a path (Node), URL, File/Blob or bytes, gzipped or not (told by its first bytes, not
 * its name). A gzipped file is decompressed only as far as its header declares, and never past maxBytes.
 */
export async function readIdx(src: DataSource, maxBytes = DEFAULT_MAX_BYTES): Promise<Idx> {
  return decodeIdx(await readSource(src, maxBytes), sourceName(src), maxBytes);
}

/** An IDX file's bytes, gzipped or not, parsed. */
export async function decodeIdx(bytes: Uint8Array, name: string, maxBytes = DEFAULT_MAX_BYTES): Promise<Idx> {
  if (isGzip(bytes)) {
    bytes = await gunzip(
      bytes,
      name,
      (head) => {
        const size = idxFileSize(head, name);
        if (size > maxBytes) throw new DataError(`${name}: the IDX header declares ${size} bytes, more than the ${maxBytes} allowed`);
        return size;
      },
      20,
    );
  }
  return parseIdx(bytes, name);
}

/** Images [N, rows, cols] as a Tensor [N, rows, cols, 1] with pixels mapped from 0..255 to lo..hi. */
export function idxImagesToTensor(idx: Idx, range: [number, number], name: string): Tensor {
  checkImageRank(idx, name);
  return new Tensor(bytesToFloats(idx.data, pixelTable(range, name)), [...idx.dims, 1]);
}

function checkImageRank(idx: Idx, name: string): void {
  if (idx.dims.length !== 3)
    throw new DataError(`${name}: expected images of rank 3 [count, rows, cols], received dims [${idx.dims.join(',')}]`);
}

/**
 * Images [N, rows, cols] as bytes [N, rows, cols, 1]. EMNIST stores each image transposed (column by
 * column); `transpose` turns them upright.
 */
export function idxImagePixels(idx: Idx, name: string, transpose = false): { pixels: Uint8Array; shape: [number, number, number, number] } {
  checkImageRank(idx, name);
  const [n, rows, cols] = idx.dims;
  if (!transpose) return { pixels: idx.data, shape: [n, rows, cols, 1] };
  const out = new Uint8Array(idx.data.length),
    px = rows * cols;
  for (let k = 0; k < n; k++) {
    const o = k * px;
    // Stored row r, column c is the upright picture's row c, column r.
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[o + c * rows + r] = idx.data[o + r * cols + c];
  }
  return { pixels: out, shape: [n, cols, rows, 1] };
}

export function idxLabels(idx: Idx, name: string, numClasses = 10, first = 0): Uint8Array {
  if (idx.dims.length !== 1) throw new DataError(`${name}: expected labels of rank 1 [count], received dims [${idx.dims.join(',')}]`);
  const bad = idx.data.findIndex((v) => v < first || v >= first + numClasses);
  if (bad >= 0) throw new DataError(`${name}: label ${bad} is ${idx.data[bad]}, expected a class in [${first}, ${first + numClasses - 1}]`);
  return idx.data;
}

const hex = (b: number | undefined) => (b === undefined ? '--' : b.toString(16).padStart(2, '0'));
