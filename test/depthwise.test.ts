// Depthwise conv forward (+bias, +relu), input gradient, filter and bias gradients: every variant (plain
// SIMD, relaxed-SIMD FMA, scalar siblings) against the float64 reference, on odd and prime sizes, channel
// counts around the SIMD width (1..33, so 4-channel vectors and scalar remainders all
// run), kernels 1..7 and rectangular, strides 1..3, dilations, depth multipliers 1..3, both paddings and
// batches of 1..3. Outputs and scratch start as NaN garbage, and after every call the whole of wasm
// memory outside the call's outputs must be unchanged. Plain SIMD vs scalar sibling: bit for bit (both
// sum the taps of an element in the same order, mul then add); the relaxed build fuses multiply-adds,
// so it is compared with the reference only.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import {
  depthwiseBackwardFilter,
  depthwiseBackwardInput,
  depthwiseForward,
  depthwiseGeometry,
  depthwiseScratchFloats,
  setDepthwiseVariant,
} from '../src/kernels/depthwise.js';
import { type DwCase, depthwiseGradFilterRef, depthwiseGradInputRef, depthwiseRef, dwGeometry } from './depthwise-reference.js';
import { mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, sumTol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** "N,H,W,C k=KH,KW dm=DM s=SH,SW d=DH,DW pad" */
function parse(s: string): DwCase {
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) k=(\d+),(\d+) dm=(\d+) s=(\d+),(\d+) d=(\d+),(\d+) (valid|same)$/);
  if (!m) throw new Error(`bad case ${s}`);
  const [N, H, W, C, KH, KW, DM, SH, SW, DH, DW] = m.slice(1, 12).map(Number);
  return { N, H, W, C, KH, KW, DM, SH, SW, DH, DW, pad: m[12] as 'valid' | 'same' };
}

const cases = [
  '2,7,9,3 k=3,3 dm=1 s=1,1 d=1,1 same',
  '1,8,8,16 k=3,3 dm=1 s=1,1 d=1,1 same',
  '2,9,11,17 k=3,3 dm=1 s=2,2 d=1,1 same',
  '1,10,10,32 k=3,3 dm=1 s=2,2 d=1,1 same',
  '3,7,6,20 k=3,3 dm=1 s=1,1 d=1,1 valid',
  '1,13,13,33 k=3,3 dm=1 s=2,2 d=1,1 valid',
  '2,6,7,5 k=3,3 dm=2 s=1,1 d=1,1 same',
  '1,9,8,8 k=3,3 dm=2 s=2,2 d=1,1 same',
  '1,7,7,3 k=3,3 dm=3 s=1,1 d=1,1 valid',
  '2,11,7,5 k=5,3 dm=1 s=2,3 d=1,1 valid',
  '1,8,8,4 k=4,4 dm=1 s=1,1 d=1,1 same',
  '2,13,13,1 k=7,7 dm=1 s=3,3 d=1,1 same',
  '1,9,9,7 k=5,5 dm=1 s=1,1 d=1,1 valid',
  '2,4,6,17 k=1,1 dm=1 s=2,2 d=1,1 valid',
  '3,5,5,4 k=1,1 dm=2 s=1,1 d=1,1 valid',
  '1,1,1,1 k=1,1 dm=1 s=1,1 d=1,1 valid',
  '1,2,3,5 k=3,3 dm=1 s=1,1 d=1,1 same',
  '1,2,1,3 k=3,3 dm=1 s=2,2 d=1,1 same',
  '2,9,7,3 k=2,5 dm=1 s=1,2 d=1,1 same',
  '1,6,6,2 k=6,6 dm=1 s=1,1 d=1,1 valid',
  '1,4,4,3 k=5,5 dm=1 s=1,1 d=1,1 same',
  '2,10,10,12 k=2,2 dm=1 s=2,2 d=1,1 same',
  '1,12,12,8 k=3,3 dm=1 s=3,3 d=1,1 same',
  '3,9,9,1 k=3,3 dm=1 s=3,3 d=1,1 valid',
  '1,11,13,6 k=3,3 dm=1 s=1,1 d=2,2 same',
  '2,12,9,5 k=3,3 dm=2 s=1,1 d=2,3 valid',
  '1,10,11,4 k=2,3 dm=1 s=1,1 d=3,2 same',
  '1,14,10,23 k=3,3 dm=1 s=1,1 d=1,1 same',
  '2,6,6,3 k=3,3 dm=1 s=1,3 d=1,1 same',
  '1,5,7,29 k=3,3 dm=1 s=2,1 d=1,1 valid',
  '1,3,17,2 k=1,3 dm=4 s=1,2 d=1,1 same',
].map(parse);

const pair = (a: number, b: number) => (a === b ? `${a}` : `[${a},${b}]`);
const caseName = (c: DwCase) =>
  `depthwise x=[${c.N},${c.H},${c.W},${c.C}] k=[${c.KH},${c.KW},${c.C},${c.DM}] stride=${pair(c.SH, c.SW)}` +
  `${c.DH * c.DW > 1 ? ` dilation=${pair(c.DH, c.DW)}` : ''} ${c.pad}`;
const flagName = (f: number) => [f & FLAG_BIAS ? 'bias' : '', f & FLAG_RELU ? 'relu' : ''].filter(Boolean).join('+') || 'no bias/act';

function caseData(c: DwCase, seed: number) {
  const rnd = mulberry32(seed);
  const { OH, OW } = dwGeometry(c);
  const OC = c.C * c.DM;
  const x = randomArray(c.N * c.H * c.W * c.C, rnd),
    w = randomArray(c.KH * c.KW * OC, rnd);
  const b = randomArray(OC, rnd),
    dy = randomArray(c.N * OH * OW * OC, rnd);
  return { x, w, b, dy, OH, OW, OC };
}
type Data = ReturnType<typeof caseData>;

type Which = 'x' | 'w' | 'b' | 'dy' | 'y' | 'dx' | 'dw' | 'db' | 'scratch';

const geometryOf = (c: DwCase) => depthwiseGeometry('t', [c.H, c.W, c.C], [c.KH, c.KW], [c.SH, c.SW], [c.DH, c.DW], c.pad, c.DM);

/** The three kernels on one backend; `last` puts that buffer flush against the end of wasm memory. */
function runDw(ar: Arena, c: DwCase, d: Data, fwdFlags: number, bwdFlags: number, last: Which | null = null) {
  const g = geometryOf(c);
  const sizes: Record<Which, number | Float32Array> = {
    x: d.x,
    w: d.w,
    b: d.b,
    dy: d.dy,
    y: d.dy.length,
    dx: d.x.length,
    dw: d.w.length,
    db: d.OC,
    scratch: depthwiseScratchFloats(g),
  };
  const ptr = {} as Record<Which, number>;
  for (const k of Object.keys(sizes) as Which[]) {
    if (k === last) continue;
    const v = sizes[k];
    ptr[k] = typeof v === 'number' ? ar.out(k, v) : ar.f32(k, v);
  }
  if (last) ptr[last] = ar.atEnd(last, sizes[last]);
  const bias = fwdFlags & FLAG_BIAS ? ptr.b : 0;
  const db = bwdFlags & FLAG_BIAS ? ptr.db : 0;
  const label = caseName(c);
  ar.run(`${label} forward`, [ptr.y, ptr.scratch], () => depthwiseForward(ar.be, ptr.x, ptr.w, bias, ptr.y, ptr.scratch, g, c.N, fwdFlags));
  ar.refill(ptr.scratch);
  ar.run(`${label} grad input`, [ptr.dx, ptr.scratch], () => depthwiseBackwardInput(ar.be, ptr.dy, ptr.w, ptr.dx, ptr.scratch, g, c.N));
  ar.refill(ptr.scratch);
  ar.run(`${label} grad filter`, db ? [ptr.dw, ptr.db, ptr.scratch] : [ptr.dw, ptr.scratch], () =>
    depthwiseBackwardFilter(ar.be, ptr.x, ptr.dy, ptr.dw, db, ptr.scratch, g, c.N, bwdFlags),
  );
  return { y: ar.read(ptr.y), dx: ar.read(ptr.dx), dw: ar.read(ptr.dw), db: db ? ar.read(ptr.db) : null, g };
}

function references(c: DwCase, d: Data, fwdFlags: number) {
  const f = depthwiseGradFilterRef(c, d.x, d.dy);
  return {
    y: depthwiseRef(c, d.x, d.w, fwdFlags & FLAG_BIAS ? d.b : null, (fwdFlags & FLAG_RELU) !== 0),
    dx: depthwiseGradInputRef(c, d.w, d.dy),
    dw: f.dw,
    db: f.db,
  };
}

const FWD_FLAGS = [FLAG_BIAS | FLAG_RELU, FLAG_BIAS, FLAG_RELU, 0];

describe('depthwise kernels vs float64 reference', () => {
  cases.forEach((c, idx) => {
    const fwdFlags = FWD_FLAGS[idx % FWD_FLAGS.length],
      bwdFlags = idx % 3 === 2 ? 0 : FLAG_BIAS;
    it(`${caseName(c)} dm=${c.DM} (${flagName(fwdFlags)}${bwdFlags ? '' : ', no bias grad'})`, () => {
      const d = caseData(c, 100 + idx);
      const ref = references(c, d, fwdFlags);
      const { OH, OW, PT, PL, PB, PR } = dwGeometry(c);
      const pixels = c.N * OH * OW;
      const tol = {
        y: { ...sumTol(c.KH * c.KW), shape: [c.N, OH, OW, d.OC] },
        dx: { ...sumTol(c.KH * c.KW * c.DM), shape: [c.N, c.H, c.W, c.C] },
        dw: { ...sumTol(pixels), shape: [c.KH, c.KW, c.C, c.DM] },
        db: sumTol(pixels),
      };
      const out: Record<string, ReturnType<typeof runDw>> = {};
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => runDw(ar, c, d, fwdFlags, bwdFlags));
        expect([r.g.OH, r.g.OW, r.g.PT, r.g.PL, r.g.PB, r.g.PR], 'depthwiseGeometry vs TF rule').toEqual([OH, OW, PT, PL, PB, PR]);
        expectClose(r.y, ref.y, tol.y, `${name} forward`);
        expectClose(r.dx, ref.dx, tol.dx, `${name} grad input`);
        expectClose(r.dw, ref.dw, tol.dw, `${name} grad filter`);
        if (r.db) expectClose(r.db, ref.db, tol.db, `${name} grad bias`);
        out[name] = r;
      }
      const s = out.simd,
        q = out.scalar;
      expectBitwise(s.y, q.y, 'simd vs scalar forward');
      expectBitwise(s.dx, q.dx, 'simd vs scalar grad input');
      expectBitwise(s.dw, q.dw, 'simd vs scalar grad filter');
      if (s.db) expectBitwise(s.db, q.db!, 'simd vs scalar grad bias');
    });
  });
});

describe('depthwise kernels never read or write past their buffers (each buffer flush against the end of memory)', () => {
  const edge = [
    '2,7,9,3 k=3,3 dm=1 s=2,2 d=1,1 same',
    '1,6,5,17 k=3,3 dm=1 s=1,1 d=1,1 valid',
    '1,5,7,6 k=3,3 dm=2 s=1,1 d=1,1 same',
    '2,5,5,20 k=2,3 dm=1 s=1,2 d=2,1 same',
    // pixel-major at stride 2 (its touch loads run past the source's end and must stop at its last byte)
    '2,9,11,24 k=3,3 dm=1 s=2,2 d=1,1 same',
    '1,9,7,8 k=3,3 dm=2 s=2,2 d=1,1 same',
  ].map(parse);
  const all: Which[] = ['x', 'w', 'b', 'dy', 'y', 'dx', 'dw', 'db', 'scratch'];
  edge.forEach((c, idx) => {
    it(`${caseName(c)} dm=${c.DM}: x, w, b, dy, y, dx, dw, db and scratch each last in memory`, () => {
      const d = caseData(c, 700 + idx);
      const flags = FLAG_BIAS | FLAG_RELU;
      const ref = references(c, d, flags);
      const terms = d.dy.length / d.OC;
      for (const { name, be } of vs) {
        for (const last of all) {
          const r = withArena(be, (ar) => runDw(ar, c, d, flags, FLAG_BIAS, last));
          const at = `${name} with ${last} last`;
          expectClose(r.y, ref.y, sumTol(c.KH * c.KW), `${at}: forward`);
          expectClose(r.dx, ref.dx, sumTol(c.KH * c.KW * c.DM), `${at}: grad input`);
          expectClose(r.dw, ref.dw, sumTol(terms), `${at}: grad filter`);
          expectClose(r.db!, ref.db, sumTol(terms), `${at}: grad bias`);
        }
      }
    });
  });
});

describe('depthwise interior kernels forced (setDepthwiseVariant): row passes and pixel-major each vs float64 reference, SIMD == scalar', () => {
  // 3x3 rows at stride 1 and 2: 4-pixel blocks plus a remainder, rows with 1-3 kernel rows inside the image,
  // the depthMultiplier ring, channels not a multiple of 4, falling taps (input gradient).
  const forced = [
    '2,9,11,17 k=3,3 dm=1 s=1,1 d=1,1 same',
    '1,2,13,8 k=3,3 dm=1 s=1,1 d=1,1 same',
    '1,11,17,12 k=3,3 dm=1 s=2,2 d=1,1 same',
    '2,10,9,6 k=3,3 dm=1 s=2,2 d=1,1 valid',
    '1,7,10,5 k=3,3 dm=2 s=2,2 d=1,1 same',
    '1,6,13,7 k=3,3 dm=1 s=1,2 d=1,1 same',
    // the filter gradient's bands ('pixels' and 'rule'; 'rows' forces the row passes): 6-row bands at width 14
    // with a 1-row remainder and a scalar channel; stride 2 with the right column padded (even width) and with
    // both sides padded (odd width); 'valid' at stride 1 and 2
    '2,13,14,9 k=3,3 dm=1 s=1,1 d=1,1 same',
    '1,17,14,12 k=3,3 dm=1 s=2,2 d=1,1 same',
    '2,9,9,5 k=3,3 dm=1 s=2,2 d=1,1 same',
    '1,7,16,4 k=3,3 dm=1 s=1,1 d=1,1 valid',
    '1,11,13,8 k=3,3 dm=1 s=2,2 d=1,1 valid',
    // pixel-major on packed weights (no bias on odd cases: zeros packed): 2 kernel rows (6 taps packed), 5 rows
    // (not packed: row passes even when forced), the depthMultiplier ring at stride 1, dilated kernel rows
    '1,9,7,13 k=2,3 dm=1 s=1,1 d=1,1 same',
    '1,8,9,7 k=5,3 dm=1 s=1,1 d=1,1 same',
    '2,11,10,6 k=3,3 dm=2 s=1,1 d=1,1 same',
    '1,12,11,8 k=3,3 dm=1 s=1,1 d=2,2 same',
  ].map(parse);
  for (const variant of ['rows', 'pixels'] as const) {
    forced.forEach((c, idx) => {
      const flags = idx % 2 === 1 ? FLAG_RELU : FLAG_BIAS | FLAG_RELU;
      it(`${caseName(c)} dm=${c.DM} interior=${variant} (${flagName(flags)})`, () => {
        const d = caseData(c, 900 + idx);
        const ref = references(c, d, flags);
        const pixels = d.dy.length / d.OC;
        const out: Record<string, ReturnType<typeof runDw>> = {};
        for (const { name, be } of vs) {
          setDepthwiseVariant(be, variant);
          try {
            out[name] = withArena(be, (ar) => runDw(ar, c, d, flags, FLAG_BIAS));
          } finally {
            setDepthwiseVariant(be, 'rule');
          }
          const r = out[name];
          expectClose(r.y, ref.y, sumTol(c.KH * c.KW), `${name} forward`);
          expectClose(r.dx, ref.dx, sumTol(c.KH * c.KW * c.DM), `${name} grad input`);
          expectClose(r.dw, ref.dw, sumTol(pixels), `${name} grad filter`);
          expectClose(r.db!, ref.db, sumTol(pixels), `${name} grad bias`);
        }
        expectBitwise(out.simd.y, out.scalar.y, 'simd vs scalar forward');
        expectBitwise(out.simd.dx, out.scalar.dx, 'simd vs scalar grad input');
        expectBitwise(out.simd.dw, out.scalar.dw, 'simd vs scalar grad filter');
      });
    });
  }
  it('pixel-major touch loads change no bit: x=[3,13,12,40] k=[3,3,40,1] stride 1 and 2, touch on vs off', () => {
    for (const c of ['3,13,12,40 k=3,3 dm=1 s=1,1 d=1,1 same', '3,13,12,40 k=3,3 dm=1 s=2,2 d=1,1 same'].map(parse)) {
      const d = caseData(c, 950);
      const be = vs.find((v) => v.name === 'simd')!.be;
      const run = (touch: boolean) => {
        setDepthwiseVariant(be, 'pixels', { touch });
        try {
          return withArena(be, (ar) => runDw(ar, c, d, FLAG_BIAS | FLAG_RELU, FLAG_BIAS));
        } finally {
          setDepthwiseVariant(be, 'rule');
        }
      };
      const on = run(true),
        off = run(false);
      expectBitwise(on.y, off.y, `${caseName(c)} forward`);
      expectBitwise(on.dx, off.dx, `${caseName(c)} grad input`);
      expectClose(on.y, references(c, d, FLAG_BIAS | FLAG_RELU).y, sumTol(9), `${caseName(c)} forward vs reference`);
    }
  });
  it('setDepthwiseVariant refuses an unknown name', () => {
    expect(() => setDepthwiseVariant(vs[0].be, 'fast' as never)).toThrow(/expected one of rule, rows, pixels, received fast/);
  });
});
