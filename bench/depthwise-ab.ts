// A/B of the depthwise kernels in one process, pinned to one core:
//   npx tsx bench/depthwise-ab.ts [--shapes N,H,W,C,S;...] [--reps 9] [--base old.wasm] [--variants rows,pixels,rule,notouch]
// Rounds alternate the candidates; each one's time is the median of its rounds' CPU time (process.cpuUsage,
// which a loaded machine disturbs less than wall time). 'rows' forces the row passes (the filter gradient's too),
// 'pixels' pixel-major wherever it applies (the filter gradient: bands), 'rule' the default, 'notouch' the
// default without the pixel-major kernel's touch loads. --base adds 'base': another build of the kernels (a .wasm
// file, e.g. main's, compiled with `npx asc assembly/index.ts --target relaxed --outFile old.wasm`) on the
// default rule, in its own memory. The rule in assembly/depthwise.ts (pixelMajor) came from this script's output.
import '../src/node.js'; // enables relaxed SIMD in Node 20, as the bench does
import { readFileSync } from 'node:fs';
import { Backend, FLAG_BIAS, getBackend } from '../src/backend.js';
import {
  depthwiseBackwardFilter,
  depthwiseBackwardInput,
  depthwiseForward,
  setDepthwiseVariant,
  type DepthwiseVariant,
} from '../src/kernels/depthwise.js';
import { depthwiseBuffers } from './depthwise.js';
import { median, pinToOneCore } from './util.js';

pinToOneCore();
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const shapes = arg('shapes', '32,112,112,32,1;32,56,56,64,1;32,56,56,128,1;32,28,28,256,1;32,14,14,512,1;32,112,112,64,2;32,28,28,256,2')
  .split(';')
  .map((s) => s.split(',').map(Number));
const reps = Number(arg('reps', '9'));
const be = await getBackend();
const basePath = arg('base', '');
const base = basePath
  ? new Backend(new WebAssembly.Instance(new WebAssembly.Module(readFileSync(basePath)), {}), be.build, false)
  : undefined;
const kinds: Record<string, [DepthwiseVariant, boolean]> = {
  rows: ['rows', true],
  pixels: ['pixels', true],
  rule: ['rule', true],
  notouch: ['rule', false],
};
const candidates: [string, Backend, DepthwiseVariant, boolean][] = [
  ...(base ? [['base', base, 'rule', true] as [string, Backend, DepthwiseVariant, boolean]] : []),
  ...arg('variants', 'rows,pixels,rule,notouch')
    .split(',')
    .map((k) => [k, be, ...kinds[k]] as [string, Backend, DepthwiseVariant, boolean]),
];

const cpuSeconds = (f: () => void, inner: number) => {
  const c = process.cpuUsage();
  for (let i = 0; i < inner; i++) f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1e6 / inner;
};
console.log(
  `build ${be.build}; 1-minute load ${(await import('node:os')).loadavg()[0].toFixed(1)}; ms per call, medians of ${reps} rounds`,
);
for (const [N, H, W, C, S] of shapes) {
  // One set of buffers per backend: candidates on the same one share them (the buffers' relative placement alone
  // moved one kernel's time by 1.2x).
  const perBackend = new Map<Backend, { act: number; kernels: (() => void)[]; release: () => void }>();
  const calls = candidates.map(([, b]) => {
    let c = perBackend.get(b);
    if (!c) {
      const { g, act, p, release } = depthwiseBuffers(b, N, H, W, C, S);
      const { x, y, dy, dx, w, b: bias, dw, db, s } = p;
      const kernels: (() => void)[] = [
        () => depthwiseForward(b, x, w, bias, y, s, g, N, FLAG_BIAS),
        () => depthwiseBackwardInput(b, dy, w, dx, s, g, N),
        () => depthwiseBackwardFilter(b, x, dy, dw, db, s, g, N, FLAG_BIAS),
      ];
      perBackend.set(b, (c = { act, kernels, release }));
    }
    return c;
  });
  const inner = Math.max(1, Math.round(2e7 / calls[0].act));
  for (const [k, name] of ['forward', 'grad-input', 'grad-filter'].entries()) {
    const times: number[][] = candidates.map(() => []);
    for (let r = -2; r < reps; r++) {
      candidates.forEach(([, b, v, touch], i) => {
        setDepthwiseVariant(b, v, { touch });
        const t = cpuSeconds(calls[i].kernels[k], inner);
        if (r >= 0) times[i].push(t);
      });
    }
    for (const [, b] of candidates) setDepthwiseVariant(b, 'rule');
    const m = times.map(median);
    console.log(
      `[${N},${H},${W},${C}] stride ${S} ${name}: ` +
        candidates.map(([label], i) => `${label} ${(m[i] * 1e3).toFixed(3)}`).join('  ') +
        `  ${candidates[0][0]}/${candidates.at(-1)![0]} ${(m[0] / m.at(-1)!).toFixed(2)}`,
    );
  }
  for (const c of perBackend.values()) c.release();
}
