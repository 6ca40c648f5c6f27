// Node entry: enables relaxed SIMD first, then the same API as the browser entry.
import './node-flags.js';
import './io/node.js';
export * from './index.js';
