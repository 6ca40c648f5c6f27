// Elementwise activations and the bias epilogue shared by conv2d and dense.
import { scalarMode } from './common';
import { exp_s, expm1_s, expm1_v, exp_v, log1p_s, log1p_v, npdf_s, npdf_v, phi_s, phi_v, sigmoid_s, sigmoid_v, tanh_s, tanh_v } from './vmath';

export const FLAG_BIAS: i32 = 1;
export const FLAG_RELU: i32 = 2;
/** bias_act's flags carry an activation code (ACT_*) from this bit on; FLAG_RELU is ACT_RELU's old spelling. */
export const ACT_SHIFT: i32 = 8;

// Activation codes, shared with src/activations.ts. Parameters a, b, c mean what each code says.
export const ACT_LINEAR: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_RELU6: i32 = 2;
/** a = alpha (1 for the 'elu' string). */
export const ACT_ELU: i32 = 3;
export const ACT_SELU: i32 = 4;
export const ACT_SIGMOID: i32 = 5;
export const ACT_TANH: i32 = 6;
export const ACT_SOFTPLUS: i32 = 7;
export const ACT_HARD_SIGMOID: i32 = 8;
export const ACT_SWISH: i32 = 9;
export const ACT_GELU: i32 = 10;
/** Keras's ReLU layer: x >= c ? c : x > b ? x : a * (x - b) (a = negativeSlope, b = threshold, c = maxValue). */
export const ACT_RELU_GENERAL: i32 = 11;

const SELU_SCALE: f32 = 1.05070098735548049;
const SELU_ALPHA: f32 = 1.67326324235437728;
const SELU_SA: f32 = SELU_SCALE * SELU_ALPHA;

// @ts-ignore: decorator
@inline export function act_s(x: f32, code: i32, a: f32, b: f32, c: f32): f32 {
  switch (code) {
    case ACT_RELU: return x < 0 ? 0 : x;
    case ACT_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case ACT_ELU: return x > 0 ? x : a * expm1_s(x);
    case ACT_SELU: return x > 0 ? SELU_SCALE * x : SELU_SA * expm1_s(x);
    case ACT_SIGMOID: return sigmoid_s(x);
    case ACT_TANH: return tanh_s(x);
    case ACT_SOFTPLUS: return (x < 0 ? 0 : x) + log1p_s(exp_s(-Mathf.abs(x)));
    case ACT_HARD_SIGMOID: {
      const h: f32 = <f32>0.2 * x + <f32>0.5;
      return h < 0 ? 0 : h > 1 ? 1 : h;
    }
    case ACT_SWISH: return x * sigmoid_s(x);
    case ACT_GELU: return x * phi_s(x);
    case ACT_RELU_GENERAL: return x >= c ? c : x > b ? x : a * (x - b);
    default: return x;
  }
}

// @ts-ignore: decorator
@inline export function act_v(x: v128, code: i32, a: f32, b: f32, c: f32): v128 {
  const z = f32x4.splat(0);
  switch (code) {
    // pmax(v, 0) is v < 0 ? 0 : v: one maxps, and NaN passes through so divergence stays visible.
    case ACT_RELU: return f32x4.pmax(x, z);
    case ACT_RELU6: return f32x4.pmin(f32x4.pmax(x, z), f32x4.splat(6));
    case ACT_ELU: return v128.bitselect(x, f32x4.mul(f32x4.splat(a), expm1_v(x)), f32x4.gt(x, z));
    case ACT_SELU:
      return v128.bitselect(f32x4.mul(f32x4.splat(SELU_SCALE), x), f32x4.mul(f32x4.splat(SELU_SA), expm1_v(x)), f32x4.gt(x, z));
    case ACT_SIGMOID: return sigmoid_v(x);
    case ACT_TANH: return tanh_v(x);
    case ACT_SOFTPLUS: return f32x4.add(f32x4.pmax(x, z), log1p_v(exp_v(f32x4.neg(f32x4.abs(x)))));
    case ACT_HARD_SIGMOID: {
      const h = f32x4.add(f32x4.mul(f32x4.splat(0.2), x), f32x4.splat(0.5));
      return f32x4.pmin(f32x4.pmax(h, z), f32x4.splat(1));
    }
    case ACT_SWISH: return f32x4.mul(x, sigmoid_v(x));
    case ACT_GELU: return f32x4.mul(x, phi_v(x));
    case ACT_RELU_GENERAL: {
      const C = f32x4.splat(c), B = f32x4.splat(b);
      const low = f32x4.mul(f32x4.splat(a), f32x4.sub(x, B));
      return v128.bitselect(C, v128.bitselect(x, low, f32x4.gt(x, B)), f32x4.ge(x, C));
    }
    default: return x;
  }
}

/**
 * The derivative at src: the activation's output for the codes whose derivative follows from it (relu,
 * relu6, elu, selu, sigmoid, tanh, softplus, hardSigmoid), its input for swish, gelu and the general ReLU.
 */
// @ts-ignore: decorator
@inline function dact_s(s: f32, code: i32, a: f32, b: f32, c: f32): f32 {
  switch (code) {
    case ACT_RELU: return s > 0 ? 1 : 0;
    case ACT_RELU6: return s > 0 && s < 6 ? 1 : 0;
    case ACT_ELU: return s > 0 ? 1 : s + a;
    case ACT_SELU: return s > 0 ? SELU_SCALE : s + SELU_SA;
    case ACT_SIGMOID: return s * (1 - s);
    case ACT_TANH: return 1 - s * s;
    case ACT_SOFTPLUS: return -expm1_s(-s);
    case ACT_HARD_SIGMOID: return s > 0 && s < 1 ? <f32>0.2 : 0;
    case ACT_SWISH: {
      const g = sigmoid_s(s);
      return g * (1 + s * (1 - g));
    }
    case ACT_GELU: return phi_s(s) + s * npdf_s(s);
    case ACT_RELU_GENERAL: return s >= c ? 0 : s > b ? 1 : a;
    default: return 1;
  }
}

// @ts-ignore: decorator
@inline function dact_v(s: v128, code: i32, a: f32, b: f32, c: f32): v128 {
  const z = f32x4.splat(0), one = f32x4.splat(1);
  switch (code) {
    case ACT_RELU: return v128.and(one, f32x4.gt(s, z));
    case ACT_RELU6: return v128.and(one, v128.and(f32x4.gt(s, z), f32x4.lt(s, f32x4.splat(6))));
    case ACT_ELU: return v128.bitselect(one, f32x4.add(s, f32x4.splat(a)), f32x4.gt(s, z));
    case ACT_SELU: return v128.bitselect(f32x4.splat(SELU_SCALE), f32x4.add(s, f32x4.splat(SELU_SA)), f32x4.gt(s, z));
    case ACT_SIGMOID: return f32x4.mul(s, f32x4.sub(one, s));
    case ACT_TANH: return f32x4.sub(one, f32x4.mul(s, s));
    case ACT_SOFTPLUS: return f32x4.neg(expm1_v(f32x4.neg(s)));
    case ACT_HARD_SIGMOID: return v128.and(f32x4.splat(0.2), v128.and(f32x4.gt(s, z), f32x4.lt(s, one)));
    case ACT_SWISH: {
      const g = sigmoid_v(s);
      return f32x4.mul(g, f32x4.add(one, f32x4.mul(s, f32x4.sub(one, g))));
    }
    case ACT_GELU: return f32x4.add(phi_v(s), f32x4.mul(s, npdf_v(s)));
    case ACT_RELU_GENERAL: {
      const mid = v128.bitselect(one, f32x4.splat(a), f32x4.gt(s, f32x4.splat(b)));
      return v128.andnot(mid, f32x4.ge(s, f32x4.splat(c)));
    }
    default: return one;
  }
}

/**
 * y = act(x) over n floats (y may be x). One loop per activation: the switch runs once per call, not per
 * vector, and this is the only copy of the activations' code besides Winograd's (bias_act comes here too).
 */
export function act_forward(x: usize, y: usize, n: i32, code: i32, a: f32, b: f32, c: f32): void {
  switch (code) {
    case ACT_RELU: act_loop(x, y, n, ACT_RELU, a, b, c); break;
    case ACT_RELU6: act_loop(x, y, n, ACT_RELU6, a, b, c); break;
    case ACT_ELU: act_loop(x, y, n, ACT_ELU, a, b, c); break;
    case ACT_SELU: act_loop(x, y, n, ACT_SELU, a, b, c); break;
    case ACT_SIGMOID: act_loop(x, y, n, ACT_SIGMOID, a, b, c); break;
    case ACT_TANH: act_loop(x, y, n, ACT_TANH, a, b, c); break;
    case ACT_SOFTPLUS: act_loop(x, y, n, ACT_SOFTPLUS, a, b, c); break;
    case ACT_HARD_SIGMOID: act_loop(x, y, n, ACT_HARD_SIGMOID, a, b, c); break;
    case ACT_SWISH: act_loop(x, y, n, ACT_SWISH, a, b, c); break;
    case ACT_GELU: act_loop(x, y, n, ACT_GELU, a, b, c); break;
    case ACT_RELU_GENERAL: act_loop(x, y, n, ACT_RELU_GENERAL, a, b, c); break;
    default: act_loop(x, y, n, ACT_LINEAR, a, b, c);
  }
}

/** act_forward's loop for one code (a constant at each call, so the inlined switch folds away). */
// @ts-ignore: decorator
@inline function act_loop(x: usize, y: usize, n: i32, code: i32, a: f32, b: f32, c: f32): void {
  let i = 0;
  if (!scalarMode) for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), act_v(v128.load(x + (<usize>i << 2)), code, a, b, c));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), act_s(load<f32>(x + (<usize>i << 2)), code, a, b, c));
}

/** dx = dy * act'(.) from src (the output or the input, as dact says); dx may be dy. */
export function act_backward(src: usize, dy: usize, dx: usize, n: i32, code: i32, a: f32, b: f32, c: f32): void {
  let i = 0;
  if (!scalarMode) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, f32x4.mul(v128.load(dy + o), dact_v(v128.load(src + o), code, a, b, c)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * dact_s(load<f32>(src + o), code, a, b, c));
  }
}

/**
 * y[r, :] = act(y[r, :] + bias) for rows x cols, row stride cols: conv2d's and dense's epilogue, run on each
 * row while it is in cache. The activation is flags >> ACT_SHIFT (string activations take no parameters:
 * elu's alpha is 1).
 */
export function bias_act(rows: i32, cols: i32, y: usize, bias: usize, flags: i32): void {
  const hasBias = (flags & FLAG_BIAS) != 0;
  const code = (flags & FLAG_RELU) != 0 ? ACT_RELU : flags >> ACT_SHIFT;
  if (!hasBias && code == ACT_LINEAR) return;
  // The common epilogues get loops of their own: a switch on the code per vector halves their speed.
  if (code == ACT_RELU) {
    if (hasBias) bias_relu_rows(rows, cols, y, bias, true, true);
    else bias_relu_rows(rows, cols, y, bias, false, true);
    return;
  }
  if (code == ACT_LINEAR) {
    bias_relu_rows(rows, cols, y, bias, true, false);
    return;
  }
  // Other activations: the bias added to a row while it is in cache, then act_forward over it (the sum
  // is rounded to f32 either way: the same bits as one fused pass).
  for (let r = 0; r < rows; r++) {
    const row = y + <usize>r * (<usize>cols << 2);
    if (hasBias) bias_relu_rows(1, cols, row, bias, true, false);
    act_forward(row, row, cols, code, 1, 0, 0);
  }
}

/** bias_act for no activation or ReLU; hasBias and relu are constants at each call, so each call is its own loop. */
// @ts-ignore: decorator
@inline function bias_relu_rows(rows: i32, cols: i32, y: usize, bias: usize, hasBias: bool, relu: bool): void {
  const z = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const row = y + <usize>r * (<usize>cols << 2);
    let j = 0;
    if (!scalarMode) {
      for (; j + 4 <= cols; j += 4) {
        const p = row + (<usize>j << 2);
        let v = v128.load(p);
        if (hasBias) v = f32x4.add(v, v128.load(bias + (<usize>j << 2)));
        v128.store(p, relu ? f32x4.pmax(v, z) : v);
      }
    }
    for (; j < cols; j++) {
      const p = row + (<usize>j << 2);
      let v = load<f32>(p);
      if (hasBias) v += load<f32>(bias + (<usize>j << 2));
      store<f32>(p, relu && v < 0 ? 0 : v);
    }
  }
}

/** db[j] = sum over rows of dy[r, j]. */
export function bias_grad(rows: i32, cols: i32, dy: usize, db: usize): void {
  let j = 0;
  if (!scalarMode) {
    for (; j + 4 <= cols; j += 4) {
      let s = f32x4.splat(0);
      let p = dy + (<usize>j << 2);
      for (let r = 0; r < rows; r++) { s = f32x4.add(s, v128.load(p)); p += <usize>cols << 2; }
      v128.store(db + (<usize>j << 2), s);
    }
  }
  for (; j < cols; j++) {
    let s: f32 = 0;
    let p = dy + (<usize>j << 2);
    for (let r = 0; r < rows; r++) { s += load<f32>(p); p += <usize>cols << 2; }
    store<f32>(db + (<usize>j << 2), s);
  }
}

export function relu_forward(x: usize, y: usize, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), f32x4.pmax(v128.load(x + (<usize>i << 2)), z));
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), v < 0 ? 0 : v);
  }
}

/** dx = y > 0 ? dy : 0, from the ReLU output y (so it also serves fused conv/dense + relu). dx may be dy. */
export function relu_backward(y: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), z)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}
