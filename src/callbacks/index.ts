// The callbacks that run in any environment (the file loggers are Node's: src/callbacks/loggers.ts).
export { Callback } from './callback.js';
export { EarlyStopping, type EarlyStoppingArgs } from './early-stopping.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauArgs } from './reduce-lr.js';
export { ModelCheckpoint, type ModelCheckpointArgs } from './checkpoint.js';
export { TerminateOnNaN } from './terminate-on-nan.js';
