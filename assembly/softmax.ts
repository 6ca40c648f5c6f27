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

/** log(sum exp(z)) of a row of logits, stably (its maximum first). */
// @ts-ignore: decorator
@inline function logsumexp_row(z: usize, C: i32): f64 {
  let m: f32 = -Infinity;
  for (let j = 0; j < C; j++) m = max(m, load<f32>(z + (<usize>j << 2)));
  let s: f64 = 0;
  for (let j = 0; j < C; j++) s += Math.exp(<f64>(load<f32>(z + (<usize>j << 2)) - m));
  return <f64>m + Math.log(s);
}

/**
 * Crossentropy of a row against smoothed targets y' = (1 - ls) y + ls / C, from probabilities p (clipped as
 * Keras does) or from logits z (log-softmax, no clipping, as softmax_cross_entropy_with_logits); with
 * dl != 0 also the gradient w.r.t. the softmax input, (softmax * sum(y') - y') * scale. y is a one-hot
 * label (t >= 0) or a row of targets at tp.
 */
// @ts-ignore: decorator
@inline function xent_row(out: usize, t: i32, tp: usize, dl: usize, C: i32, scale: f32, ls: f32, logits: bool): f64 {
  const lse: f64 = logits ? logsumexp_row(out, C) : 0;
  const off: f32 = ls / <f32>C, keep: f32 = 1 - ls;
  let loss: f64 = 0, ts: f32 = 0;
  for (let j = 0; j < C; j++) {
    const yj: f32 = (t >= 0 ? (j == t ? <f32>1 : <f32>0) : load<f32>(tp + (<usize>j << 2))) * keep + off;
    ts += yj;
    if (yj != 0) {
      const o = load<f32>(out + (<usize>j << 2));
      loss += <f64>yj * (logits ? lse - <f64>o : nll(o));
    }
  }
  if (dl != 0) {
    for (let j = 0; j < C; j++) {
      const q = <usize>j << 2;
      const yj: f32 = (t >= 0 ? (j == t ? <f32>1 : <f32>0) : load<f32>(tp + q)) * keep + off;
      const pj: f32 = logits ? <f32>Math.exp(<f64>load<f32>(out + q) - lse) : load<f32>(out + q);
      store<f32>(dl + q, (pj * ts - yj) * scale);
    }
  }
  return loss;
}

/**
 * Sum over rows of the crossentropy against class indices (one-hot, smoothed by ls); see xent_row. dl may be
 * out. With weights != 0 (one f32 per row: class weights as per-sample weights, as Keras and TF.js apply
 * them) row i's loss and gradient are multiplied by weights[i].
 */
export function softmax_xent_sparse(out: usize, labels: usize, weights: usize, dl: usize, N: i32, C: i32, scale: f32, ls: f32, logits: i32): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    const w: f32 = weights != 0 ? load<f32>(weights + (<usize>i << 2)) : 1;
    loss += <f64>w * xent_row(out + o, load<i32>(labels + (<usize>i << 2)), 0, dl != 0 ? dl + o : 0, C, w * scale, ls, logits != 0);
  }
  return loss;
}

/** As above for target distributions t (one-hot or soft). */
export function softmax_xent_dense(out: usize, t: usize, weights: usize, dl: usize, N: i32, C: i32, scale: f32, ls: f32, logits: i32): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < N; i++) {
    const o = <usize>(i * C) << 2;
    const w: f32 = weights != 0 ? load<f32>(weights + (<usize>i << 2)) : 1;
    loss += <f64>w * xent_row(out + o, -1, t + o, dl != 0 ? dl + o : 0, C, w * scale, ls, logits != 0);
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
