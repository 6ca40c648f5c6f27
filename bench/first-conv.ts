// The measurements behind the fused first-layer rule (src/kernels/conv2d.ts, fusedConvApplies): 3x3 'same'
// ReLU convolutions with few input channels, conv2d_forward_fused (the output tile finished in registers,
// and with the 2x2 max pool) against conv2d_forward + its bias/ReLU pass (+ maxpool2x2_forward), interleaved
// rounds in one pinned process, minimum times. npm run bench:first-conv
import { currentBackend } from '../src/node.js';
import { FLAG_BIAS } from '../src/backend.js';
import { conv2dForward, conv2dForwardFused, conv2dScratchFloats, setFusedConv } from '../src/kernels/conv2d.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { fmt, pinToOneCore, roundTimes } from './util.js';

pinToOneCore();
const be = currentBackend();
const REPS = 15;
const RELU = 1 << 8;

function measure(N: number, H: number, C: number, OC: number): number[] {
  const g = computeWindow2D('first', [H, H, C], [3, 3], [1, 1], 'same', N);
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
    yp = fill(N * H * H * OC),
    s = fill(conv2dScratchFloats(g, OC));
  const flags = FLAG_BIAS | RELU,
    P = H >> 1;
  const calls = [
    () => (setFusedConv(false), conv2dForward(be, x, w, b, y, s, g, N, OC, flags)),
    () => (setFusedConv(true), conv2dForward(be, x, w, b, y, s, g, N, OC, flags)),
    () => (setFusedConv(false), conv2dForward(be, x, w, b, y, s, g, N, OC, flags), be.k.maxpool2x2_forward(y, yp, 0, N, H, H, OC, P, P)),
    () => conv2dForwardFused(be, x, w, b, yp, s, g, N, OC, flags, true),
  ];
  const t = roundTimes(calls, REPS, 2);
  setFusedConv(true);
  for (const p of owned) be.release(p);
  return t.map((v) => Math.min(...v)); // minima: the steadiest estimate on a shared, loaded core
}

console.log(
  '| x (3x3 same, ReLU) | OC | conv2d_forward + bias/ReLU ms | fused ms | speedup | + maxpool2x2 ms | fused with pool ms | speedup |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [N, H, C, OC] of [
  [256, 28, 1, 32],
  [64, 32, 3, 32],
  [64, 32, 2, 16],
  [64, 28, 4, 32],
  [64, 28, 8, 32],
  [32, 27, 1, 13],
]) {
  const [a, b, c, d] = measure(N, H, C, OC);
  console.log(
    `| [${N},${H},${H},${C}] | ${OC} | ${fmt(a, 2)} | ${fmt(b, 2)} | ${fmt(a / b, 2)}x | ${fmt(c, 2)} | ${fmt(d, 2)} | ${fmt(c / d, 2)}x |`,
  );
}
