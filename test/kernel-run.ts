// One kernel call on one backend, guarded: inputs behind canaries, outputs as NaN garbage the kernel must
// overwrite, nothing else in memory allowed to change; optionally one buffer flush against the end of
// wasm memory, so an over-read or over-write traps.
import { type Arena, expectBitwise, type Variant, withArena } from './helpers.js';

export type Ptrs = Record<string, number>;

export function runGuarded(
  ar: Arena,
  label: string,
  inputs: Record<string, ArrayLike<number>>,
  outputs: Record<string, number>,
  call: (p: Ptrs) => void,
  last?: string,
): Record<string, Float32Array> {
  const p: Ptrs = {};
  for (const [k, v] of Object.entries(inputs)) if (k !== last) p[k] = ar.f32(k, v);
  for (const [k, n] of Object.entries(outputs)) if (k !== last) p[k] = ar.out(k, n);
  if (last) p[last] = ar.atEnd(last, inputs[last] ?? outputs[last]);
  ar.run(
    label,
    Object.keys(outputs).map((k) => p[k]),
    () => call(p),
  );
  return Object.fromEntries(Object.keys(outputs).map((k) => [k, ar.read(p[k])]));
}

/** runGuarded on every variant, once with no buffer last in memory and once with each of `lastOnes`. */
export function runAllVariants(
  vs: Variant[],
  label: string,
  inputs: Record<string, ArrayLike<number>>,
  outputs: Record<string, number>,
  call: (v: Variant, p: Ptrs) => void,
  lastOnes: string[] = [],
): Record<string, Record<string, Float32Array>> {
  const out: Record<string, Record<string, Float32Array>> = {};
  for (const v of vs) {
    out[v.name] = withArena(v.be, (ar) => runGuarded(ar, label, inputs, outputs, (p) => call(v, p)));
    for (const last of lastOnes) {
      const r = withArena(v.be, (ar) => runGuarded(ar, `${label} (${last} last in memory)`, inputs, outputs, (p) => call(v, p), last));
      for (const k of Object.keys(outputs)) expectBitwise(r[k], out[v.name][k], `${v.name} ${label}: '${k}' with '${last}' last in memory`);
    }
  }
  return out;
}
