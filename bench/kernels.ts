// Per-kernel timings on the reference shapes: simdcnn's kernels called directly vs TF.js wasm's.
import { currentBackend, FLAG_BIAS, FLAG_NEED_DX } from '../src/backend.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { denseBackward, denseForward, denseScratchFloats } from '../src/kernels/dense.js';
import { computeWindow2D, transposedWindow2D } from '../src/kernels/geometry.js';
import { maxPoolBackward, maxPoolForward } from '../src/kernels/pool.js';
import {
  winogradBackwardFilter,
  winogradBackwardInput,
  winogradBlocks,
  winogradFilterFloats,
  winogradForward,
  winogradScratchFloats,
  winogradTransformFilter,
} from '../src/kernels/winograd.js';
import { tf } from './peers.js';
import { timeInterleaved } from './util.js';

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
  // Calls per timed round: sub-10 ms kernels are repeated so timer and GC noise average out. Variants of
  // simdcnn (direct and Winograd convolution) are timed in the same interleaved rounds as TF.js.
  const rowsOf = async (names: string[], flops: number, ours: (() => unknown)[], tfjs: () => unknown, inner: number, note?: string) => {
    const t = await timeInterleaved([...ours, tfjs], { reps, inner });
    names.forEach((name, i) => rows.push({ name, flops, ours: t[i], tfjs: t[ours.length], note }));
  };
  const row = (name: string, flops: number, ours: () => unknown, tfjs: () => unknown, inner: number, note?: string) =>
    rowsOf([name], flops, [ours], tfjs, inner, note);

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
  const tfGradFilter = (tx: tf.Tensor4D, tdy: tf.Tensor4D, C: number, OC: number) => () =>
    tsync(
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: tx, dy: tdy },
          { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, C, OC] },
        ) as tf.Tensor,
    );
  await row(
    'conv2d grad-filter (same shapes)',
    convFlops,
    () => conv2dBackwardFilter(be, x, y, dw, db, s, g, N, OC, FLAG_BIAS),
    tfGradFilter(tx, tdy, C, OC),
    1,
    'harness stand-in: TF.js wasm has none',
  );

  // LeNet's second convolution at batch 64, [64,14,14,32] * [3,3,32,64] 'same': direct and Winograd F(4x4,3x3)
  // (the filter transforms happen once per weight update, outside these calls; see the profile).
  {
    const g2 = computeWindow2D('bench', [14, 14, C], [3, 3], [1, 1], 'same', N);
    const x2 = fill(N * 14 * 14 * C),
      y2 = fill(N * 14 * 14 * OC),
      dx2 = fill(N * 14 * 14 * C);
    const blocks = winogradBlocks(g2, OC, 4);
    const s2 = fill(Math.max(conv2dScratchFloats(g2, OC), winogradScratchFloats(g2, OC, 4, blocks)));
    const u = fill(winogradFilterFloats(C, OC, 4)),
      uf = fill(winogradFilterFloats(OC, C, 4));
    winogradTransformFilter(be, w, u, C, OC, 4, false);
    winogradTransformFilter(be, w, uf, C, OC, 4, true);
    const flops2 = 2 * N * 14 * 14 * 9 * C * OC;
    const tx2 = tf.randomNormal([N, 14, 14, C]) as tf.Tensor4D,
      tdy2 = tf.randomNormal([N, 14, 14, OC]) as tf.Tensor4D;
    const name = (what: string) => [
      `conv2d ${what} [64,14,14,32]*[3,3,32,64] same (LeNet conv2), direct`,
      `conv2d ${what} (LeNet conv2), Winograd F(4x4,3x3)`,
    ];
    await rowsOf(
      name('forward'),
      flops2,
      [
        () => conv2dForward(be, x2, w, 0, y2, s2, g2, N, OC, 0),
        () => winogradForward(be, x2, u, 0, y2, s2, g2, N, OC, 4, 0, blocks.forward),
      ],
      () => tsync(tf.conv2d(tx2, tw, 1, 'same')),
      2,
    );
    await rowsOf(
      name('grad-input'),
      flops2,
      [
        () => conv2dBackwardInput(be, y2, w, dx2, s2, g2, N, OC),
        () => winogradBackwardInput(be, y2, uf, dx2, s2, g2, N, OC, 4, blocks.input),
      ],
      () => tsync(tf.conv2dTranspose(tdy2, tw, [N, 14, 14, C], 1, 'same')),
      2,
    );
    await rowsOf(
      name('grad-filter'),
      flops2,
      [
        () => conv2dBackwardFilter(be, x2, y2, dw, db, s2, g2, N, OC, FLAG_BIAS),
        () => winogradBackwardFilter(be, x2, y2, dw, db, s2, g2, N, OC, 4, FLAG_BIAS, blocks.filter),
      ],
      tfGradFilter(tx2, tdy2, C, OC),
      2,
      'harness stand-in',
    );
    tx2.dispose();
    tdy2.dispose();
  }

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
  await conv2dTransposeRows(row, fill, tsync);
  return rows;
}

/**
 * Conv2DTranspose as an autoencoder's decoder runs it: [32,7,7,32] -> 3x3, stride 2, same -> [32,14,14,16].
 * simdcnn runs the conv2d kernels on TF.js's weight layout in place; TF.js's forward is its Conv2DBackpropInput,
 * its input gradient a Conv2D, its filter gradient a Conv2DBackpropFilter (on wasm: the harness's stand-in).
 */
async function conv2dTransposeRows(
  row: (name: string, flops: number, ours: () => unknown, tfjs: () => unknown, inner: number, note?: string) => Promise<void>,
  fill: (n: number) => number,
  tsync: (t: tf.Tensor | tf.Tensor[]) => Promise<void>,
): Promise<void> {
  const be = currentBackend();
  const [N, h, w, inC, F] = [32, 7, 7, 32, 16];
  const g = transposedWindow2D('bench', [h, w, inC], [3, 3], [2, 2], 'same', F);
  const x = fill(N * h * w * inC),
    k = fill(9 * F * inC),
    y = fill(N * g.H * g.W * F),
    dx = fill(N * h * w * inC),
    dk = fill(9 * F * inC),
    s = fill(conv2dScratchFloats(g, inC));
  const flops = 2 * N * h * w * inC * 9 * F;
  const tx = tf.randomNormal([N, h, w, inC]) as tf.Tensor4D,
    tk = tf.randomNormal([3, 3, F, inC]) as tf.Tensor4D,
    tdy = tf.randomNormal([N, g.H, g.W, F]) as tf.Tensor4D;
  await row(
    'conv2dTranspose forward [32,7,7,32] -> 3x3 s2 same -> [32,14,14,16]',
    flops,
    () => conv2dBackwardInput(be, x, k, y, s, g, N, inC),
    () => tsync(tf.conv2dTranspose(tx, tk, [N, g.H, g.W, F], 2, 'same')),
    10,
  );
  await row(
    'conv2dTranspose grad-input (same shapes)',
    flops,
    () => conv2dForward(be, y, k, 0, dx, s, g, N, inC, 0),
    () => tsync(tf.conv2d(tdy, tk, 2, 'same')),
    10,
  );
  await row(
    'conv2dTranspose grad-filter (same shapes)',
    flops,
    () => conv2dBackwardFilter(be, y, x, dk, 0, s, g, N, inC, 0),
    () =>
      tsync(
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tdy, dy: tx },
            { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, F, inC] },
          ) as tf.Tensor,
      ),
    10,
    'harness stand-in: TF.js wasm has none',
  );
  for (const t of [tx, tk, tdy]) t.dispose();
}
