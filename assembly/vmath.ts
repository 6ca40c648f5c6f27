// Elementwise maths for the activations: exp, expm1, log1p, tanh, the sigmoid and the normal CDF, each as
// an f32x4 function and a scalar sibling doing the same float32 operations in the same order (so the two
// agree bit for bit in the plain build). No FMA anywhere here: the relaxed build gives the same bits too.
// Errors against float64 are measured in test/activation.test.ts (2 ulp for exp-based functions).

const LOG2E: f32 = 1.44269504088896341;
// ln 2 split in two so k * LN2_HI is exact for |k| < 2^15 (Cephes).
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
// exp's input range: below it the result is 0 (or a subnormal computed exactly enough), above it +Infinity.
const EXP_LO: f32 = -104;
const EXP_HI: f32 = 88.8;
const P0: f32 = 1.987569150e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** e^x with Cephes's minimax polynomial on [-ln2/2, ln2/2]; 2^k applied in two halves so subnormals and overflow come out right. */
// @ts-ignore: decorator
@inline export function exp_s(x: f32): f32 {
  x = x < EXP_LO ? EXP_LO : x;
  x = x > EXP_HI ? EXP_HI : x;
  const k = nearest<f32>(x * LOG2E);
  const r = x - k * LN2_HI - k * LN2_LO;
  const p = (((((P0 * r + P1) * r + P2) * r + P3) * r + P4) * r + P5) * (r * r) + r + 1;
  const ki = <i32>k, h = ki >> 1;
  return p * reinterpret<f32>((h + 127) << 23) * reinterpret<f32>((ki - h + 127) << 23);
}

// @ts-ignore: decorator
@inline export function exp_v(x: v128): v128 {
  x = f32x4.pmax(x, f32x4.splat(EXP_LO));
  x = f32x4.pmin(x, f32x4.splat(EXP_HI));
  const k = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  const ki = i32x4.trunc_sat_f32x4_s(k), h = i32x4.shr_s(ki, 1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(h, bias), 23), s2 = i32x4.shl(i32x4.add(i32x4.sub(ki, h), bias), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

// e^x - 1: Taylor to x^8 for |x| < 1/2 (no cancellation), exp(x) - 1 beyond.
const E2: f32 = 0.5;
const E3: f32 = 1.0 / 6;
const E4: f32 = 1.0 / 24;
const E5: f32 = 1.0 / 120;
const E6: f32 = 1.0 / 720;
const E7: f32 = 1.0 / 5040;
const E8: f32 = 1.0 / 40320;

// @ts-ignore: decorator
@inline export function expm1_s(x: f32): f32 {
  if (Mathf.abs(x) < 0.5) return (((((((E8 * x + E7) * x + E6) * x + E5) * x + E4) * x + E3) * x + E2) * (x * x)) + x;
  return exp_s(x) - 1;
}

// @ts-ignore: decorator
@inline export function expm1_v(x: v128): v128 {
  let p = f32x4.add(f32x4.mul(f32x4.splat(E8), x), f32x4.splat(E7));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(E6));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(E5));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(E4));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(E3));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(E2));
  p = f32x4.add(f32x4.mul(p, f32x4.mul(x, x)), x);
  const big = f32x4.sub(exp_v(x), f32x4.splat(1));
  return v128.bitselect(p, big, f32x4.lt(f32x4.abs(x), f32x4.splat(0.5)));
}

// log(m) = 2 atanh(s), s = (m - 1) / (m + 1), m in [sqrt(1/2), sqrt(2)]: |s| <= 0.172, odd series to s^9.
const L3: f32 = 2.0 / 3;
const L5: f32 = 2.0 / 5;
const L7: f32 = 2.0 / 7;
const L9: f32 = 2.0 / 9;
const LN2: f32 = 0.693147180559945309;
const SQRT2: f32 = 1.41421356237309505;

/** log(1 + u) for u in [0, 1] (softplus's range): log(w) * u / (w - 1) with w = 1 + u corrects w's rounding (Goldberg). */
// @ts-ignore: decorator
@inline export function log1p_s(u: f32): f32 {
  const w: f32 = 1 + u;
  const big = w > SQRT2;
  const m: f32 = big ? w * 0.5 : w;
  const s = (m - 1) / (m + 1), s2 = s * s;
  let l = ((((L9 * s2 + L7) * s2 + L5) * s2 + L3) * s2 + 2) * s;
  if (big) l = l + LN2;
  return w == 1 ? u : l * (u / (w - 1));
}

// @ts-ignore: decorator
@inline export function log1p_v(u: v128): v128 {
  const one = f32x4.splat(1);
  const w = f32x4.add(one, u);
  const big = f32x4.gt(w, f32x4.splat(SQRT2));
  const m = v128.bitselect(f32x4.mul(w, f32x4.splat(0.5)), w, big);
  const s = f32x4.div(f32x4.sub(m, one), f32x4.add(m, one)), s2 = f32x4.mul(s, s);
  let l = f32x4.add(f32x4.mul(f32x4.splat(L9), s2), f32x4.splat(L7));
  l = f32x4.add(f32x4.mul(l, s2), f32x4.splat(L5));
  l = f32x4.add(f32x4.mul(l, s2), f32x4.splat(L3));
  l = f32x4.add(f32x4.mul(l, s2), f32x4.splat(2));
  l = f32x4.mul(l, s);
  l = v128.bitselect(f32x4.add(l, f32x4.splat(LN2)), l, big);
  const r = f32x4.mul(l, f32x4.div(u, f32x4.sub(w, one)));
  return v128.bitselect(u, r, f32x4.eq(w, one));
}

/** 1 / (1 + e^-x). */
// @ts-ignore: decorator
@inline export function sigmoid_s(x: f32): f32 {
  return 1 / (1 + exp_s(-x));
}

// @ts-ignore: decorator
@inline export function sigmoid_v(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp_v(f32x4.neg(x))));
}

// tanh: Cephes's odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) with x's sign above.
const T0: f32 = -5.70498872745e-3;
const T1: f32 = 2.06390887954e-2;
const T2: f32 = -5.37397155531e-2;
const T3: f32 = 1.33314422036e-1;
const T4: f32 = -3.33332819422e-1;

// @ts-ignore: decorator
@inline export function tanh_s(x: f32): f32 {
  const a = Mathf.abs(x);
  if (a < 0.625) {
    const z = x * x;
    return ((((T0 * z + T1) * z + T2) * z + T3) * z + T4) * z * x + x;
  }
  const t: f32 = 1 - 2 / (exp_s(a + a) + 1);
  return copysign<f32>(t, x);
}

// @ts-ignore: decorator
@inline export function tanh_v(x: v128): v128 {
  const a = f32x4.abs(x), z = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T0), z), f32x4.splat(T1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T3));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T4));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const one = f32x4.splat(1);
  const t = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(exp_v(f32x4.add(a, a)), one)));
  const sign = v128.and(x, i32x4.splat(0x80000000));
  return v128.bitselect(p, v128.or(t, sign), f32x4.lt(a, f32x4.splat(0.625)));
}

// The normal CDF Phi(x) = erfc(|x| / sqrt 2) / 2 for x < 0 (1 - that above), with erfc from Numerical
// Recipes' Chebyshev fit (erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), relative error < 1.2e-7 for all
// z >= 0). z^2 = x^2 / 2 is formed from x, not from a rounded z, and split as (xh^2 + (x - xh)(x + xh)) / 2
// with xh the top 12 bits of x, so the large exponent carries no rounding.
const C0: f32 = -1.26551223;
const C1: f32 = 1.00002368;
const C2: f32 = 0.37409196;
const C3: f32 = 0.09678418;
const C4: f32 = -0.18628806;
const C5: f32 = 0.27886807;
const C6: f32 = -1.13520398;
const C7: f32 = 1.48851587;
const C8: f32 = -0.82215223;
const C9: f32 = 0.17087277;
const HALF_INV_SQRT2: f32 = 0.353553390593273762;
const HI_MASK: i32 = 0xfffff000;
/** Phi(-20) underflows float32 by far; capping keeps Infinity from making inf - inf. */
const TAIL_MAX: f32 = 20;

/** erfc(a / sqrt 2) / 2 for a >= 0. */
// @ts-ignore: decorator
@inline function tail_s(a: f32): f32 {
  a = a > TAIL_MAX ? TAIL_MAX : a;
  const t: f32 = 1 / (1 + HALF_INV_SQRT2 * a);
  const q = ((((((((C9 * t + C8) * t + C7) * t + C6) * t + C5) * t + C4) * t + C3) * t + C2) * t + C1) * t + C0;
  const ah = reinterpret<f32>(reinterpret<i32>(a) & HI_MASK);
  return <f32>0.5 * t * exp_s(<f32>-0.5 * (ah * ah)) * exp_s(q + <f32>-0.5 * ((a - ah) * (a + ah)));
}

// @ts-ignore: decorator
@inline function tail_v(a: v128): v128 {
  a = f32x4.pmin(a, f32x4.splat(TAIL_MAX));
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(HALF_INV_SQRT2), a)));
  let q = f32x4.add(f32x4.mul(f32x4.splat(C9), t), f32x4.splat(C8));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C7));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C6));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C5));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C4));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C3));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C2));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C1));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(C0));
  const ah = v128.and(a, i32x4.splat(HI_MASK)), half = f32x4.splat(-0.5);
  const e1 = exp_v(f32x4.mul(half, f32x4.mul(ah, ah)));
  const e2 = exp_v(f32x4.add(q, f32x4.mul(half, f32x4.mul(f32x4.sub(a, ah), f32x4.add(a, ah)))));
  return f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(0.5), t), e1), e2);
}

// @ts-ignore: decorator
@inline export function phi_s(x: f32): f32 {
  const h = tail_s(Mathf.abs(x));
  return x < 0 ? h : 1 - h;
}

// @ts-ignore: decorator
@inline export function phi_v(x: v128): v128 {
  const h = tail_v(f32x4.abs(x));
  return v128.bitselect(h, f32x4.sub(f32x4.splat(1), h), f32x4.lt(x, f32x4.splat(0)));
}

const INV_SQRT_2PI: f32 = 0.398942280401432678;

/** The normal density exp(-x^2/2) / sqrt(2 pi), for GELU's derivative. */
// @ts-ignore: decorator
@inline export function npdf_s(x: f32): f32 {
  return exp_s(-0.5 * (x * x)) * INV_SQRT_2PI;
}

// @ts-ignore: decorator
@inline export function npdf_v(x: v128): v128 {
  return f32x4.mul(exp_v(f32x4.mul(f32x4.splat(-0.5), f32x4.mul(x, x))), f32x4.splat(INV_SQRT_2PI));
}
