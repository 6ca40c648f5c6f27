// Elementwise losses over a batch's whole output (N samples of D floats, any shape), each returning the
// sum of its elementwise terms in float64 and, when dl != 0, writing d(loss)/d(out) * scale (scale = 1 /
// element count for Keras's mean). With weights != 0 (one f32 per sample: class weights) sample i's terms
// and gradients are multiplied by weights[i]. Binary crossentropy and the two regression losses; the softmax crossentropies live in
// softmax.ts.

// Keras's epsilon: probabilities are clipped to [EPS, 1 - EPS] before the log.
const EPS: f32 = 1e-7;

// @ts-ignore: decorator
@inline function weight(weights: usize, i: i32): f32 {
  return weights != 0 ? load<f32>(weights + (<usize>i << 2)) : 1;
}

export const BCE_PROBS: i32 = 0;
export const BCE_SIGMOID: i32 = 1;
export const BCE_LOGITS: i32 = 2;

/**
 * Binary crossentropy against targets t smoothed to t (1 - ls) + ls / 2. mode BCE_PROBS: out holds
 * probabilities from any layer; the loss clips them as Keras and TF.js do and the gradient is w.r.t. out (0
 * where clipped). BCE_SIGMOID: out is a sigmoid's output, the loss is the same and the gradient is w.r.t. the
 * sigmoid's input, p - t (the stable fused form). BCE_LOGITS: out holds logits z; the loss is
 * max(z, 0) - z t + log(1 + e^-|z|) and the gradient sigmoid(z) - t.
 */
export function bce(out: usize, t: usize, weights: usize, dl: usize, N: i32, D: i32, scale: f32, ls: f32, mode: i32): f64 {
  let loss: f64 = 0;
  const keep: f32 = 1 - ls, off: f32 = ls * 0.5;
  for (let s = 0; s < N; s++) {
    const w = weight(weights, s), ws = w * scale;
    let row: f64 = 0;
    for (let i = s * D; i < (s + 1) * D; i++) {
      const o = <usize>i << 2;
      const y: f32 = load<f32>(t + o) * keep + off;
      const v = load<f32>(out + o);
      let g: f32;
      if (mode == BCE_LOGITS) {
        const z = <f64>v;
        row += max(z, 0) - z * <f64>y + Math.log1p(Math.exp(-Math.abs(z)));
        g = <f32>(1 / (1 + Math.exp(-z))) - y;
      } else {
        const p: f32 = min(max(v, EPS), <f32>1 - EPS);
        row -= <f64>y * Math.log(<f64>p) + <f64>(1 - y) * Math.log(<f64>(1 - p));
        if (mode == BCE_SIGMOID) g = v - y;
        else g = v >= EPS && v <= <f32>1 - EPS ? <f32>((<f64>p - <f64>y) / (<f64>p * (1 - <f64>p))) : 0;
      }
      if (dl != 0) store<f32>(dl + o, g * ws);
    }
    loss += <f64>w * row;
  }
  return loss;
}

/** Elements where (out > threshold) equals the target (Keras's binaryAccuracy: 0.5 on probabilities, 0 on logits). */
export function binary_matches(out: usize, t: usize, n: i32, threshold: f32): f64 {
  let m: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const pred: f32 = load<f32>(out + o) > threshold ? 1 : 0;
    if (pred == load<f32>(t + o)) m += 1;
  }
  return m;
}

/** Sum of (out - t)^2; gradient 2 (out - t) * scale. */
export function mse(out: usize, t: usize, weights: usize, dl: usize, N: i32, D: i32, scale: f32): f64 {
  let loss: f64 = 0;
  for (let s = 0; s < N; s++) {
    const w = weight(weights, s), s2: f32 = 2 * scale * w;
    let row: f64 = 0;
    for (let i = s * D; i < (s + 1) * D; i++) {
      const o = <usize>i << 2;
      const d: f32 = load<f32>(out + o) - load<f32>(t + o);
      row += <f64>d * <f64>d;
      if (dl != 0) store<f32>(dl + o, d * s2);
    }
    loss += <f64>w * row;
  }
  return loss;
}

/** Sum of |out - t|; gradient sign(out - t) * scale (0 where equal, as TF's sign). */
export function mae(out: usize, t: usize, weights: usize, dl: usize, N: i32, D: i32, scale: f32): f64 {
  let loss: f64 = 0;
  for (let s = 0; s < N; s++) {
    const w = weight(weights, s), ws = w * scale;
    let row: f64 = 0;
    for (let i = s * D; i < (s + 1) * D; i++) {
      const o = <usize>i << 2;
      const d: f32 = load<f32>(out + o) - load<f32>(t + o);
      row += Math.abs(<f64>d);
      if (dl != 0) store<f32>(dl + o, d > 0 ? ws : d < 0 ? -ws : 0);
    }
    loss += <f64>w * row;
  }
  return loss;
}
