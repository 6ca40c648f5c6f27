// A/B of the depthwise interior kernels (setDepthwiseVariant) in one process, pinned to one core:
//   npx tsx bench/depthwise-ab.ts [--shapes N,H,W,C,S;...] [--reps 9]
// Rounds alternate the variants; each variant's time is the median of its rounds' CPU time (process.cpuUsage,
// which a loaded machine disturbs less than wall time). 'rows' forces the row passes (the filter gradient's too),
// 'pixels' pixel-major wherever it applies (the filter gradient: bands), 'rule' the default, 'rule, no touch'
// the default without the pixel-major kernel's touch loads. The rule in assembly/depthwise.ts (pixelMajor) came
// from this script's output on MobileNet-v1's shapes.
import '../src/node.js'; // enables relaxed SIMD in Node 20, as the bench does
import { FLAG_BIAS, getBackend } from '../src/backend.js';
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
const variants: [string, DepthwiseVariant, boolean][] = [
  ['rows', 'rows', true],
  ['pixels', 'pixels', true],
  ['rule', 'rule', true],
  ['rule, no touch', 'rule', false],
];

const be = await getBackend();
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
  const { g, act, p, release } = depthwiseBuffers(be, N, H, W, C, S);
  const { x, y, dy, dx, w, b, dw, db, s } = p;
  const kernels: [string, () => void][] = [
    ['forward', () => depthwiseForward(be, x, w, b, y, s, g, N, FLAG_BIAS)],
    ['grad-input', () => depthwiseBackwardInput(be, dy, w, dx, s, g, N)],
    ['grad-filter', () => depthwiseBackwardFilter(be, x, dy, dw, db, s, g, N, FLAG_BIAS)],
  ];
  const inner = Math.max(1, Math.round(2e7 / act));
  for (const [name, f] of kernels) {
    const times: number[][] = variants.map(() => []);
    for (let r = -2; r < reps; r++) {
      variants.forEach(([, v, touch], i) => {
        setDepthwiseVariant(be, v, { touch });
        const t = cpuSeconds(f, inner);
        if (r >= 0) times[i].push(t);
      });
    }
    setDepthwiseVariant(be, 'rule');
    const m = times.map(median);
    console.log(
      `[${N},${H},${W},${C}] stride ${S} ${name}: ` +
        variants.map(([label], i) => `${label} ${(m[i] * 1e3).toFixed(3)}`).join('  ') +
        `  pixels/rows ${(m[1] / m[0]).toFixed(2)}`,
    );
  }
  release();
}
