// Elementwise activations and the bias epilogue shared by conv2d and dense.
import { scalarMode } from './common';

export const FLAG_BIAS: i32 = 1;
export const FLAG_RELU: i32 = 2;

/** y[r, :] = act(y[r, :] + bias) for rows x cols, row stride cols. */
export function bias_act(rows: i32, cols: i32, y: usize, bias: usize, flags: i32): void {
  const hasBias = (flags & FLAG_BIAS) != 0, relu = (flags & FLAG_RELU) != 0;
  if (!hasBias && !relu) return;
  const z = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const row = y + <usize>r * (<usize>cols << 2);
    let j = 0;
    if (!scalarMode) {
      for (; j + 4 <= cols; j += 4) {
        const p = row + (<usize>j << 2);
        let v = v128.load(p);
        if (hasBias) v = f32x4.add(v, v128.load(bias + (<usize>j << 2)));
        // pmax(v, 0) is v < 0 ? 0 : v: one maxps, and NaN passes through so divergence stays visible.
        if (relu) v = f32x4.pmax(v, z);
        v128.store(p, v);
      }
    }
    for (; j < cols; j++) {
      const p = row + (<usize>j << 2);
      let v = load<f32>(p);
      if (hasBias) v += load<f32>(bias + (<usize>j << 2));
      if (relu) v = v < 0 ? 0 : v;
      store<f32>(p, v);
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
