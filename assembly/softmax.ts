// Softmax over the last axis and its fusion with cross-entropy. Rows are short (the class count),
// so these stay scalar; the exp dominates and has no wasm SIMD instruction.

export function softmax_forward(x: usize, y: usize, N: i32, C: i32): void {
  for (let i = 0; i < N; i++) {
    const xi = x + (<usize>(i * C) << 2), yi = y + (<usize>(i * C) << 2);
    let m: f32 = -Infinity;
    for (let j = 0; j < C; j++) m = max(m, load<f32>(xi + (<usize>j << 2)));
    let s: f32 = 0;
    for (let j = 0; j < C; j++) {
      const e = Mathf.exp(load<f32>(xi + (<usize>j << 2)) - m);
      store<f32>(yi + (<usize>j << 2), e);
      s += e;
    }
    const inv: f32 = 1 / s;
    for (let j = 0; j < C; j++) store<f32>(yi + (<usize>j << 2), load<f32>(yi + (<usize>j << 2)) * inv);
  }
}

/** dx = y * (dy - sum(dy * y)) per row: softmax's Jacobian applied to dy. */
export function softmax_backward(y: usize, dy: usize, dx: usize, N: i32, C: i32): void {
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    let dot: f32 = 0;
    for (let j = 0; j < C; j++) dot += load<f32>(dy + o + (<usize>j << 2)) * load<f32>(y + o + (<usize>j << 2));
    for (let j = 0; j < C; j++) {
      const q = o + (<usize>j << 2);
      store<f32>(dx + q, load<f32>(y + q) * (load<f32>(dy + q) - dot));
    }
  }
}

// Keras clips probabilities to [1e-7, 1 - 1e-7] before the log; the loss value follows it.
const EPS: f32 = 1e-7;

// @ts-ignore: decorator
@inline function nll(p: f32): f64 {
  return -Math.log(<f64>min(max(p, EPS), <f32>1 - EPS));
}

/**
 * Sum over rows of -log p[label]; when dlogits != 0 also writes the fused gradient w.r.t. the
 * softmax input, (p - onehot) * scale (scale = 1/batch for Keras's mean). With weights != 0 (one f32
 * per row: class weights as per-sample weights, as Keras and TF.js apply them) row i's loss and
 * gradient are multiplied by weights[i].
 */
export function softmax_xent_sparse(p: usize, labels: usize, weights: usize, dlogits: usize, N: i32, C: i32, scale: f32): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    const t = load<i32>(labels + (<usize>i << 2));
    const w: f32 = weights != 0 ? load<f32>(weights + (<usize>i << 2)) : 1;
    loss += <f64>w * nll(load<f32>(p + o + (<usize>t << 2)));
    if (dlogits != 0) {
      const s = w * scale;
      for (let j = 0; j < C; j++) {
        const q = o + (<usize>j << 2);
        const g = load<f32>(p + q) - (j == t ? <f32>1 : <f32>0);
        store<f32>(dlogits + q, g * s);
      }
    }
  }
  return loss;
}

/** As above for target distributions t (one-hot or soft): loss -sum t log p, gradient (p * sum(t) - t) * scale, both times weights[i] when given. */
export function softmax_xent_dense(p: usize, t: usize, weights: usize, dlogits: usize, N: i32, C: i32, scale: f32): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    const w: f32 = weights != 0 ? load<f32>(weights + (<usize>i << 2)) : 1;
    let ts: f32 = 0, row: f64 = 0;
    for (let j = 0; j < C; j++) {
      const tj = load<f32>(t + o + (<usize>j << 2));
      ts += tj;
      if (tj != 0) row += <f64>tj * nll(load<f32>(p + o + (<usize>j << 2)));
    }
    loss += <f64>w * row;
    if (dlogits != 0) {
      const s = w * scale;
      for (let j = 0; j < C; j++) {
        const q = o + (<usize>j << 2);
        store<f32>(dlogits + q, (load<f32>(p + q) * ts - load<f32>(t + q)) * s);
      }
    }
  }
  return loss;
}

// @ts-ignore: decorator
@inline function argmax_row(p: usize, C: i32): i32 {
  let b = 0;
  for (let j = 1; j < C; j++) if (load<f32>(p + (<usize>j << 2)) > load<f32>(p + (<usize>b << 2))) b = j;
  return b;
}

/** Rows whose largest probability is at the label. */
export function count_correct_sparse(p: usize, labels: usize, N: i32, C: i32): i32 {
  let n = 0;
  for (let i = 0; i < N; i++) if (argmax_row(p + (<usize>(i * C) << 2), C) == load<i32>(labels + (<usize>i << 2))) n++;
  return n;
}

export function count_correct_dense(p: usize, t: usize, N: i32, C: i32): i32 {
  let n = 0;
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    if (argmax_row(p + o, C) == argmax_row(t + o, C)) n++;
  }
  return n;
}
