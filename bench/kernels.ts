// Per-kernel timings on the reference shapes: simdcnn's kernels called directly vs TF.js wasm ops.
import { currentBackend, FLAG_BIAS, FLAG_NEED_DX } from '../src/backend.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { denseBackward, denseForward, denseScratchFloats } from '../src/kernels/dense.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { maxPoolBackward, maxPoolForward } from '../src/kernels/pool.js';
import { tf } from './peers.js';
import { timeIt } from './util.js';

export interface KernelRow { name: string; flops: number; ours: number; tfjs: number; note?: string }

export async function kernelRows(reps: number): Promise<KernelRow[]> {
  await tf.setBackend('wasm');
  const be = currentBackend();
  const fill = (n: number) => { const p = be.alloc(n * 4); const v = be.view(p, n); for (let i = 0; i < n; i++) v[i] = Math.sin(i) * 0.5; return p; };
  const rows: KernelRow[] = [];
  const tsync = async (t: tf.Tensor | tf.Tensor[]) => { for (const x of Array.isArray(t) ? t : [t]) { await x.data(); x.dispose(); } };

  // conv2d [64,28,28,32] * [3,3,32,64], 'same'
  const N = 64, H = 28, W = 28, C = 32, OC = 64;
  const g = computeWindow2D('bench', [H, W, C], [3, 3], [1, 1], 'same', N);
  const x = fill(N * H * W * C), w = fill(9 * C * OC), y = fill(N * H * W * OC), dx = fill(N * H * W * C), dw = fill(9 * C * OC), db = fill(OC);
  const s = fill(conv2dScratchFloats(g, OC));
  const convFlops = 2 * N * H * W * 9 * C * OC;
  const tx = tf.randomNormal([N, H, W, C]) as tf.Tensor4D, tw = tf.randomNormal([3, 3, C, OC]) as tf.Tensor4D, tdy = tf.randomNormal([N, H, W, OC]) as tf.Tensor4D;
  const convFwd = await timeIt(() => conv2dForward(be, x, w, 0, y, s, g, N, OC, 0), { reps });
  const tConvFwd = await timeIt(() => tsync(tf.conv2d(tx, tw, 1, 'same')), { reps });
  rows.push({ name: 'conv2d forward [64,28,28,32]*[3,3,32,64] same', flops: convFlops, ours: convFwd, tfjs: tConvFwd });
  const convDx = await timeIt(() => conv2dBackwardInput(be, y, w, dx, s, g, N, OC), { reps });
  const tConvDx = await timeIt(() => tsync(tf.conv2dTranspose(tdy, tw, [N, H, W, C], 1, 'same')), { reps: Math.min(reps, 3), warm: 1 });
  rows.push({ name: 'conv2d grad-input (same shapes)', flops: convFlops, ours: convDx, tfjs: tConvDx });
  const convDw = await timeIt(() => conv2dBackwardFilter(be, x, y, dw, db, s, g, N, OC, FLAG_BIAS), { reps });
  const gradW = tf.grad((ww: tf.Tensor) => tf.conv2d(tx, ww as tf.Tensor4D, 1, 'same').mul(tdy).sum());
  const tConvDw = await timeIt(() => tsync(gradW(tw)), { reps: Math.min(reps, 3), warm: 1 });
  rows.push({ name: 'conv2d grad-filter (same shapes)', flops: convFlops, ours: convDw, tfjs: tConvDw, note: 'stand-in kernel + forward' });

  // dense [64,3136] x [3136,128]
  const M = 64, IN = 3136, OUT = 128;
  const dxp = fill(M * IN), dwp = fill(IN * OUT), dyp = fill(M * OUT), dxo = fill(M * IN), dwo = fill(IN * OUT), dbo = fill(OUT), ds = fill(denseScratchFloats(IN, OUT));
  const denseFlops = 2 * M * IN * OUT;
  const ta = tf.randomNormal([M, IN]) as tf.Tensor2D, tb = tf.randomNormal([IN, OUT]) as tf.Tensor2D, tg = tf.randomNormal([M, OUT]) as tf.Tensor2D;
  rows.push({
    name: 'dense forward [64,3136]x[3136,128]', flops: denseFlops,
    ours: await timeIt(() => denseForward(be, dxp, dwp, 0, dyp, ds, M, IN, OUT, 0), { reps, inner: 5 }),
    tfjs: await timeIt(() => tsync(tf.matMul(ta, tb)), { reps, inner: 5 }),
  });
  rows.push({
    name: 'dense backward (grad weights + grad input)', flops: 2 * denseFlops,
    ours: await timeIt(() => denseBackward(be, dxp, dwp, dyp, dxo, dwo, dbo, ds, M, IN, OUT, FLAG_BIAS | FLAG_NEED_DX), { reps, inner: 5 }),
    tfjs: await timeIt(() => tsync([tf.matMul(ta, tg, true, false), tf.matMul(tg, tb, false, true)]), { reps, inner: 5 }),
  });

  // max-pool 2x2 on [64,28,28,32]
  const pg = computeWindow2D('pool', [28, 28, 32], [2, 2], [2, 2], 'valid', 64);
  const px = fill(64 * 28 * 28 * 32), py = fill(64 * 14 * 14 * 32), parg = fill(64 * 14 * 14 * 32), pdx = fill(64 * 28 * 28 * 32);
  const tpx = tf.randomNormal([64, 28, 28, 32]) as tf.Tensor4D;
  const poolFlops = 64 * 14 * 14 * 32 * 4; // comparisons
  rows.push({
    name: 'maxpool 2x2 forward [64,28,28,32] (training, keeps winners)', flops: poolFlops,
    ours: await timeIt(() => maxPoolForward(be, px, py, parg, pg, 64), { reps }),
    tfjs: await timeIt(() => tsync(tf.maxPool(tpx, 2, 2, 'valid')), { reps }),
  });
  const poolGrad = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid').sum());
  rows.push({
    name: 'maxpool 2x2 backward', flops: poolFlops,
    ours: await timeIt(() => maxPoolBackward(be, py, parg, pdx, pg, 64), { reps }),
    tfjs: await timeIt(() => tsync(poolGrad(tpx)), { reps }),
    note: 'forward + backward',
  });
  return rows;
}
