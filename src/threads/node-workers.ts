// Node's worker threads for the kernel pool: the worker runs from source text (eval), so no file has to be
// found next to the package in ESM, CJS or a bundle.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { setCoreCount } from './config.js';
import { setWorkerFactory } from './pool.js';

setCoreCount(availableParallelism());

setWorkerFactory((source, data) => {
  const boot =
    "const wt = require('node:worker_threads');\n" +
    'post = (m) => wt.parentPort.postMessage(m);\n' +
    'exit = (code) => process.exit(code);\n' +
    // The main thread may be blocked waiting for this one: a thread that ends marks itself dead first.
    "process.on('exit', (code) => dying && dying('exited with code ' + code));\n" +
    'start(wt.workerData);\n';
  const w = new Worker(source + boot, { eval: true, workerData: data });
  return {
    terminate: () => void w.terminate(),
    onMessage: (f) => w.on('message', f),
    onError: (f) => w.on('error', f),
    onExit: (f) => w.on('exit', f),
    unref: () => void w.unref(),
  };
});
