// Loading without top-level await: the wasm compiles during the import where the engine allows a synchronous
// compile; where it refuses (older Chromium's main thread), synchronous calls throw a StateError until
// `await ready()` or the first fit; an engine without SIMD gets its reason at first use, not at import.
import { afterEach, expect, it, vi } from 'vitest';

const RealModule = WebAssembly.Module;
afterEach(() => {
  (WebAssembly as { Module: unknown }).Module = RealModule;
  vi.restoreAllMocks();
  vi.resetModules();
});

/** A fresh copy of the library, imported while the engine refuses `new WebAssembly.Module`. */
async function importRefusingSyncCompile() {
  (WebAssembly as { Module: unknown }).Module = function refuse() {
    throw new RangeError('WebAssembly.Compile is disallowed on the main thread, if the buffer size is larger than 8MB.');
  };
  vi.resetModules();
  return import('../src/index.js');
}

const net = (s: Awaited<ReturnType<typeof importRefusingSyncCompile>>) =>
  new s.Sequential(
    [s.Conv2D({ filters: 2, kernelSize: 3, inputShape: [5, 7, 1] }), s.Flatten(), s.Dense({ units: 3, activation: 'softmax' })],
    { seed: 3 },
  );

it('imports without compiling when the engine refuses; predict throws a StateError that says to await ready()', async () => {
  const s = await importRefusingSyncCompile();
  expect(() => s.currentBackend()).toThrow(s.StateError);
  const m = net(s); // describing a model needs no kernels
  const x = s.tensor(new Float32Array(2 * 35).fill(0.5), [2, 5, 7, 1]);
  expect(() => m.predict(x)).toThrow(/await ready\(\)/);
  await s.ready();
  expect(m.predict(x).shape).toEqual([2, 3]);
});

it('the first fit waits for the asynchronous compile by itself', async () => {
  const s = await importRefusingSyncCompile();
  const m = net(s);
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const x = s.tensor(
    Float32Array.from({ length: 4 * 35 }, (_, i) => (i % 7) / 7),
    [4, 5, 7, 1],
  );
  const h = await m.fit(x, new Uint8Array([0, 1, 2, 0]), { epochs: 2, batchSize: 2 });
  expect(h.history.loss).toHaveLength(2);
  expect(Number.isFinite(h.history.loss[1])).toBe(true);
});

it('an engine without wasm SIMD imports fine and gets the reason from ready() and from synchronous calls', async () => {
  vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
  vi.resetModules();
  const s = await import('../src/index.js');
  await expect(s.ready()).rejects.toThrow(/needs WebAssembly SIMD/);
  expect(() => s.currentBackend()).toThrow(/needs WebAssembly SIMD/);
});

it('decodes the embedded wasm once, however often support is checked and backends are created', async () => {
  vi.resetModules();
  const atob = vi.spyOn(globalThis, 'atob');
  const s = await import('../src/index.js');
  s.simdSupported();
  s.relaxedSupported();
  await s.createBackend({ build: 'simd' });
  await s.createBackend({ build: 'simd' });
  expect(atob.mock.calls.length).toBeLessThanOrEqual(2); // one per build
});
