// The measurements behind the convolution-algorithm rule (src/kernels/winograd.ts, winogradTileFor):
// direct vs Winograd F(2x2,3x3) vs F(4x4,3x3) on 3x3 stride-1 'same' convolutions over a grid of
// image sizes and channel counts, forward, input gradient and filter gradient, each timed in interleaved
// rounds (medians) in one pinned process; then the accuracy of each against the float64 reference.
// npm run bench:conv-rule [-- --quick]
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
type Algo = 'direct' | 'F2' | 'F4';

/** ms per call of each algorithm and op on [N, H, H, C] * [3, 3, C, OC] 'same'. */
function measure(N: number, H: number, C: number, OC: number): Record<Op, Record<Algo, number>> {
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

// Accuracy against the float64 reference on LeNet's convolutions (batch 16), with inputs as they arrive
// there (pixels in [0, 1]; post-ReLU activations) and Glorot-uniform weights: max |error| / max |reference|.
const { conv2dForwardRef, conv2dGradFilterRef, conv2dGradInputRef, mulberry32 } = await import('../test/reference.js');
const { createBackend } = await import('../src/backend.js');
console.log();
console.log('Accuracy: max |error| / max |float64 reference| over each output, LeNet shapes at batch 16, both builds.');
console.log();
console.log('| convolution | build | op | direct | F(2x2) | F(4x4) |');
console.log('|---|---|---|---|---|---|');
for (const [H, C, OC] of [
  [28, 1, 32],
  [14, 32, 64],
]) {
  const N = 16,
    c = { N, H, W: H, C, KH: 3, KW: 3, OC, SH: 1, SW: 1, pad: 'same' as const };
  const rnd = mulberry32(5),
    limit = Math.sqrt(6 / (9 * C + 9 * OC));
  const x = Float32Array.from({ length: N * H * H * C }, () => rnd());
  const w = Float32Array.from({ length: 9 * C * OC }, () => (rnd() * 2 - 1) * limit);
  const dy = Float32Array.from({ length: N * H * H * OC }, () => (rnd() * 2 - 1) * 1e-3);
  const ref = {
    forward: conv2dForwardRef(c, x, w, null, false),
    'grad-input': conv2dGradInputRef(c, w, dy),
    'grad-filter': conv2dGradFilterRef(c, x, dy),
  };
  for (const build of ['relaxed', 'simd'] as const) {
    const b = await createBackend({ build });
    const g = computeWindow2D('acc', [H, H, C], [3, 3], [1, 1], 'same', N);
    const put = (d: Float32Array | number) => {
      const n = typeof d === 'number' ? d : d.length;
      const p = b.alloc(n * 4);
      if (typeof d !== 'number') b.write(p, d);
      return p;
    };
    const px = put(x),
      pw = put(w),
      pdy = put(dy),
      py = put(dy.length),
      pdx = put(x.length),
      pdw = put(w.length);
    const err = (p: number, r: Float64Array) => {
      const v = b.view(p, r.length);
      let e = 0,
        m = 0;
      for (let i = 0; i < r.length; i++) {
        e = Math.max(e, Math.abs(v[i] - r[i]));
        m = Math.max(m, Math.abs(r[i]));
      }
      return e / m;
    };
    const res: Record<string, string[]> = { forward: [], 'grad-input': [], 'grad-filter': [] };
    const record = () => {
      res.forward.push(err(py, ref.forward).toExponential(1));
      res['grad-input'].push(err(pdx, ref['grad-input']).toExponential(1));
      res['grad-filter'].push(err(pdw, ref['grad-filter']).toExponential(1));
    };
    const sd = put(conv2dScratchFloats(g, OC));
    conv2dForward(b, px, pw, 0, py, sd, g, N, OC, 0);
    conv2dBackwardInput(b, pdy, pw, pdx, sd, g, N, OC);
    conv2dBackwardFilter(b, px, pdy, pdw, 0, sd, g, N, OC, 0);
    record();
    for (const m of [2, 4] as WinogradTile[]) {
      const s = put(winogradScratchFloats(g, OC, m)),
        u = put(winogradFilterFloats(C, OC, m)),
        uf = put(winogradFilterFloats(OC, C, m));
      winogradTransformFilter(b, pw, u, C, OC, m, false);
      winogradTransformFilter(b, pw, uf, C, OC, m, true);
      winogradForward(b, px, u, 0, py, s, g, N, OC, m, 0);
      winogradBackwardInput(b, pdy, uf, pdx, s, g, N, OC, m);
      winogradBackwardFilter(b, px, pdy, pdw, 0, s, g, N, OC, m, 0);
      record();
    }
    for (const op of OPS) console.log(`| [${N},${H},${H},${C}]*[3,3,${C},${OC}] | ${build} | ${op} | ${res[op].join(' | ')} |`);
  }
}
