// Node entry: enables relaxed SIMD first, then the same API as the browser entry.
import './node-flags.js';
import './io/node.js';
import './data/node-files.js';
import './threads/node-workers.js';
export * from './index.js';
export { CSVLogger, JSONLogger, type CSVLoggerArgs, type JSONLoggerArgs } from './callbacks/loggers.js';
export {
  imageFolder,
  ImageFolder,
  suggestInput,
  IMAGE_EXTENSIONS,
  type ImageFolderOptions,
  type ImageFile,
  type Subset,
} from './data/folder.js';
export { decodeImage } from './data/decode.js';
