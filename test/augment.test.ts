// Augmentation and preprocessing kernels (assembly/augment.ts) against float64 references of TF's
// algorithms: the affine warp in every fill mode and interpolation (also against TF.js's tf.image.transform,
// the op Keras's random layers call), its transpose (the input gradient) by the adjoint identity and by a
// reference scatter, contrast with its clipped gradient, erasing, rescaling and normalization. Shapes
// with sizes not divisible by 4 and primes, batch 1 and > 1, images one pixel wide (reflect/wrap edge
// cases). SIMD, relaxed and scalar siblings: bit for bit (no FMA in these kernels).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  contrastFactors,
  ERASE_WORDS,
  erasingParams,
  FILL_MODES,
  type FillMode,
  flipMaps,
  type Interpolation,
  MAP_FLOATS,
  rotationMaps,
  smartResizeMap,
  translationMaps,
  zoomMaps,
} from '../src/kernels/augment.js';
import { Rng } from '../src/random.js';
import { createVariants, expectBitwise, expectClose, type Variant, withArena } from './helpers.js';
import { type Arr, contrastBackRef, contrastRef, type Shape, warpBackRef, warpRef } from './augment-reference.js';
import { mulberry32, randomArray } from './reference.js';
import { tf } from './tfjs-helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const dot = (a: Arr, b: Arr) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// ---------------------------------------------------------------------------------------------------
// The warp

const shapes: Shape[] = [
  { N: 2, H: 7, W: 9, C: 3, OH: 7, OW: 9 },
  { N: 1, H: 5, W: 5, C: 1, OH: 5, OW: 5 },
  { N: 3, H: 6, W: 11, C: 5, OH: 6, OW: 11 },
  { N: 2, H: 13, W: 4, C: 8, OH: 13, OW: 4 },
  { N: 2, H: 1, W: 7, C: 2, OH: 1, OW: 7 },
  { N: 2, H: 9, W: 7, C: 4, OH: 5, OW: 6 }, // a crop / resize: output smaller
  { N: 1, H: 4, W: 3, C: 7, OH: 9, OW: 5 }, // output larger
];
const name = (s: Shape) => `x=[${s.N},${s.H},${s.W},${s.C}] out=[${s.OH},${s.OW}]`;

/** Maps of every kind the layers make, at sizes that send coordinates well outside the image. */
function someMaps(s: Shape, seed: number): Float32Array {
  const rng = new Rng(seed);
  const kinds = [
    () => rotationMaps(rng, 1, s.H, s.W, [-0.3, 0.3]),
    () => zoomMaps(rng, 1, s.H, s.W, [-0.5, 0.9], [-0.4, 0.6]),
    () => translationMaps(rng, 1, s.H, s.W, [-0.7, 0.7], [-0.7, 0.7]),
    () => flipMaps(rng, 1, s.H, s.W, true, true),
    () => Float32Array.from({ length: MAP_FLOATS }, (_, i) => [1.3, -0.4, -2.5, 0.7, 0.9, 1.5][i] * (1 + 0.3 * rng.uniform())),
  ];
  const out = new Float32Array(s.N * MAP_FLOATS);
  for (let b = 0; b < s.N; b++) out.set(kinds[(b + seed) % kinds.length](), b * MAP_FLOATS);
  return out;
}

function runWarp(v: Variant, s: Shape, x: Float32Array, dy: Float32Array, maps: Float32Array, fill: FillMode, interp: Interpolation) {
  return withArena(v.be, (a) => {
    const p = a.place({ x, maps, y: s.N * s.OH * s.OW * s.C, scratch: s.C, dy, dx: s.N * s.H * s.W * s.C }, 'dx');
    const mode = FILL_MODES.indexOf(fill),
      bil = interp === 'bilinear' ? 1 : 0;
    a.run('y+scratch', [p.y, p.scratch], () =>
      v.be.k.affine_warp(p.x, p.y, p.maps, MAP_FLOATS, s.N, s.H, s.W, s.C, s.OH, s.OW, mode, bil, 0.75, 0, p.scratch),
    );
    a.run('dx+scratch', [p.dx, p.scratch], () =>
      v.be.k.affine_warp(p.dy, p.dx, p.maps, MAP_FLOATS, s.N, s.H, s.W, s.C, s.OH, s.OW, mode, bil, 0, 1, p.scratch),
    );
    return { y: a.read(p.y), dx: a.read(p.dx) };
  });
}

describe('affine_warp and its transpose', () => {
  for (const s of shapes)
    for (const fill of FILL_MODES)
      for (const interp of ['nearest', 'bilinear'] as const)
        it(`warp ${name(s)} fill=${fill} ${interp}: forward vs float64, backward vs scatter and <dy, Tx> = <T'dy, x>, variants bitwise`, () => {
          const rnd = mulberry32(s.N * 1000 + s.H * 31 + s.W + FILL_MODES.indexOf(fill) * 7 + (interp === 'nearest' ? 0 : 3));
          const x = randomArray(s.N * s.H * s.W * s.C, rnd),
            dy = randomArray(s.N * s.OH * s.OW * s.C, rnd);
          const maps = someMaps(s, s.H + s.W);
          const refY = warpRef(s, x, maps, false, fill, interp, 0.75),
            refDx = warpBackRef(s, dy, maps, false, fill, interp);
          const outs = vs.map((v) => ({ v, ...runWarp(v, s, x, dy, maps, fill, interp) }));
          for (const { v, y, dx } of outs) {
            expectClose(y, refY, { rtol: 1e-5, atol: 1e-6 }, `${v.name} y`);
            expectClose(dx, refDx, { rtol: 1e-5, atol: 1e-5 }, `${v.name} dx`);
          }
          // The transpose: <dy, T x> = <T' dy, x> for the fill-free part (fill 0.75 is an affine offset).
          const y0 = warpRef(s, x, maps, false, fill, interp, 0);
          expect(Math.abs(dot(dy, y0) - dot(outs[0].dx, x))).toBeLessThan(1e-4 * (1 + Math.abs(dot(dy, y0))));
          for (const o of outs.slice(1)) {
            expectBitwise(o.y, outs[0].y, `${o.v.name} vs ${outs[0].v.name} y`);
            expectBitwise(o.dx, outs[0].dx, `${o.v.name} vs ${outs[0].v.name} dx`);
          }
        });

  it('one shared map (pstride 0) for the batch: as the map repeated per sample', () => {
    const s = shapes[5];
    const x = randomArray(s.N * s.H * s.W * s.C, mulberry32(5));
    const map = smartResizeMap(s.H, s.W, s.OH, s.OW);
    const ref = warpRef(s, x, map, true, 'nearest', 'bilinear', 0);
    for (const v of vs)
      withArena(v.be, (a) => {
        const p = a.place({ x, map, y: s.N * s.OH * s.OW * s.C, scratch: s.C }, 'y');
        a.run('y+scratch', [p.y, p.scratch], () =>
          v.be.k.affine_warp(p.x, p.y, p.map, 0, s.N, s.H, s.W, s.C, s.OH, s.OW, 3, 1, 0, 0, p.scratch),
        );
        expectClose(a.read(p.y), ref, { rtol: 1e-5, atol: 1e-6 }, `${v.name} shared map`);
      });
  });

  it('against TF.js tf.image.transform (cpu), one image per call: every fill mode and interpolation', () => {
    const s = { N: 1, H: 7, W: 9, C: 3, OH: 7, OW: 9 };
    const x = randomArray(s.H * s.W * s.C, mulberry32(77));
    for (let k = 0; k < 5; k++) {
      const maps = someMaps(s, k);
      for (const fill of FILL_MODES)
        for (const interp of ['nearest', 'bilinear'] as const) {
          const expected = tf.tidy(() =>
            tf.image
              .transform(tf.tensor4d(x, [1, s.H, s.W, s.C]), tf.tensor2d([...maps, 0, 0], [1, 8]), interp, fill, 0.75)
              .dataSync()
              .slice(),
          );
          const { y } = runWarp(vs[0], s, x, new Float32Array(s.H * s.W * s.C), maps, fill, interp);
          expectClose(y, expected, { rtol: 1e-5, atol: 1e-6 }, `map ${k} ${fill} ${interp} vs TF.js`);
        }
    }
  });

  it('a flip is an exact mirror, a whole-pixel translation an exact shift (nearest)', () => {
    const s = { N: 2, H: 5, W: 6, C: 3, OH: 5, OW: 6 };
    const x = randomArray(s.N * s.H * s.W * s.C, mulberry32(3));
    const maps = Float32Array.of(-1, 0, s.W - 1, 0, 1, 0, 1, 0, -2, 0, 1, 1); // sample 0 mirrored, sample 1 moved by (2, -1)
    const { y } = runWarp(vs[0], s, x, new Float32Array(s.N * s.H * s.W * s.C), maps, 'constant', 'nearest');
    const px = (b: number, r: number, c: number) => ((b * s.H + r) * s.W + c) * s.C;
    for (let r = 0; r < s.H; r++)
      for (let c = 0; c < s.W; c++) {
        expect(Array.from(y.slice(px(0, r, c), px(0, r, c) + 3))).toEqual(
          Array.from(x.slice(px(0, r, s.W - 1 - c), px(0, r, s.W - 1 - c) + 3)),
        );
        const sr = r + 1,
          sc = c - 2;
        const want = sr < s.H && sc >= 0 ? Array.from(x.slice(px(1, sr, sc), px(1, sr, sc) + 3)) : [0.75, 0.75, 0.75];
        expect(Array.from(y.slice(px(1, r, c), px(1, r, c) + 3))).toEqual(want);
      }
  });
});

// ---------------------------------------------------------------------------------------------------
// Contrast, erasing, rescaling, normalization

describe('contrast', () => {
  const cases: [number, number, number, number][] = [
    [2, 7, 9, 3],
    [1, 5, 5, 1],
    [3, 3, 11, 8],
    [2, 13, 1, 5],
  ];
  for (const [N, H, W, C] of cases)
    it(`contrast x=[${N},${H},${W},${C}] clip [0.125, 0.875]: forward and backward vs float64, a finite-difference check, variants bitwise`, () => {
      const rnd = mulberry32(N * 100 + H * 10 + W + C);
      const x = Float32Array.from(randomArray(N * H * W * C, rnd), (v) => 0.5 + 0.4 * v);
      const dy = randomArray(x.length, rnd);
      const f = contrastFactors(new Rng(H), N, 0.8, 0.9);
      const P = H * W;
      const ref = contrastRef(x, f, N, P, C, 0.125, 0.875);
      const outs = vs.map((v) =>
        withArena(v.be, (a) => {
          const p = a.place({ x, f, y: x.length, dy, dx: x.length, scratch: C }, 'dx');
          a.run('y+scratch', [p.y, p.scratch], () => v.be.k.contrast_forward(p.x, p.y, p.f, N, P, C, 0.125, 0.875, p.scratch));
          a.run('dx+scratch', [p.dx, p.scratch], () => v.be.k.contrast_backward(p.y, p.dy, p.dx, p.f, N, P, C, 0.125, 0.875, p.scratch));
          return { name: v.name, y: a.read(p.y), dx: a.read(p.dx) };
        }),
      );
      const refDx = contrastBackRef(outs[0].y, dy, f, N, P, C, 0.125, 0.875);
      for (const o of outs) {
        expectClose(o.y, ref, { rtol: 1e-5, atol: 1e-6 }, `${o.name} y`);
        expectClose(o.dx, refDx, { rtol: 1e-5, atol: 1e-6 }, `${o.name} dx`);
        expectBitwise(o.y, outs[0].y, `${o.name} y bitwise`);
        expectBitwise(o.dx, outs[0].dx, `${o.name} dx bitwise`);
      }
      // Finite differences of <dy, contrast(x)> in float64 at a few inputs away from the clip edges.
      const rng = mulberry32(9);
      for (let t = 0; t < 6; t++) {
        const i = Math.floor(rng() * x.length);
        const xp = Float64Array.from(x),
          xm = Float64Array.from(x);
        xp[i] += 1e-6;
        xm[i] -= 1e-6;
        const fd = (dot(dy, contrastRef(xp, f, N, P, C, 0.125, 0.875)) - dot(dy, contrastRef(xm, f, N, P, C, 0.125, 0.875))) / 2e-6;
        expect(Math.abs(fd - refDx[i])).toBeLessThan(1e-3 * (1 + Math.abs(fd)));
      }
    });
});

describe('erasing, rescaling, normalization', () => {
  it('erase_rect x=[3,7,9,5]: rectangles set to their fill value (one sample untouched), backward zeroes them in dy; variants bitwise', () => {
    const [N, H, W, C] = [3, 7, 9, 5];
    const x = randomArray(N * H * W * C, mulberry32(1)),
      dy = randomArray(x.length, mulberry32(2));
    const params = erasingParams(new Rng(4), N, H, W, [1, 1], [0.1, 0.4], [-1, 1]);
    new Int32Array(params.buffer).fill(0, ERASE_WORDS, ERASE_WORDS + 4); // sample 1: no rectangle
    const words = new Int32Array(params.buffer);
    const inRect = (i: number) => {
      const b = Math.floor(i / (H * W * C)),
        r = Math.floor(i / (W * C)) % H,
        c = Math.floor(i / C) % W;
      const [t, l, h, w] = words.subarray(b * ERASE_WORDS, b * ERASE_WORDS + 4);
      return r >= t && r < t + h && c >= l && c < l + w ? b : -1;
    };
    const refY = Float64Array.from(x, (v, i) => (inRect(i) >= 0 ? params[inRect(i) * ERASE_WORDS + 4] : v));
    const refDx = Float64Array.from(dy, (v, i) => (inRect(i) >= 0 ? 0 : v));
    expect(refY.filter((v, i) => v !== x[i]).length).toBeGreaterThan(10);
    const outs = vs.map((v) =>
      withArena(v.be, (a) => {
        const p = a.place({ x, params, y: x.length, dy, dx: x.length }, 'dx');
        a.run('y', [p.y], () => v.be.k.erase_rect(p.x, p.y, p.params, N, H, W, C, 1));
        a.run('dx', [p.dx], () => v.be.k.erase_rect(p.dy, p.dx, p.params, N, H, W, C, 0));
        return { name: v.name, y: a.read(p.y), dx: a.read(p.dx) };
      }),
    );
    for (const o of outs) {
      expectClose(o.y, refY, { rtol: 0, atol: 0 }, `${o.name} y`);
      expectClose(o.dx, refDx, { rtol: 0, atol: 0 }, `${o.name} dx`);
    }
  });

  it('rescale_f32 n=37: x * scale + offset in float32 (TF.js: mul, then add); in place', () => {
    const x = randomArray(37, mulberry32(8));
    const ref = Float32Array.from(x, (v) => Math.fround(Math.fround(v * Math.fround(1 / 255)) + Math.fround(-0.5)));
    for (const v of vs)
      withArena(v.be, (a) => {
        const p = a.place({ x }, 'x');
        a.run('x', [p.x], () => v.be.k.rescale_f32(p.x, p.x, 37, 1 / 255, -0.5));
        expectBitwise(a.read(p.x), ref, `${v.name}`);
      });
  });

  for (const [rows, C] of [
    [13, 3],
    [5, 8],
    [7, 1],
    [3, 9],
  ])
    for (const invert of [0, 1])
      it(`normalize rows=${rows} C=${C}${invert ? ' invert' : ''}: Keras's (x - mean) / max(sqrt(var), 1e-7) and its gradient`, () => {
        const rnd = mulberry32(rows * C + invert);
        const x = randomArray(rows * C, rnd),
          dy = randomArray(rows * C, rnd);
        const mean = randomArray(C, rnd),
          variance = Float32Array.from(randomArray(C, rnd), (v, i) => (i === 0 ? 0 : 0.1 + v * v));
        const d = Array.from(variance, (v) => Math.max(Math.sqrt(Math.fround(v)), Math.fround(1e-7)));
        const refY = Float64Array.from(x, (v, i) => (invert ? mean[i % C] + v * d[i % C] : (v - mean[i % C]) / d[i % C]));
        const refDx = Float64Array.from(dy, (g, i) => (invert ? g * d[i % C] : g / d[i % C]));
        const outs = vs.map((v) =>
          withArena(v.be, (a) => {
            const p = a.place({ x, mean, variance, y: x.length, dy, dx: x.length, scratch: C }, 'dx');
            a.run('y+scratch', [p.y, p.scratch], () => v.be.k.normalize_channels(p.x, p.y, p.mean, p.variance, rows, C, invert, p.scratch));
            a.run('dx+scratch', [p.dx, p.scratch], () => v.be.k.normalize_channels(p.dy, p.dx, 0, p.variance, rows, C, invert, p.scratch));
            return { name: v.name, y: a.read(p.y), dx: a.read(p.dx) };
          }),
        );
        for (const o of outs) {
          expectClose(o.y, refY, { rtol: 1e-6, atol: 1e-6 }, `${o.name} y`);
          expectClose(o.dx, refDx, { rtol: 1e-6, atol: 1e-6 }, `${o.name} dx`);
          expectBitwise(o.y, outs[0].y, `${o.name} y bitwise`);
        }
      });
});
