// conv2d forward (+bias, +relu), input gradient, filter and bias gradients: every variant (plain SIMD,
// relaxed-SIMD FMA, scalar siblings) against the float64 reference, on odd and prime sizes, channel
// counts around the SIMD widths, kernels 1..7 and rectangular, equal and unequal strides, both paddings
// and batches of 1..3. Outputs start as NaN garbage (gradients must overwrite them), scratch too, and
// after every call the whole of wasm memory outside the call's outputs must be unchanged.
//
// Plain SIMD vs scalar sibling: bit for bit for all four outputs (the direct-convolution tiles and
// tile_scalar add the products in the same order, mul then add). One exception, asserted as such: a
// 1x1 stride-1 unpadded convolution is a GEMM, and with fewer than 4 output pixels its input gradient
// goes through gemm_nt's dot-product path, which reduces lanes as a tree; there the two agree to
// float32 rounding (checked with a tolerance). The relaxed build fuses multiply-adds, so it is only
// compared with the reference.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { conv2dAllRef, type ConvCase, conv2dForwardRef, convGeometry, mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, sumTol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** "N,H,W,C k=KH,KW oc=OC s=SH,SW pad" or "... s=SH,SW d=DH,DW pad" (dilated) */
function parse(s: string): ConvCase {
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) k=(\d+),(\d+) oc=(\d+) s=(\d+),(\d+)(?: d=(\d+),(\d+))? (valid|same)$/);
  if (!m) throw new Error(`bad case ${s}`);
  const [N, H, W, C, KH, KW, OC, SH, SW] = m.slice(1, 10).map(Number);
  return { N, H, W, C, KH, KW, OC, SH, SW, DH: Number(m[10] ?? 1), DW: Number(m[11] ?? 1), pad: m[12] as 'valid' | 'same' };
}

const cases = [
  '2,7,9,3 k=3,3 oc=5 s=2,2 same',
  '1,8,8,1 k=3,3 oc=8 s=1,1 valid',
  '3,6,5,17 k=2,2 oc=7 s=1,1 same',
  '2,11,7,5 k=5,3 oc=13 s=2,3 valid',
  '1,8,8,3 k=4,4 oc=8 s=1,1 same',
  '2,13,13,1 k=7,7 oc=33 s=3,3 same',
  '1,9,9,5 k=5,5 oc=1 s=1,1 valid',
  '2,4,6,17 k=1,1 oc=9 s=2,2 valid',
  '3,5,5,4 k=1,1 oc=13 s=1,1 valid',
  '1,2,3,5 k=1,1 oc=7 s=1,1 same',
  '1,1,3,5 k=1,1 oc=7 s=1,1 valid',
  '1,3,3,4 k=3,3 oc=8 s=1,1 same',
  '3,10,12,8 k=3,3 oc=16 s=1,1 same',
  '1,2,2,3 k=2,2 oc=3 s=1,1 valid',
  '1,1,1,1 k=1,1 oc=1 s=1,1 valid',
  '1,6,6,2 k=6,6 oc=4 s=1,1 valid',
  '2,9,7,3 k=2,5 oc=11 s=1,2 same',
  '1,13,11,3 k=3,3 oc=7 s=1,1 same',
  '2,5,7,1 k=2,5 oc=1 s=3,1 valid',
  '3,7,7,5 k=3,3 oc=33 s=2,2 valid',
  '1,5,5,17 k=5,5 oc=8 s=1,1 same',
  '2,11,13,3 k=7,7 oc=13 s=2,3 same',
  '1,4,4,3 k=5,5 oc=7 s=1,1 same',
  '1,9,4,5 k=3,1 oc=8 s=2,1 same',
  '1,7,5,3 k=1,3 oc=13 s=1,3 valid',
  '3,8,6,17 k=2,2 oc=33 s=2,2 valid',
  '1,6,9,4 k=4,2 oc=7 s=3,2 same',
  '2,16,16,1 k=5,5 oc=8 s=1,1 valid',
  '1,12,12,8 k=3,3 oc=13 s=3,3 same',
  '1,1,7,3 k=1,3 oc=5 s=1,2 same',
  '1,2,1,3 k=3,3 oc=7 s=2,2 same',
  '2,10,10,5 k=2,2 oc=17 s=2,2 same',
  '3,9,9,1 k=3,3 oc=1 s=3,3 valid',
  '1,14,10,17 k=3,3 oc=1 s=1,1 same',
  '2,6,6,3 k=3,3 oc=7 s=1,3 same',
  // Dilated (atrous): rows only, columns only, both, with channel counts around 4 and 8.
  '2,9,11,3 k=3,3 oc=5 s=1,1 d=2,2 same',
  '1,13,10,4 k=3,3 oc=9 s=1,1 d=3,1 same',
  '2,7,12,5 k=2,3 oc=8 s=1,1 d=1,4 valid',
  '1,11,11,8 k=3,3 oc=13 s=1,1 d=2,3 valid',
  '3,6,7,1 k=3,2 oc=3 s=1,1 d=2,5 same',
  '1,10,9,17 k=5,5 oc=7 s=1,1 d=2,2 same',
  '1,5,5,2 k=3,3 oc=4 s=1,1 d=3,3 same',
  // The kernels allow strides with dilation too (Conv2D refuses them, as TF.js does).
  '1,12,13,3 k=3,3 oc=6 s=2,3 d=2,2 same',
].map(parse);

const stride = (c: ConvCase) => (c.SH === c.SW ? `${c.SH}` : `[${c.SH},${c.SW}]`);
const dilation = (c: ConvCase) => ((c.DH ?? 1) > 1 || (c.DW ?? 1) > 1 ? ` dilation=[${c.DH},${c.DW}]` : '');
const caseName = (c: ConvCase) =>
  `conv2d x=[${c.N},${c.H},${c.W},${c.C}] k=[${c.KH},${c.KW},${c.C},${c.OC}] stride=${stride(c)}${dilation(c)} ${c.pad}`;
const flagName = (f: number) => [f & FLAG_BIAS ? 'bias' : '', f & FLAG_RELU ? 'relu' : ''].filter(Boolean).join('+') || 'no bias/act';

const pointwise = (c: ConvCase) => c.KH === 1 && c.KW === 1 && c.SH === 1 && c.SW === 1;

function caseData(c: ConvCase, seed: number) {
  const rnd = mulberry32(seed);
  const { OH, OW } = convGeometry(c);
  const x = randomArray(c.N * c.H * c.W * c.C, rnd),
    w = randomArray(c.KH * c.KW * c.C * c.OC, rnd);
  const b = randomArray(c.OC, rnd),
    dy = randomArray(c.N * OH * OW * c.OC, rnd);
  return { x, w, b, dy, OH, OW };
}
type Data = ReturnType<typeof caseData>;

type Which = 'x' | 'w' | 'b' | 'dy' | 'y' | 'dx' | 'dw' | 'db' | 'scratch';

/**
 * The three conv kernels on one backend. `last` puts that buffer flush against the end of wasm memory
 * (an over-read or over-write traps); the others sit behind canaries.
 */
function runConv(ar: Arena, c: ConvCase, d: Data, fwdFlags: number, bwdFlags: number, last: Which | null = null) {
  const g = computeWindow2D('t', [c.H, c.W, c.C], [c.KH, c.KW], [c.SH, c.SW], c.pad, c.N, [c.DH ?? 1, c.DW ?? 1]);
  const ys = d.dy.length,
    xs = d.x.length,
    ws = d.w.length;
  const sizes: Record<Which, number | Float32Array> = {
    x: d.x,
    w: d.w,
    b: d.b,
    dy: d.dy,
    y: ys,
    dx: xs,
    dw: ws,
    db: c.OC,
    scratch: conv2dScratchFloats(g, c.OC),
  };
  const ptr = ar.place(sizes, last);
  const bias = fwdFlags & FLAG_BIAS ? ptr.b : 0; // no bias: a null pointer the kernel must not touch
  const db = bwdFlags & FLAG_BIAS ? ptr.db : 0;
  const label = caseName(c);
  ar.run(`${label} forward`, [ptr.y, ptr.scratch], () =>
    conv2dForward(ar.be, ptr.x, ptr.w, bias, ptr.y, ptr.scratch, g, c.N, c.OC, fwdFlags),
  );
  ar.refill(ptr.scratch);
  ar.run(`${label} grad input`, [ptr.dx, ptr.scratch], () => conv2dBackwardInput(ar.be, ptr.dy, ptr.w, ptr.dx, ptr.scratch, g, c.N, c.OC));
  ar.refill(ptr.scratch);
  // dw and db only: with bwdFlags lacking FLAG_BIAS, db must stay as it was (garbage).
  ar.run(`${label} grad filter`, db ? [ptr.dw, ptr.db, ptr.scratch] : [ptr.dw, ptr.scratch], () =>
    conv2dBackwardFilter(ar.be, ptr.x, ptr.dy, ptr.dw, db, ptr.scratch, g, c.N, c.OC, bwdFlags),
  );
  return { y: ar.read(ptr.y), dx: ar.read(ptr.dx), dw: ar.read(ptr.dw), db: db ? ar.read(ptr.db) : null, g };
}

const references = (c: ConvCase, d: Data, fwdFlags: number) =>
  conv2dAllRef(c, d, (fwdFlags & FLAG_BIAS) !== 0, (fwdFlags & FLAG_RELU) !== 0);

const FWD_FLAGS = [FLAG_BIAS | FLAG_RELU, FLAG_BIAS, FLAG_RELU, 0];

describe('conv2d kernels vs float64 reference', () => {
  cases.forEach((c, idx) => {
    const fwdFlags = FWD_FLAGS[idx % FWD_FLAGS.length],
      bwdFlags = idx % 3 === 2 ? 0 : FLAG_BIAS;
    it(`${caseName(c)} (${flagName(fwdFlags)}${bwdFlags ? '' : ', no bias grad'})`, () => {
      const d = caseData(c, 100 + idx);
      const ref = references(c, d, fwdFlags);
      const { OH, OW, PT, PL, PB, PR } = convGeometry(c);
      const pixels = c.N * OH * OW;
      const tol = {
        y: { ...sumTol(c.KH * c.KW * c.C), shape: [c.N, OH, OW, c.OC] },
        dx: { ...sumTol(c.KH * c.KW * c.OC), shape: [c.N, c.H, c.W, c.C] },
        dw: { ...sumTol(pixels), shape: [c.KH, c.KW, c.C, c.OC] },
        db: sumTol(pixels),
      };
      const out: Record<string, ReturnType<typeof runConv>> = {};
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => runConv(ar, c, d, fwdFlags, bwdFlags));
        expect([r.g.OH, r.g.OW, r.g.PT, r.g.PL, r.g.PB, r.g.PR], 'computeWindow2D vs TF rule').toEqual([OH, OW, PT, PL, PB, PR]);
        expectClose(r.y, ref.y, tol.y, `${name} forward`);
        expectClose(r.dx, ref.dx, tol.dx, `${name} grad input`);
        expectClose(r.dw, ref.dw, tol.dw, `${name} grad filter`);
        if (r.db) expectClose(r.db, ref.db, tol.db, `${name} grad bias`);
        out[name] = r;
      }
      const s = out.simd,
        q = out.scalar;
      expectBitwise(s.y, q.y, 'simd vs scalar forward');
      if (pointwise(c) && pixels < 4 && c.OC >= 4)
        expectClose(s.dx, q.dx, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(c.OC) }, 'simd (gemm_nt dot path) vs scalar grad input');
      else expectBitwise(s.dx, q.dx, 'simd vs scalar grad input');
      expectBitwise(s.dw, q.dw, 'simd vs scalar grad filter');
      if (s.db) expectBitwise(s.db, q.db!, 'simd vs scalar grad bias');
    });
  });
});

describe('conv2d kernels never read or write past their buffers (each buffer flush against the end of memory)', () => {
  const edge = [
    '2,7,9,3 k=3,3 oc=5 s=2,2 same',
    '1,5,7,3 k=1,1 oc=7 s=1,1 valid',
    '1,6,5,4 k=2,2 oc=13 s=1,1 valid',
    '2,5,5,1 k=3,3 oc=9 s=1,2 same',
    '1,7,9,3 k=3,3 oc=5 s=1,1 d=2,3 same',
  ].map(parse);
  const all: Which[] = ['x', 'w', 'b', 'dy', 'y', 'dx', 'dw', 'db', 'scratch'];
  edge.forEach((c, idx) => {
    it(`${caseName(c)}: x, w, b, dy, y, dx, dw, db and scratch each last in memory`, () => {
      const d = caseData(c, 700 + idx);
      const flags = FLAG_BIAS | FLAG_RELU;
      const ref = references(c, d, flags);
      for (const { name, be } of vs) {
        for (const last of all) {
          const r = withArena(be, (ar) => runConv(ar, c, d, flags, FLAG_BIAS, last));
          const at = `${name} with ${last} last`;
          expectClose(r.y, ref.y, sumTol(c.KH * c.KW * c.C), `${at}: forward`);
          expectClose(r.dx, ref.dx, sumTol(c.KH * c.KW * c.OC), `${at}: grad input`);
          expectClose(r.dw, ref.dw, sumTol(d.dy.length / c.OC), `${at}: grad filter`);
          expectClose(r.db!, ref.db, sumTol(d.dy.length / c.OC), `${at}: grad bias`);
        }
      }
    });
  });
});

describe('conv2d forward flags', () => {
  it('conv2d x=[1,5,6,3] k=[3,3,3,9] stride=1 same: relu clamps exactly the negative pre-activations', () => {
    const c = parse('1,5,6,3 k=3,3 oc=9 s=1,1 same');
    const d = caseData(c, 31);
    const plain = conv2dForwardRef(c, d.x, d.w, d.b, false);
    for (const { name, be } of vs) {
      const [lin, act] = [FLAG_BIAS, FLAG_BIAS | FLAG_RELU].map((f) => withArena(be, (ar) => runConv(ar, c, d, f, FLAG_BIAS).y));
      expectClose(lin, plain, sumTol(27), `${name} bias only`);
      lin.forEach((v, i) => {
        if ((v > 0 ? v : 0) !== act[i]) expect.fail(`${name}: relu(${v}) gave ${act[i]} at ${i}`);
      });
    }
  });
});
