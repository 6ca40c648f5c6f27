/** Base class of every error simdcnn throws on purpose. */
export class SimdcnnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** A tensor, batch or layer has the wrong rank or shape. */
export class ShapeError extends SimdcnnError {}
/** A value is out of range: NaN/Infinity, a label outside [0, classes), a non-positive batch size... */
export class ValueError extends SimdcnnError {}
/** A data file (IDX, PNG, ...) is truncated, has a wrong magic number or inconsistent dimensions. */
export class DataError extends SimdcnnError {}
/** A saved model (topology JSON, weights manifest or weight file) is corrupt or unsupported. */
export class ModelFormatError extends SimdcnnError {}
/** The model is used in a way its state does not allow (not compiled, disposed, ...). */
export class StateError extends SimdcnnError {}
/** Training produced a non-finite loss. */
export class DivergenceError extends SimdcnnError {}
/** The model would need more wasm memory than the engine allows. */
export class MemoryError extends SimdcnnError {}
/** A file or folder cannot be read or written (permissions, a file where a folder should be, a full disk); names the path. */
export class FileError extends SimdcnnError {
  constructor(
    message: string,
    readonly path: string,
    readonly code?: string,
  ) {
    super(message);
  }
}
