// Per-kernel timings on the reference shapes: simdcnn's kernels called directly vs TF.js wasm's.
import { currentBackend, FLAG_BIAS, FLAG_NEED_DX } from '../src/backend.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { denseBackward, denseForward, denseScratchFloats } from '../src/kernels/dense.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { maxPoolBackward, maxPoolForward } from '../src/kernels/pool.js';
import { tf } from './peers.js';
import { timePair } from './util.js';

export interface KernelRow {
  name: string;
  flops: number;
  ours: number;
  tfjs: number;
  note?: string;
}

export async function kernelRows(reps: number): Promise<KernelRow[]> {
  await tf.setBackend('wasm');
  const be = currentBackend();
  const fill = (n: number) => {
    const p = be.alloc(n * 4);
    const v = be.view(p, n);
    for (let i = 0; i < n; i++) v[i] = Math.sin(i) * 0.5;
    return p;
  };
  const rows: KernelRow[] = [];
  const tsync = async (t: tf.Tensor | tf.Tensor[]) => {
    for (const x of Array.isArray(t) ? t : [t]) {
      await x.data();
      x.dispose();
    }
  };
  // Calls per timed round: sub-10 ms kernels are repeated so timer and GC noise average out.
  const row = async (name: string, flops: number, ours: () => unknown, tfjs: () => unknown, inner: number, note?: string) => {
    const [a, b] = await timePair(ours, tfjs, { reps, inner });
    rows.push({ name, flops, ours: a, tfjs: b, note });
  };

  // conv2d [64,28,28,32] * [3,3,32,64], 'same'
  const N = 64,
    H = 28,
    W = 28,
    C = 32,
    OC = 64;
  const g = computeWindow2D('bench', [H, W, C], [3, 3], [1, 1], 'same', N);
  const x = fill(N * H * W * C),
    w = fill(9 * C * OC),
    y = fill(N * H * W * OC),
    dx = fill(N * H * W * C),
    dw = fill(9 * C * OC),
    db = fill(OC);
  const s = fill(conv2dScratchFloats(g, OC));
  const convFlops = 2 * N * H * W * 9 * C * OC;
  const tx = tf.randomNormal([N, H, W, C]) as tf.Tensor4D,
    tw = tf.randomNormal([3, 3, C, OC]) as tf.Tensor4D,
    tdy = tf.randomNormal([N, H, W, OC]) as tf.Tensor4D;
  await row(
    'conv2d forward [64,28,28,32]*[3,3,32,64] same',
    convFlops,
    () => conv2dForward(be, x, w, 0, y, s, g, N, OC, 0),
    () => tsync(tf.conv2d(tx, tw, 1, 'same')),
    1,
  );
  await row(
    'conv2d grad-input (same shapes)',
    convFlops,
    () => conv2dBackwardInput(be, y, w, dx, s, g, N, OC),
    () => tsync(tf.conv2dTranspose(tdy, tw, [N, H, W, C], 1, 'same')),
    1,
  );
  // The kernel alone, as TF.js's conv2d gradient calls it (on wasm: the harness's stand-in, see peers.ts).
  await row(
    'conv2d grad-filter (same shapes)',
    convFlops,
    () => conv2dBackwardFilter(be, x, y, dw, db, s, g, N, OC, FLAG_BIAS),
    () =>
      tsync(
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tx, dy: tdy },
            { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, C, OC] },
          ) as tf.Tensor,
      ),
    1,
    'harness stand-in: TF.js wasm has none',
  );

  // dense [64,3136] x [3136,128]: LeNet's big fully connected layer at batch 64
  const M = 64,
    IN = 3136,
    OUT = 128;
  const dxp = fill(M * IN),
    dwp = fill(IN * OUT),
    dyp = fill(M * OUT),
    dxo = fill(M * IN),
    dwo = fill(IN * OUT),
    dbo = fill(OUT),
    ds = fill(denseScratchFloats(IN, OUT));
  const denseFlops = 2 * M * IN * OUT;
  const ta = tf.randomNormal([M, IN]) as tf.Tensor2D,
    tb = tf.randomNormal([IN, OUT]) as tf.Tensor2D,
    tg = tf.randomNormal([M, OUT]) as tf.Tensor2D;
  await row(
    'dense forward [64,3136]x[3136,128]',
    denseFlops,
    () => denseForward(be, dxp, dwp, 0, dyp, ds, M, IN, OUT, 0),
    () => tsync(tf.matMul(ta, tb)),
    20,
  );
  // TF.js's dense gradient is these two transposed matMuls.
  await row(
    'dense backward (grad weights + grad input)',
    2 * denseFlops,
    () => denseBackward(be, dxp, dwp, dyp, dxo, dwo, dbo, ds, M, IN, OUT, FLAG_BIAS | FLAG_NEED_DX),
    () => tsync([tf.matMul(ta, tg, true, false), tf.matMul(tg, tb, false, true)]),
    10,
  );

  // max-pool 2x2 on [64,28,28,32]; "flops" are comparisons
  const pg = computeWindow2D('pool', [28, 28, 32], [2, 2], [2, 2], 'valid', 64);
  const px = fill(64 * 28 * 28 * 32),
    py = fill(64 * 14 * 14 * 32),
    parg = fill(64 * 14 * 14 * 32),
    pdx = fill(64 * 28 * 28 * 32);
  const tpx = tf.randomNormal([64, 28, 28, 32]) as tf.Tensor4D;
  const tpy = tf.maxPool(tpx, 2, 2, 'valid'),
    tpdy = tf.randomNormal(tpy.shape);
  const poolFlops = 64 * 14 * 14 * 32 * 4;
  await row(
    'maxpool 2x2 forward [64,28,28,32] (training, keeps winners)',
    poolFlops,
    () => maxPoolForward(be, px, py, parg, pg, 64),
    () => tsync(tf.maxPool(tpx, 2, 2, 'valid')),
    10,
  );
  await row(
    'maxpool 2x2 backward',
    poolFlops,
    () => maxPoolBackward(be, py, parg, pdx, pg, 64),
    () =>
      tsync(
        tf
          .engine()
          .runKernel('MaxPoolGrad', { dy: tpdy, input: tpx, output: tpy }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor,
      ),
    10,
  );
  for (const t of [tx, tw, tdy, ta, tb, tg, tpx, tpy, tpdy]) t.dispose();
  return rows;
}
