// UpSampling2D's kernels, nearest and bilinear, forward and backward: every variant against float64 references
// of TF.js's rule (source position = H / OH * output index; bilinear clamps the next row and column at the
// border), and against TF.js's own cpu kernels (tf.image.resizeNearestNeighbor / resizeBilinear with
// alignCorners = halfPixelCenters = false, as UpSampling2D calls them, and their gradients): equal bit for
// bit, since the kernels do TF.js's float64 arithmetic in its order. Sizes 1 to 5 per axis, uneven, and 49,
// the one factor up to 64 where TF.js's floating-point rule reads another row than o / size would.
import { beforeAll, describe, expect, it } from 'vitest';
import { createVariants, expectBitwise, expectClose, type Variant } from './helpers.js';
import { runAllVariants } from './kernel-run.js';
import { mulberry32, randomArray } from './reference.js';
import { tf } from './tfjs-helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
  await tf.setBackend('cpu');
});

/** [N, H, W, C, size h, size w] */
const CASES: number[][] = [
  [1, 1, 1, 1, 2, 2],
  [2, 3, 5, 3, 2, 3],
  [1, 7, 4, 4, 3, 2],
  [3, 2, 2, 5, 1, 4],
  [1, 5, 6, 8, 2, 2],
  [2, 4, 3, 17, 5, 3],
  [1, 2, 3, 6, 49, 1],
  [1, 6, 7, 13, 1, 1],
];

const nearestIndex = (H: number, OH: number, o: number) => Math.min(H - 1, Math.floor((H / OH) * o));

function nearestRef(x: ArrayLike<number>, dy: ArrayLike<number>, [N, H, W, C]: number[], OH: number, OW: number) {
  const y = new Float64Array(N * OH * OW * C),
    dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          const o = ((n * OH + oy) * OW + ox) * C + c,
            i = ((n * H + nearestIndex(H, OH, oy)) * W + nearestIndex(W, OW, ox)) * C + c;
          y[o] = x[i];
          dx[i] += dy[o];
        }
  return { y, dx };
}

function bilinearRef(x: ArrayLike<number>, dy: ArrayLike<number>, [N, H, W, C]: number[], OH: number, OW: number) {
  const y = new Float64Array(N * OH * OW * C),
    dx = new Float64Array(N * H * W * C);
  const at = (ratio: number, o: number, size: number) => {
    const f = ratio * o,
      i0 = Math.floor(f);
    return [i0, Math.min(size - 1, Math.ceil(f)), f - i0];
  };
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++) {
      const [y0, y1, fy] = at(H / OH, oy, H);
      for (let ox = 0; ox < OW; ox++) {
        const [x0, x1, fx] = at(W / OW, ox, W);
        const corners: [number, number, number][] = [
          [y0, x0, (1 - fy) * (1 - fx)],
          [y0, x1, (1 - fy) * fx],
          [y1, x0, fy * (1 - fx)],
          [y1, x1, fy * fx],
        ];
        for (let c = 0; c < C; c++) {
          const o = ((n * OH + oy) * OW + ox) * C + c;
          for (const [iy, ix, w] of corners) {
            const i = ((n * H + iy) * W + ix) * C + c;
            y[o] += w * x[i];
            dx[i] += w * dy[o];
          }
        }
      }
    }
  return { y, dx };
}

/**
 * TF.js's forward op and its gradient kernel, run one image at a time: its cpu ResizeNearestNeighborGrad
 * reads image b's dy at b * H*W*C instead of b * OH*OW*C (wrong for every image but the first), and
 * ResizeBilinearGrad declares its result [N, W, H, C] (so tf.grad throws unless H = W; the values are right).
 */
function tfjsRef(kind: 'nearest' | 'bilinear', s: number[], OH: number, OW: number, x: Float32Array, dy: Float32Array) {
  const [N, H, W, C] = s;
  const op = (t: tf.Tensor4D) => (kind === 'nearest' ? tf.image.resizeNearestNeighbor(t, [OH, OW]) : tf.image.resizeBilinear(t, [OH, OW]));
  const grad = kind === 'nearest' ? 'ResizeNearestNeighborGrad' : 'ResizeBilinearGrad';
  return tf.tidy(() => {
    const y = op(tf.tensor4d(x, [N, H, W, C])).dataSync() as Float32Array;
    const dx = new Float32Array(x.length);
    for (let n = 0; n < N; n++) {
      const images = tf.tensor4d(x.subarray(n * H * W * C, (n + 1) * H * W * C), [1, H, W, C]);
      const dyn = tf.tensor4d(dy.subarray(n * OH * OW * C, (n + 1) * OH * OW * C), [1, OH, OW, C]);
      const g = tf.engine().runKernel(grad, { images, dy: dyn }, { alignCorners: false }) as tf.Tensor;
      dx.set(g.dataSync() as Float32Array, n * H * W * C);
    }
    return { y: y.slice(), dx };
  });
}

describe('upsampling kernels vs float64 references and vs TF.js (bit for bit)', () => {
  it("TF.js's nearest rule reads row floor(o / size) for every size up to 48 (at 49, output row 49 reads row 0)", () => {
    for (let size = 1; size <= 48; size++)
      for (let H = 1; H <= 40; H++)
        for (let o = 0; o < H * size; o++) {
          if (nearestIndex(H, H * size, o) !== Math.floor(o / size))
            expect.fail(`size ${size} H ${H} o ${o}: ${nearestIndex(H, H * size, o)}`);
        }
    expect(nearestIndex(2, 98, 49)).toBe(0);
  });

  CASES.forEach((c, i) => {
    const [N, H, W, C, sh, sw] = c,
      s = [N, H, W, C];
    const OH = H * sh,
      OW = W * sw;
    for (const kind of ['nearest', 'bilinear'] as const) {
      it(`upsample ${kind} x=[${s}] size=[${sh},${sw}] -> [${N},${OH},${OW},${C}], forward and backward`, () => {
        const rnd = mulberry32(70 + i);
        const x = randomArray(N * H * W * C, rnd),
          dy = randomArray(N * OH * OW * C, rnd);
        const ref = (kind === 'nearest' ? nearestRef : bilinearRef)(x, dy, s, OH, OW);
        const theirs = tfjsRef(kind, s, OH, OW, x, dy);
        const out = runAllVariants(
          vs,
          `upsample ${kind} x=[${s}]`,
          { x, dy },
          { y: N * OH * OW * C, dx: x.length },
          ({ be }, p) => {
            const k = be.k;
            if (kind === 'nearest') {
              k.upsample_nearest_forward(p.x, p.y, N, H, W, C, OH, OW);
              k.upsample_nearest_backward(p.dy, p.dx, N, H, W, C, OH, OW);
            } else {
              k.upsample_bilinear_forward(p.x, p.y, N, H, W, C, OH, OW);
              k.upsample_bilinear_backward(p.dy, p.dx, N, H, W, C, OH, OW);
            }
          },
          i % 2 === 0 ? ['x', 'dy', 'y', 'dx'] : [],
        );
        // Sums of up to sh * sw terms (nearest's gradient) or 4 (bilinear): a few float32 roundings.
        const tol = { rtol: 4e-7 * sh * sw, atol: 1e-7 * sh * sw };
        for (const { name } of vs) {
          expectClose(out[name].y, ref.y, kind === 'nearest' ? { rtol: 0, atol: 0 } : tol, `${name} forward`);
          expectClose(out[name].dx, ref.dx, tol, `${name} backward`);
          expectBitwise(out[name].y, theirs.y, `${name} forward vs TF.js`);
          expectBitwise(out[name].dx, theirs.dx, `${name} backward vs TF.js`);
        }
      });
    }
  });
});
