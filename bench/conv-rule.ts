// The measurement behind the convolution-algorithm rule (src/kernels/winograd.ts, chooseConvAlgorithm):
// direct vs Winograd F(2x2,3x3) vs F(4x4,3x3) on 3x3 stride-1 'same' convolutions over a grid of
// image sizes and channel counts, forward, input gradient and filter gradient, each timed in interleaved
// rounds (medians) in one pinned process. npm run bench:conv-rule [-- --quick]
import { currentBackend } from '../src/node.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import {
  type WinogradTile,
  winogradBackwardFilter,
  winogradBackwardInput,
  winogradBlocks,
  winogradFilterFloats,
  winogradForward,
  winogradScratchFloats,
  winogradTransformFilter,
} from '../src/kernels/winograd.js';
import { fmt, median, pinToOneCore } from './util.js';

pinToOneCore();
const quick = process.argv.includes('--quick');
const be = currentBackend();
const REPS = quick ? 3 : 7;

type Op = 'forward' | 'grad-input' | 'grad-filter';
const OPS: Op[] = ['forward', 'grad-input', 'grad-filter'];
const ALGOS = ['direct', 'F2', 'F4'] as const;

/** ms per call of each algorithm and op on [N, H, H, C] * [3, 3, C, OC] 'same'. */
function measure(N: number, H: number, C: number, OC: number): Record<Op, Record<(typeof ALGOS)[number], number>> {
  const g = computeWindow2D('rule', [H, H, C], [3, 3], [1, 1], 'same', N);
  const owned: number[] = [];
  const fill = (n: number) => {
    const p = be.alloc(n * 4);
    owned.push(p);
    const v = be.view(p, n);
    for (let i = 0; i < n; i++) v[i] = Math.sin(i) * 0.5;
    return p;
  };
  const x = fill(N * H * H * C),
    w = fill(9 * C * OC),
    b = fill(OC),
    y = fill(N * H * H * OC),
    dx = fill(N * H * H * C),
    dw = fill(9 * C * OC),
    db = fill(OC);
  const sd = fill(conv2dScratchFloats(g, OC));
  const calls: Record<string, () => void> = {
    'direct forward': () => conv2dForward(be, x, w, b, y, sd, g, N, OC, 3),
    'direct grad-input': () => conv2dBackwardInput(be, y, w, dx, sd, g, N, OC),
    'direct grad-filter': () => conv2dBackwardFilter(be, x, y, dw, db, sd, g, N, OC, 1),
  };
  for (const m of [2, 4] as WinogradTile[]) {
    const blocks = winogradBlocks(g, OC, m);
    const s = fill(winogradScratchFloats(g, OC, m, blocks)),
      u = fill(winogradFilterFloats(C, OC, m)),
      uf = fill(winogradFilterFloats(OC, C, m));
    winogradTransformFilter(be, w, u, C, OC, m, false);
    winogradTransformFilter(be, w, uf, C, OC, m, true);
    calls[`F${m} forward`] = () => winogradForward(be, x, u, b, y, s, g, N, OC, m, 3, blocks.forward);
    calls[`F${m} grad-input`] = () => winogradBackwardInput(be, y, uf, dx, s, g, N, OC, m, blocks.input);
    calls[`F${m} grad-filter`] = () => winogradBackwardFilter(be, x, y, dw, db, s, g, N, OC, m, 1, blocks.filter);
  }
  const times: Record<string, number[]> = {};
  const inner = Math.max(1, Math.round(2e7 / (N * H * H * 9 * C * OC))); // ~20 M multiply-adds per timed round
  for (const f of Object.values(calls)) {
    f();
    f();
  }
  for (let r = 0; r < REPS; r++) {
    for (const [k, f] of Object.entries(calls)) {
      const t = performance.now();
      for (let i = 0; i < inner; i++) f();
      (times[k] ??= []).push((performance.now() - t) / inner);
    }
  }
  for (const p of owned.reverse()) be.release(p);
  const out = {} as ReturnType<typeof measure>;
  for (const op of OPS) out[op] = { direct: median(times[`direct ${op}`]), F2: median(times[`F2 ${op}`]), F4: median(times[`F4 ${op}`]) };
  return out;
}

const channels: [number, number][] = quick
  ? [
      [1, 32],
      [8, 16],
      [32, 64],
    ]
  : [
      [1, 32],
      [3, 16],
      [4, 8],
      [8, 8],
      [8, 16],
      [16, 16],
      [16, 32],
      [32, 32],
      [32, 64],
      [64, 64],
      [64, 128],
      [128, 128],
    ];
const sizes = quick ? [14] : [28, 14, 7];
console.log(
  `Direct vs Winograd on [N, H, H, C] * [3, 3, C, OC] 'same', ms per call (medians of ${REPS} interleaved rounds), and direct / Winograd (> 1: Winograd is faster). Build '${be.build}'.`,
);
console.log();
console.log('| N | H | C | OC | op | direct ms | F(2x2) ms | F(4x4) ms | direct / F(2x2) | direct / F(4x4) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const H of sizes) {
  for (const [C, OC] of channels) {
    for (const N of [1, 32]) {
      const r = measure(N, H, C, OC);
      for (const op of OPS) {
        const t = r[op];
        console.log(
          `| ${N} | ${H} | ${C} | ${OC} | ${op} | ${fmt(t.direct, 3)} | ${fmt(t.F2, 3)} | ${fmt(t.F4, 3)} | ${fmt(t.direct / t.F2, 2)} | ${fmt(t.direct / t.F4, 2)} |`,
        );
      }
    }
  }
}
