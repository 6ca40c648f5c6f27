// The Chromium side-by-side (web/bench.html): the page drives one Worker per library and thread count and
// asks each, in turn, to time the same case, so the libraries run interleaved and never at the same time.
// Each worker answers one request at a time through `serveRunner`.

export type Lib = 'simdcnn' | 'tfjs';
export type Mode = 'infer' | 'train';
/** The bench's LeNet and its SGD step (bench/threads.ts, bench/run.ts). */
export const LEARNING_RATE = 0.01;

export interface WorkerInfo {
  lib: Lib;
  /** setThreads(n) / setThreadsCount(n). */
  requested: number;
  /** simdcnn: threadsInfo().active; TF.js: getThreadsCount() after its backend started. */
  active: number;
  /** simdcnn: the wasm build ('relaxed' or 'simd'); TF.js: its SIMD and multithread flags. */
  build: string;
  isolated: boolean;
  /** The .wasm files this worker fetched (TF.js picks its binary by what the engine supports). */
  wasmFiles: string[];
  notes: string[];
}

export interface InitRequest {
  type: 'init';
  threads: number;
  images: Float32Array;
  labels: Int32Array;
  /** Initial weights for TF.js (simdcnn's, in its getWeights order); simdcnn builds them from its seed. */
  weights?: Float32Array[];
  shapes?: number[][];
}
export type BenchRequest =
  | InitRequest
  | { type: 'predict'; n: number }
  | { type: 'step'; batch: number }
  | { type: 'time'; mode: Mode; batch: number; count: number };

export interface Ready {
  info: WorkerInfo;
  weights: Float32Array[];
  shapes: number[][];
}
export type BenchReply = { ok: true; value: unknown } | { ok: false; message: string };

export interface Runner {
  init(r: InitRequest): Promise<Ready>;
  /** The softmax outputs for the first n images, one batch. */
  predict(n: number): Promise<Float32Array>;
  /** The weights after one SGD step on the first `batch` images; the model then goes back to its initial weights. */
  step(batch: number): Promise<Float32Array[]>;
  /** Predicts or trains on the first `count` images in batches of `batch`. */
  run(mode: Mode, batch: number, count: number): Promise<void>;
}

/** This worker's message loop: each request's answer (a time request's: seconds, timed here). */
export function serveRunner(r: Runner): void {
  const scope = self as unknown as { onmessage: ((e: MessageEvent<BenchRequest>) => void) | null; postMessage(m: BenchReply): void };
  const handle = async (q: BenchRequest): Promise<unknown> => {
    switch (q.type) {
      case 'init':
        return r.init(q);
      case 'predict':
        return r.predict(q.n);
      case 'step':
        return r.step(q.batch);
      case 'time': {
        const t = performance.now();
        await r.run(q.mode, q.batch, q.count);
        return (performance.now() - t) / 1000;
      }
    }
  };
  scope.onmessage = (e) =>
    handle(e.data).then(
      (value) => scope.postMessage({ ok: true, value }),
      (err: unknown) => scope.postMessage({ ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
}
