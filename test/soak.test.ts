// Soak: a seeded fuzzer makes a few thousand random API calls across several models that share one wasm
// memory (creating, compiling, training, fitting with callbacks that call back into the models, predicting
// at changing batch sizes, setting weights and optimizer state, saving and loading, disposing, bad input
// of every kind, runs that diverge, models too big to build). After every call, and inside fit's
// callbacks: no model the call did not target has changed weights or optimizer state, the allocator's
// books are consistent (Backend.checkHeap) and the bytes in use are exactly what the live models hold.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AvgPool2D,
  Conv2D,
  DataError,
  Dense,
  DivergenceError,
  Flatten,
  loadModel,
  MaxPool2D,
  MemoryError,
  ReLU,
  Sequential,
  SGD,
  ShapeError,
  SimdcnnError,
  StateError,
  Tensor,
  tensor,
  ValueError,
  setBackend,
  type Model,
} from '../src/node.js';
import { Rng } from '../src/random.js';

const OPS = 3000;

const archs: [number[], () => Sequential][] = [
  [
    [6, 5, 2],
    () =>
      new Sequential([
        new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [6, 5, 2] }),
        new MaxPool2D({ poolSize: 2 }),
        new Flatten(),
        new Dense({ units: 4, activation: 'softmax' }),
      ]),
  ],
  [
    [7, 7, 1],
    () =>
      new Sequential([
        new Conv2D({ filters: 2, kernelSize: 2, strides: 2, inputShape: [7, 7, 1] }),
        new ReLU(),
        new AvgPool2D({ poolSize: 2, padding: 'same' }),
        new Flatten(),
        new Dense({ units: 3, activation: 'softmax' }),
      ]),
  ],
  [
    [9],
    () => new Sequential([new Dense({ units: 5, activation: 'relu', inputShape: [9] }), new Dense({ units: 3, activation: 'softmax' })]),
  ],
];

interface Live {
  m: Model;
  arch: number;
  w: Float32Array[];
  s: Float32Array[];
}

const same = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length &&
  a.every((x, i) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)));

describe('soak', () => {
  it(`${OPS} seeded random calls across models sharing one memory: other models never change, the heap books balance after every call`, async () => {
    const be = await setBackend({});
    const base = be.allocatedBytes;
    const rng = new Rng(2024);
    const int = (n: number) => Math.floor(rng.uniform() * n);
    const chance = (p: number) => rng.uniform() < p;
    const live: Live[] = [];
    const counts = new Map<string, number>();
    let step = 0;

    const snapshot = (l: Live) => {
      l.w = l.m.getWeights();
      l.s = l.m.getOptimizerState();
    };
    /** Everything but `except` unchanged; heap consistent; bytes in use = what the live models hold. */
    const invariants = (what: string, except: Model[] = []) => {
      for (const l of live) {
        if (except.includes(l.m)) continue;
        if (!same(l.m.getWeights(), l.w) || !same(l.m.getOptimizerState(), l.s))
          expect.fail(`call ${step} (${what}) changed another model's weights or optimizer state`);
      }
      be.checkHeap();
      const held = live.reduce((s, l) => s + l.m.memoryBytes, 0);
      if (be.allocatedBytes !== base + held)
        expect.fail(`call ${step} (${what}): ${be.allocatedBytes - base} bytes in use, the live models hold ${held}`);
    };
    const pick = () => live[int(live.length)];
    const drop = (m: Model) => {
      const i = live.findIndex((l) => l.m === m);
      if (i >= 0) live.splice(i, 1);
    };
    const data = (arch: number, n: number, scale = 1) => {
      const shape = [n, ...archs[arch][0]];
      return tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.uniform() * 2 - 1) * scale),
        shape,
      );
    };
    const labels = (l: Live, n: number) => Int32Array.from({ length: n }, () => int(l.m.outputShape[0]));
    const optimizer = () =>
      [() => new SGD({ learningRate: 0.05 }), () => new SGD({ learningRate: 0.05, momentum: 0.9 }), () => new Adam({ learningRate: 0.01 })][
        int(3)
      ]();
    /** Runs a call that must either succeed or throw exactly `expected` (when given). */
    const expectCall = async (what: string, fn: () => unknown, expected?: new (...a: never[]) => Error) => {
      counts.set(what, (counts.get(what) ?? 0) + 1);
      try {
        await fn();
        if (expected) expect.fail(`call ${step} (${what}) should have thrown ${expected.name}`);
      } catch (e) {
        if (!expected || !(e instanceof expected))
          throw new Error(`call ${step} (${what}) threw ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
      }
    };
    const create = (arch = int(archs.length)) => {
      const m = archs[arch][1]();
      if (chance(0.7)) m.compile({ optimizer: optimizer(), loss: 'sparseCategoricalCrossentropy' });
      m.build();
      const l: Live = { m, arch, w: [], s: [] };
      snapshot(l);
      live.push(l);
      return l;
    };

    /** A call made from inside fit: on the fitting model (allowed or refused) or on another one. */
    const fromCallback = async (fitting: Live) => {
      const r = int(8);
      if (r === 0)
        await expectCall('cb: predict (fitting model)', () =>
          fitting.m.predict(data(fitting.arch, 1 + int(40)), { batchSize: 1 + int(40) }),
        );
      else if (r === 1) await expectCall('cb: setWeights (fitting model)', () => fitting.m.setWeights(fitting.m.getWeights()), StateError);
      else if (r === 2)
        await expectCall(
          'cb: trainOnBatch (fitting model)',
          () => fitting.m.trainOnBatch(data(fitting.arch, 2), labels(fitting, 2)),
          StateError,
        );
      else if (r === 3)
        await expectCall('cb: evaluate (fitting model)', () =>
          fitting.m.evaluate(data(fitting.arch, 5), labels(fitting, 5), { batchSize: 1 + int(9) }),
        );
      else if (r === 4 && live.length < 8) await expectCall('cb: create', () => create());
      else if (r === 5) {
        const other = pick();
        if (other !== fitting && other.m.optimizer && !other.m.isTraining) {
          await expectCall('cb: trainOnBatch (other)', () => other.m.trainOnBatch(data(other.arch, 3), labels(other, 3)));
          snapshot(other);
        }
      } else if (r === 6) await expectCall('cb: save to memory (fitting model)', () => fitting.m.save());
      else if (r === 7 && chance(0.3)) {
        const other = pick();
        if (other === fitting) return; // the fit call's own case
        other.m.dispose();
        drop(other.m);
      }
      invariants('inside fit', [fitting.m]);
    };

    const ops: [number, () => Promise<void>][] = [
      [
        3,
        async () => {
          if (live.length < 6) await expectCall('create', () => create());
        },
      ],
      [
        2,
        async () => {
          const l = pick();
          if (l) {
            l.m.dispose();
            drop(l.m);
            counts.set('dispose', (counts.get('dispose') ?? 0) + 1);
          }
        },
      ],
      [
        6,
        async () => {
          const l = pick();
          if (l)
            await expectCall('predict', () => {
              const n = 1 + int(60);
              const p = l.m.predict(data(l.arch, n), { batchSize: 1 + int(n + 5) });
              if (!p.data.every(Number.isFinite)) throw new Error('non-finite prediction');
            });
        },
      ],
      [
        3,
        async () => {
          const l = pick();
          if (l)
            await expectCall('evaluate', () => {
              const n = 1 + int(30);
              l.m.evaluate(data(l.arch, n), labels(l, n), { batchSize: 1 + int(12) });
            });
        },
      ],
      [
        5,
        async () => {
          const l = pick();
          if (!l) return;
          await expectCall(
            'trainOnBatch',
            () => l.m.trainOnBatch(data(l.arch, 1 + int(16)), labels(l, 0)),
            l.m.optimizer ? ShapeError : StateError,
          );
          if (l.m.optimizer) {
            const n = 1 + int(16);
            await expectCall('trainOnBatch', () => l.m.trainOnBatch(data(l.arch, n), labels(l, n)));
          }
          snapshot(l);
        },
      ],
      [
        2,
        async () => {
          const l = pick();
          if (!l || !l.m.optimizer) return;
          const n = 4 + int(30),
            batchSize = 1 + int(8);
          const kill = chance(0.15) && n > batchSize; // dispose from the second batch's callback
          await expectCall(
            kill ? 'fit, disposed from a callback' : 'fit',
            () =>
              l.m.fit(data(l.arch, n), labels(l, n), {
                epochs: 1 + int(2),
                batchSize,
                yieldEvery: 0,
                onBatchEnd: async (b) => {
                  if (kill && b === 1) l.m.dispose();
                  else if (chance(0.5)) await fromCallback(l);
                },
              }),
            kill ? StateError : undefined,
          );
          if (l.m.isDisposed) drop(l.m);
          else snapshot(l);
        },
      ],
      [
        2,
        async () => {
          const l = pick();
          if (l) {
            await expectCall('setWeights', () => l.m.setWeights(l.m.getWeights().map((w) => w.map(() => rng.uniform() - 0.5))));
            snapshot(l);
          }
        },
      ],
      [
        2,
        async () => {
          const l = pick();
          if (l)
            await expectCall(
              'setWeights (wrong length)',
              () => l.m.setWeights(l.m.getWeights().map((w, i) => (i === 0 ? new Float32Array(w.length + 1 + int(1000)) : w))),
              ShapeError,
            );
        },
      ],
      [
        2,
        async () => {
          const l = pick();
          if (!l?.m.optimizer) return;
          await expectCall('setOptimizerState', () => l.m.setOptimizerState(l.m.getOptimizerState(), int(100)));
          const slots = l.m.optimizer.slots;
          await expectCall(
            'setOptimizerState (wrong size)',
            () =>
              l.m.setOptimizerState(
                Array.from({ length: Math.max(slots, 1) }, () => new Float32Array(int(3000))),
                0,
              ),
            slots ? ShapeError : ValueError,
          );
          snapshot(l);
        },
      ],
      [
        1,
        async () => {
          const l = pick();
          if (l) {
            await expectCall('compile', () => l.m.compile({ optimizer: optimizer(), loss: 'sparseCategoricalCrossentropy' }));
            snapshot(l);
          }
        },
      ],
      [
        1,
        async () => {
          const l = pick();
          if (!l || live.length >= 8) return;
          const files = await l.m.save();
          const back = await loadModel(files);
          live.push({ m: back, arch: l.arch, w: [], s: [] });
          snapshot(live[live.length - 1]);
          if (!same(back.getWeights(), l.w)) expect.fail(`call ${step}: a loaded copy differs from its source`);
          counts.set('save + load', (counts.get('save + load') ?? 0) + 1);
        },
      ],
      [
        3,
        async () => {
          const l = pick();
          if (!l) return;
          const x = data(l.arch, 1 + int(5));
          const r = int(4);
          if (r === 0) {
            x.data[int(x.data.length)] = NaN;
            await expectCall('predict NaN', () => l.m.predict(x), ValueError);
          } else if (r === 1) {
            x.data[int(x.data.length)] = 1e30;
            await expectCall('predict 1e30', () => l.m.predict(x), DataError);
          } else if (r === 2)
            await expectCall(
              'predict wrong shape',
              () => l.m.predict(new Tensor(x.data, [x.shape[0], ...x.shape.slice(1).map((d) => d + 1)])),
              ShapeError,
            );
          else
            await expectCall(
              'predict data longer than shape',
              () => l.m.predict(new Tensor(new Float32Array(x.data.length * 3), x.shape)),
              ShapeError,
            );
        },
      ],
      [
        1,
        async () => {
          const l = pick();
          if (!l) return;
          l.m.compile({ optimizer: new SGD({ learningRate: 1e30 }), loss: 'sparseCategoricalCrossentropy' });
          snapshot(l);
          const n = 2 + int(6);
          await expectCall('diverging trainOnBatch', () => l.m.trainOnBatch(data(l.arch, n, 1e5), labels(l, n)), DivergenceError).catch(
            () => {
              counts.set('diverging trainOnBatch (survived)', (counts.get('diverging trainOnBatch (survived)') ?? 0) + 1);
            },
          );
          if (!same(l.m.getWeights(), l.w)) snapshot(l); // a step that survived the checks is a real update
          l.m.compile({ optimizer: optimizer(), loss: 'sparseCategoricalCrossentropy' });
          snapshot(l);
        },
      ],
      [
        1,
        async () => {
          await expectCall(
            'model too big to build',
            () => new Sequential([new Dense({ units: 40_000, inputShape: [40_000] })]).build(),
            MemoryError,
          );
        },
      ],
    ];
    const total = ops.reduce((s, [w]) => s + w, 0);
    for (step = 0; step < OPS; step++) {
      let r = rng.uniform() * total;
      const op = ops.find(([w]) => (r -= w) < 0)![1];
      try {
        await op();
      } catch (e) {
        if (e instanceof SimdcnnError) throw new Error(`call ${step}: unexpected ${e.name}: ${e.message}`, { cause: e });
        throw e;
      }
      invariants('after the call');
    }
    for (const l of live.splice(0)) l.m.dispose();
    expect(be.allocatedBytes).toBe(base);
    be.checkHeap();
    // Every kind of call ran many times.
    for (const k of [
      'create',
      'predict',
      'evaluate',
      'trainOnBatch',
      'fit',
      'setWeights',
      'setOptimizerState',
      'compile',
      'save + load',
      'predict NaN',
      'predict 1e30',
      'cb: predict (fitting model)',
      'cb: setWeights (fitting model)',
    ]) {
      expect(counts.get(k) ?? 0, k).toBeGreaterThan(10);
    }
  }, 120_000);
});
