// Every layer, each registered by its own file.
export * from './input.js';
export * from './conv2d.js';
export * from './depthwise.js';
export * from './pool.js';
export * from './dense.js';
export * from './core.js';
export * from './dropout.js';
export * from './activation.js';
export * from './merge.js';
export * from './global-pool.js';
export * from './padding.js';
export * from './upsampling.js';
export * from './reshape.js';
export * from './conv2d-transpose.js';
export * from './normalization.js';
export * from './preprocessing.js';
export * from './augmentation.js';
