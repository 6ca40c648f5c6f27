// Plain float64 reference implementations for the kernel tests, written as the textbook definitions
// (straightforward loops over the mathematical formulas), independently of the wasm kernels: no tiling,
// no packing, no padded copies. Where the definition can be written from either side (the input
// gradient of a convolution), the reference gathers while the kernel scatters, so the two share no
// structure. Everything accumulates in float64; inputs are whatever float32 arrays the tests generate.
//
// Layouts follow the library: activations NHWC, conv weights [KH, KW, C, OC], dense weights [IN, OUT].
export type Arr = ArrayLike<number>;
export type Pad = 'valid' | 'same';

// ---------------------------------------------------------------------------------------------------
// Random data

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1). Same seed, same sequence, everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** Older name of mulberry32 (other tests import it). */
export const mulberry = mulberry32;

/** n float32 values uniform in [-scale, scale). */
export function randomArray(n: number, rnd: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
}
/** n int32 values uniform in [0, hi). */
export function randomInts(n: number, rnd: () => number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.min(hi - 1, Math.floor(rnd() * hi)));
}

// ---------------------------------------------------------------------------------------------------
// Window geometry (TensorFlow's documented rule, restated here rather than imported from src/)

export interface Axis {
  out: number;
  before: number;
  after: number;
}

/**
 * One spatial axis: 'valid' keeps the windows that fit; 'same' makes ceil(size / stride) outputs and
 * pads max((out - 1) * stride + k - size, 0) in total, the smaller half before.
 */
export function axisGeometry(size: number, k: number, s: number, pad: Pad): Axis {
  if (pad === 'valid') return { out: Math.ceil((size - k + 1) / s), before: 0, after: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + k - size);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

// ---------------------------------------------------------------------------------------------------
// Convolution

export interface ConvCase {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  OC: number;
  SH: number;
  SW: number;
  pad: Pad;
  /** Dilation (default 1): kernel taps DH rows and DW columns apart. */
  DH?: number;
  DW?: number;
}

const dil = (c: ConvCase) => ({ DH: c.DH ?? 1, DW: c.DW ?? 1 });

export function convGeometry(c: ConvCase) {
  const { DH, DW } = dil(c);
  const a = axisGeometry(c.H, (c.KH - 1) * DH + 1, c.SH, c.pad),
    b = axisGeometry(c.W, (c.KW - 1) * DW + 1, c.SW, c.pad);
  return { OH: a.out, OW: b.out, PT: a.before, PL: b.before, PB: a.after, PR: b.after };
}

const xIndex = (c: { H: number; W: number; C: number }, n: number, y: number, x: number, ch: number) =>
  ((n * c.H + y) * c.W + x) * c.C + ch;
const wIndex = (c: ConvCase, ky: number, kx: number, ch: number, o: number) => ((ky * c.KW + kx) * c.C + ch) * c.OC + o;

/** y[n, oy, ox, o] = act(bias[o] + sum over ky, kx, ch of x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, ch] * w[ky, kx, ch, o]); zero outside the input. */
export function conv2dRef(c: ConvCase, x: Arr, w: Arr, bias: Arr | null, relu: boolean): Float64Array {
  const { OH, OW, PT, PL } = convGeometry(c);
  const { DH, DW } = dil(c);
  const y = new Float64Array(c.N * OH * OW * c.OC);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let o = 0; o < c.OC; o++) {
          let s = bias ? bias[o] : 0;
          for (let ky = 0; ky < c.KH; ky++)
            for (let kx = 0; kx < c.KW; kx++) {
              const iy = oy * c.SH - PT + ky * DH,
                ix = ox * c.SW - PL + kx * DW;
              if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
              for (let ch = 0; ch < c.C; ch++) s += x[xIndex(c, n, iy, ix, ch)] * w[wIndex(c, ky, kx, ch, o)];
            }
          y[((n * OH + oy) * OW + ox) * c.OC + o] = relu ? Math.max(0, s) : s;
        }
  return y;
}
export const conv2dForwardRef = conv2dRef;

/**
 * d/dx of sum(dy * conv(x, w)), gathered per input element: input row iy is read by output row oy
 * through kernel row ky exactly when oy*SH - PT + ky*DH == iy, i.e. (iy + PT - ky*DH) divisible by SH.
 */
export function conv2dGradInputRef(c: ConvCase, w: Arr, dy: Arr): Float64Array {
  const { OH, OW, PT, PL } = convGeometry(c);
  const { DH, DW } = dil(c);
  const dx = new Float64Array(c.N * c.H * c.W * c.C);
  for (let n = 0; n < c.N; n++)
    for (let iy = 0; iy < c.H; iy++)
      for (let ix = 0; ix < c.W; ix++)
        for (let ch = 0; ch < c.C; ch++) {
          let s = 0;
          for (let ky = 0; ky < c.KH; ky++) {
            const ty = iy + PT - ky * DH;
            if (ty < 0 || ty % c.SH !== 0 || ty / c.SH >= OH) continue;
            const oy = ty / c.SH;
            for (let kx = 0; kx < c.KW; kx++) {
              const tx = ix + PL - kx * DW;
              if (tx < 0 || tx % c.SW !== 0 || tx / c.SW >= OW) continue;
              const ox = tx / c.SW;
              for (let o = 0; o < c.OC; o++) s += dy[((n * OH + oy) * OW + ox) * c.OC + o] * w[wIndex(c, ky, kx, ch, o)];
            }
          }
          dx[xIndex(c, n, iy, ix, ch)] = s;
        }
  return dx;
}

/** dw[ky, kx, ch, o] = sum over n, oy, ox of x at that tap (zero in the padding) times dy[n, oy, ox, o]. */
export function conv2dGradFilterRef(c: ConvCase, x: Arr, dy: Arr): Float64Array {
  const { OH, OW, PT, PL } = convGeometry(c);
  const { DH, DW } = dil(c);
  const dw = new Float64Array(c.KH * c.KW * c.C * c.OC);
  for (let ky = 0; ky < c.KH; ky++)
    for (let kx = 0; kx < c.KW; kx++)
      for (let ch = 0; ch < c.C; ch++)
        for (let o = 0; o < c.OC; o++) {
          let s = 0;
          for (let n = 0; n < c.N; n++)
            for (let oy = 0; oy < OH; oy++)
              for (let ox = 0; ox < OW; ox++) {
                const iy = oy * c.SH - PT + ky * DH,
                  ix = ox * c.SW - PL + kx * DW;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                s += x[xIndex(c, n, iy, ix, ch)] * dy[((n * OH + oy) * OW + ox) * c.OC + o];
              }
          dw[wIndex(c, ky, kx, ch, o)] = s;
        }
  return dw;
}

/** Column sums of dy viewed as [rows, cols]: the bias gradient of conv2d (rows = N*OH*OW) and dense. */
export function biasGradRef(dy: Arr, rows: number, cols: number): Float64Array {
  const db = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += dy[r * cols + j];
    db[j] = s;
  }
  return db;
}
export function conv2dGradBiasRef(c: ConvCase, dy: Arr): Float64Array {
  const { OH, OW } = convGeometry(c);
  return biasGradRef(dy, c.N * OH * OW, c.OC);
}

/** Gradients of sum(dy * (conv(x, w) + bias)) w.r.t. x, w and bias. */
export function conv2dBackwardRef(c: ConvCase, x: Arr, w: Arr, dy: Arr) {
  return { dx: conv2dGradInputRef(c, w, dy), dw: conv2dGradFilterRef(c, x, dy), db: conv2dGradBiasRef(c, dy) };
}

/** The forward output (with or without bias and ReLU) and the three gradients, for one case's data. */
export function conv2dAllRef(c: ConvCase, d: { x: Arr; w: Arr; b: Arr; dy: Arr }, bias: boolean, relu: boolean) {
  return { y: conv2dForwardRef(c, d.x, d.w, bias ? d.b : null, relu), ...conv2dBackwardRef(c, d.x, d.w, d.dy) };
}

// ---------------------------------------------------------------------------------------------------
// Pooling

export interface PoolCase {
  N: number;
  H: number;
  W: number;
  C: number;
  PH: number;
  PW: number;
  SH: number;
  SW: number;
  pad: Pad;
}

export function poolGeometry(c: PoolCase) {
  const a = axisGeometry(c.H, c.PH, c.SH, c.pad),
    b = axisGeometry(c.W, c.PW, c.SW, c.pad);
  return { OH: a.out, OW: b.out, PT: a.before, PL: b.before, PB: a.after, PR: b.after };
}

/** Flat input indices of one window's positions inside the input, in row-major window order (padding excluded). */
function windowCells(c: PoolCase, n: number, oy: number, ox: number, ch: number, PT: number, PL: number): number[] {
  const cells: number[] = [];
  for (let py = 0; py < c.PH; py++)
    for (let px = 0; px < c.PW; px++) {
      const iy = oy * c.SH - PT + py,
        ix = ox * c.SW - PL + px;
      if (iy >= 0 && iy < c.H && ix >= 0 && ix < c.W) cells.push(xIndex(c, n, iy, ix, ch));
    }
  return cells;
}

/**
 * Max pooling: y = the window's maximum over in-bounds positions (padding never wins, even against
 * all-negative windows); arg = flat index of the first position holding it (ties: first in row-major
 * window order). A NaN anywhere in the window makes the output NaN (arg: the first NaN).
 * dx: each dy goes to its window's arg.
 */
export function maxPoolRef(c: PoolCase, x: Arr, dy: Arr | null) {
  const { OH, OW, PT, PL } = poolGeometry(c);
  const y = new Float64Array(c.N * OH * OW * c.C),
    arg = new Int32Array(y.length),
    dx = new Float64Array(x.length);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ch = 0; ch < c.C; ch++) {
          const cells = windowCells(c, n, oy, ox, ch, PT, PL);
          let best = cells[0];
          for (const i of cells) {
            if (Number.isNaN(x[best])) break;
            if (Number.isNaN(x[i]) || x[i] > x[best]) best = i;
          }
          const o = ((n * OH + oy) * OW + ox) * c.C + ch;
          y[o] = x[best];
          arg[o] = best;
          if (dy) dx[best] += dy[o];
        }
  return { y, arg, dx, OH, OW };
}

/** Average pooling: the mean over the window's in-bounds positions (TensorFlow's count excludes padding). */
export function avgPoolRef(c: PoolCase, x: Arr, dy: Arr | null) {
  const { OH, OW, PT, PL } = poolGeometry(c);
  const y = new Float64Array(c.N * OH * OW * c.C),
    dx = new Float64Array(x.length);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ch = 0; ch < c.C; ch++) {
          const cells = windowCells(c, n, oy, ox, ch, PT, PL);
          const o = ((n * OH + oy) * OW + ox) * c.C + ch;
          let s = 0;
          for (const i of cells) s += x[i];
          y[o] = s / cells.length;
          if (dy) for (const i of cells) dx[i] += dy[o] / cells.length;
        }
  return { y, dx, OH, OW };
}

/** Either pooling, forward and the gradient of sum(dy * pool(x)) (kept for the property test). */
export function poolRef(c: PoolCase, kind: 'max' | 'avg', x: Arr, dy: Arr) {
  const g = dy.length ? dy : null;
  const r = kind === 'max' ? maxPoolRef(c, x, g) : avgPoolRef(c, x, g);
  return { y: r.y, dx: r.dx, OH: r.OH, OW: r.OW };
}

// ---------------------------------------------------------------------------------------------------
// Matrix products and dense

/** C[M, N] = sum over k of a(i, k) * b(k, j), for any storage the accessors describe. */
export function matmulRef(
  M: number,
  N: number,
  K: number,
  a: (i: number, k: number) => number,
  b: (k: number, j: number) => number,
): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a(i, k) * b(k, j);
      c[i * N + j] = s;
    }
  return c;
}

/** y[n, o] = act(bias[o] + sum over i of x[n, i] * w[i, o]). */
export function denseForwardRef(x: Arr, w: Arr, bias: Arr | null, N: number, IN: number, OUT: number, relu: boolean): Float64Array {
  const y = new Float64Array(N * OUT);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OUT; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < IN; i++) s += x[n * IN + i] * w[i * OUT + o];
      y[n * OUT + o] = relu ? Math.max(0, s) : s;
    }
  return y;
}

/** Gradients of sum(dy * (x w + bias)): dx = dy w^T, dw = x^T dy, db = column sums of dy. */
export function denseBackwardRef(x: Arr, w: Arr, dy: Arr, N: number, IN: number, OUT: number) {
  const dx = new Float64Array(N * IN),
    dw = new Float64Array(IN * OUT);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < IN; i++) {
      let s = 0;
      for (let o = 0; o < OUT; o++) s += dy[n * OUT + o] * w[i * OUT + o];
      dx[n * IN + i] = s;
    }
  for (let i = 0; i < IN; i++)
    for (let o = 0; o < OUT; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += x[n * IN + i] * dy[n * OUT + o];
      dw[i * OUT + o] = s;
    }
  return { dx, dw, db: biasGradRef(dy, N, OUT) };
}

// ---------------------------------------------------------------------------------------------------
// Activations and softmax

/** max(0, x), with NaN passing through unchanged. */
export function reluRef(x: Arr): Float64Array {
  return Float64Array.from(x, (v) => (v < 0 ? 0 : v));
}
/** dy where the ReLU output y is positive, else 0. */
export function reluGradRef(y: Arr, dy: Arr): Float64Array {
  return Float64Array.from(y, (v, i) => (v > 0 ? dy[i] : 0));
}

/** Row-wise softmax of x [N, C], max-shifted so large logits do not overflow. */
export function softmaxRef(x: Arr, N: number, C: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[i * C + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(x[i * C + j] - m);
    for (let j = 0; j < C; j++) y[i * C + j] = Math.exp(x[i * C + j] - m) / s;
  }
  return y;
}

/** The softmax Jacobian applied to dy: dx[i, j] = sum over k of dy[i, k] * y[i, k] * ((j == k) - y[i, j]). */
export function softmaxGradRef(y: Arr, dy: Arr, N: number, C: number): Float64Array {
  const dx = new Float64Array(N * C);
  for (let i = 0; i < N; i++)
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let k = 0; k < C; k++) s += dy[i * C + k] * y[i * C + k] * ((j === k ? 1 : 0) - y[i * C + j]);
      dx[i * C + j] = s;
    }
  return dx;
}

/** Keras's probability clip before the log. */
export const XENT_EPS = 1e-7;
const clipP = (p: number) => Math.min(Math.max(p, XENT_EPS), 1 - XENT_EPS);

/**
 * Sparse categorical crossentropy on probabilities p [N, C]: loss = sum over rows of -log(clip(p[label])),
 * and the gradient w.r.t. the softmax's input (the logits), (p - onehot(label)) * scale.
 */
export function xentSparseRef(p: Arr, labels: Arr, N: number, C: number, scale: number, weights?: Arr) {
  let loss = 0;
  const grad = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    const w = weights ? weights[i] : 1;
    loss -= w * Math.log(clipP(p[i * C + labels[i]]));
    for (let j = 0; j < C; j++) grad[i * C + j] = (p[i * C + j] - (j === labels[i] ? 1 : 0)) * scale * w;
  }
  return { loss, grad };
}

/**
 * Crossentropy against target distributions t [N, C] (one-hot or soft, rows need not sum to 1):
 * loss = -sum t log(clip(p)); gradient of softmax-then-loss w.r.t. the logits = (p * sum(t) - t) * scale;
 * both times weights[i] per row when given (class weights applied as per-sample weights).
 */
export function xentDenseRef(p: Arr, t: Arr, N: number, C: number, scale: number, weights?: Arr) {
  let loss = 0;
  const grad = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    const w = weights ? weights[i] : 1;
    let ts = 0;
    for (let j = 0; j < C; j++) {
      ts += t[i * C + j];
      if (t[i * C + j] !== 0) loss -= w * t[i * C + j] * Math.log(clipP(p[i * C + j]));
    }
    for (let j = 0; j < C; j++) grad[i * C + j] = (p[i * C + j] * ts - t[i * C + j]) * scale * w;
  }
  return { loss, grad };
}

/** Index of the first largest value of row r of v [*, C]. */
export function argmaxRow(v: Arr, r: number, C: number): number {
  let b = 0;
  for (let j = 1; j < C; j++) if (v[r * C + j] > v[r * C + b]) b = j;
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Optimizers (TensorFlow.js's formulas). The kernels receive their hyper-parameters as float32, so the
// callers pass Math.fround'ed values; the arithmetic itself is float64.

/** w - lr * g */
export function sgdRef(w: Arr, g: Arr, lr: number): Float64Array {
  return Float64Array.from(w, (v, i) => v - lr * g[i]);
}

/** One step of momentum (non-Nesterov): acc = momentum * acc + g; w -= lr * acc. Updates w and acc in place. */
export function momentumRef(w: Float64Array, g: Arr, acc: Float64Array, lr: number, momentum: number): void {
  for (let i = 0; i < w.length; i++) {
    acc[i] = momentum * acc[i] + g[i];
    w[i] -= lr * acc[i];
  }
}

/**
 * One Adam step as TF.js writes it: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * w -= lr * (m / c1) / (sqrt(v / c2) + eps) with c1 = 1 - b1^t, c2 = 1 - b2^t. In place.
 */
export function adamRef(
  w: Float64Array,
  g: Arr,
  m: Float64Array,
  v: Float64Array,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  c1: number,
  c2: number,
): void {
  for (let i = 0; i < w.length; i++) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    w[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
  }
}
