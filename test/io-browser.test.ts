// The browser save targets run in Node against small fakes of the DOM's download anchor and of IndexedDB:
// 'downloads://name' hands over name.json + name.weights.bin (+ name.optimizer.bin) whose manifest points at
// each other; 'indexeddb://key' stores and restores the model with its optimizer state.
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, Conv2D, Dense, Flatten, loadModel, Sequential, tensor } from '../src/index.js';
import type { ModelFiles, ModelJson } from '../src/io/registry.js';

const downloads: { name: string; blob: Blob }[] = [];
const blobs = new Map<string, Blob>();

/** Just enough IndexedDB for one object store with put/get (values structured-cloned, as IndexedDB does). */
function fakeIndexedDB() {
  const dbs = new Map<string, Map<string, Map<unknown, unknown>>>();
  const later = (f: () => void) => setTimeout(f, 0);
  return {
    open(name: string) {
      const r: Record<string, unknown> = {};
      later(() => {
        const fresh = !dbs.has(name);
        if (fresh) dbs.set(name, new Map());
        const stores = dbs.get(name)!;
        r.result = {
          createObjectStore: (s: string) => stores.set(s, new Map()),
          transaction: (s: string) => {
            const tx: Record<string, unknown> = {};
            tx.objectStore = () => ({
              put: (v: unknown, k: unknown) => {
                stores.get(s)!.set(k, structuredClone(v));
                later(() => (tx.oncomplete as () => void)?.());
              },
              get: (k: unknown) => {
                const q: Record<string, unknown> = {};
                later(() => {
                  q.result = structuredClone(stores.get(s)!.get(k));
                  (q.onsuccess as () => void)();
                });
                return q;
              },
            });
            return tx;
          },
          close: () => {},
        };
        if (fresh) (r.onupgradeneeded as () => void)?.();
        (r.onsuccess as () => void)();
      });
      return r;
    },
  };
}

beforeAll(() => {
  let n = 0;
  Object.assign(globalThis, {
    document: {
      createElement: () => {
        const a = { href: '', download: '', click: () => downloads.push({ name: a.download, blob: blobs.get(a.href)! }) };
        return a;
      },
    },
    indexedDB: fakeIndexedDB(),
  });
  URL.createObjectURL = (b: Blob | MediaSource) => {
    const u = `blob:${n++}`;
    blobs.set(u, b as Blob);
    return u;
  };
  URL.revokeObjectURL = () => {};
});

function trained(): Sequential {
  const m = new Sequential(
    [new Conv2D({ filters: 2, kernelSize: 2, inputShape: [4, 4, 1] }), new Flatten(), new Dense({ units: 3, activation: 'softmax' })],
    { seed: 3 },
  );
  m.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(
    tensor(
      new Float32Array(32).map((_, i) => Math.sin(i)),
      [2, 4, 4, 1],
    ),
    [0, 2],
  );
  return m;
}
const x = tensor(
  new Float32Array(16).map((_, i) => Math.cos(i)),
  [1, 4, 4, 1],
);

describe('browser save targets', () => {
  it("'downloads://name' downloads name.json, name.weights.bin and name.optimizer.bin that load back", async () => {
    const m = trained();
    const r = await m.save('downloads://my-net');
    expect(r.location).toBe('downloads://my-net');
    expect(downloads.map((d) => d.name)).toEqual(['my-net.json', 'my-net.weights.bin', 'my-net.optimizer.bin']);
    const json = JSON.parse(await downloads[0].blob.text()) as ModelJson;
    expect(json.weightsManifest[0].paths).toEqual(['my-net.weights.bin']);
    expect((json.userDefinedMetadata!.simdcnnOptimizer as { path: string }).path).toBe('my-net.optimizer.bin');
    const files: ModelFiles = {
      modelJson: json,
      weights: await downloads[1].blob.arrayBuffer(),
      optimizerWeights: await downloads[2].blob.arrayBuffer(),
    };
    const back = await loadModel(files);
    expect(back.predict(x).data).toEqual(m.predict(x).data);
    expect(back.optimizer!.iterations).toBe(1);
    expect(back.getOptimizerState()).toEqual(m.getOptimizerState());
  });

  it("'indexeddb://key' saves and loads, optimizer state included; an unknown key is a ModelFormatError", async () => {
    const m = trained();
    await m.save('indexeddb://nets/a');
    const back = await loadModel('indexeddb://nets/a');
    expect(back.predict(x).data).toEqual(m.predict(x).data);
    expect(back.getOptimizerState()).toEqual(m.getOptimizerState());
    await expect(loadModel('indexeddb://nets/none')).rejects.toThrow(/no model saved under this key/);
  });
});
