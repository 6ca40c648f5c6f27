// zero_pad2d and crop2d (ZeroPadding2D, Cropping2D and each other's gradient): every variant against a plain
// reference on awkward shapes, uneven amounts per side, zero amounts, each buffer flush against the end of
// memory once. Pure data movement: results must be exact.
import { beforeAll, describe, it } from 'vitest';
import { createVariants, expectBitwise, type Variant } from './helpers.js';
import { runAllVariants } from './kernel-run.js';
import { mulberry32, randomArray } from './reference.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** [N, H, W, C] and [top, bottom, left, right] */
const CASES: [number[], number[]][] = [
  [
    [1, 1, 1, 1],
    [1, 1, 1, 1],
  ],
  [
    [2, 3, 5, 3],
    [0, 2, 1, 0],
  ],
  [
    [1, 7, 7, 4],
    [3, 1, 0, 2],
  ],
  [
    [3, 5, 2, 5],
    [0, 0, 0, 0],
  ],
  [
    [2, 4, 6, 8],
    [2, 2, 3, 3],
  ],
  [
    [1, 11, 13, 17],
    [1, 4, 2, 5],
  ],
];

/** y = x padded by (t, b, l, r) with zeros; negative amounts crop. */
function shiftRef(x: Float32Array, [N, H, W, C]: number[], [t, b, l, r]: number[]): Float32Array {
  const OH = H + t + b,
    OW = W + l + r;
  const y = new Float32Array(N * OH * OW * C);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          const iy = oy - t,
            ix = ox - l;
          if (iy >= 0 && iy < H && ix >= 0 && ix < W) y[((n * OH + oy) * OW + ox) * C + c] = x[((n * H + iy) * W + ix) * C + c];
        }
  return y;
}

describe('zero_pad2d and crop2d vs reference (exact)', () => {
  CASES.forEach(([s, a], i) => {
    const [N, H, W, C] = s,
      [t, b, l, r] = a;
    it(`zero_pad2d x=[${s}] padding=[[${t},${b}],[${l},${r}]], then crop2d back`, () => {
      const x = randomArray(N * H * W * C, mulberry32(i + 1));
      const OH = H + t + b,
        OW = W + l + r;
      const want = shiftRef(x, s, a);
      const out = runAllVariants(
        vs,
        `pad/crop x=[${s}]`,
        { x },
        { y: N * OH * OW * C, back: x.length },
        ({ be }, p) => {
          be.k.zero_pad2d(p.x, p.y, N, H, W, C, t, b, l, r);
          be.k.crop2d(p.y, p.back, N, OH, OW, C, t, b, l, r);
        },
        i % 2 === 0 ? ['x', 'y', 'back'] : [],
      );
      for (const { name } of vs) {
        expectBitwise(out[name].y, want, `${name} pad`);
        expectBitwise(out[name].back, x, `${name} crop of the padded image`);
      }
    });

    it(`crop2d x=[${s}] cropping=[[${t},${b}],[${l},${r}]] of a random image`, () => {
      const H2 = H + t + b,
        W2 = W + l + r;
      const x = randomArray(N * H2 * W2 * C, mulberry32(i + 50));
      const want = shiftRef(x, [N, H2, W2, C], [-t, -b, -l, -r]);
      const out = runAllVariants(
        vs,
        `crop x=[${N},${H2},${W2},${C}]`,
        { x },
        { y: N * H * W * C },
        ({ be }, p) => be.k.crop2d(p.x, p.y, N, H2, W2, C, t, b, l, r),
        i % 2 === 1 ? ['x', 'y'] : [],
      );
      for (const { name } of vs) expectBitwise(out[name].y, want, `${name} crop`);
    });
  });
});
