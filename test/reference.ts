// Plain float64 reference implementations, written as the textbook loops (independently of the kernels).
export type Arr = ArrayLike<number>;
export type Pad = 'valid' | 'same';

export function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export function randomArray(n: number, rnd: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
}

/** Output size and padding before, for one axis, by TensorFlow's documented rule. */
export function axisGeometry(size: number, k: number, s: number, pad: Pad): { out: number; before: number } {
  if (pad === 'valid') return { out: Math.ceil((size - k + 1) / s), before: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + k - size);
  return { out, before: Math.floor(total / 2) };
}

export interface ConvCase { N: number; H: number; W: number; C: number; KH: number; KW: number; OC: number; SH: number; SW: number; pad: Pad }

export function convGeometry(c: ConvCase) {
  const a = axisGeometry(c.H, c.KH, c.SH, c.pad), b = axisGeometry(c.W, c.KW, c.SW, c.pad);
  return { OH: a.out, OW: b.out, PT: a.before, PL: b.before };
}

const xi = (c: { H: number; W: number; C: number }, n: number, y: number, x: number, ch: number) => ((n * c.H + y) * c.W + x) * c.C + ch;

export function conv2dRef(c: ConvCase, x: Arr, w: Arr, bias: Arr | null, relu: boolean): Float64Array {
  const { OH, OW, PT, PL } = convGeometry(c);
  const y = new Float64Array(c.N * OH * OW * c.OC);
  for (let n = 0; n < c.N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let o = 0; o < c.OC; o++) {
    let s = bias ? bias[o] : 0;
    for (let ky = 0; ky < c.KH; ky++) for (let kx = 0; kx < c.KW; kx++) {
      const iy = oy * c.SH - PT + ky, ix = ox * c.SW - PL + kx;
      if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
      for (let ch = 0; ch < c.C; ch++) s += x[xi(c, n, iy, ix, ch)] * w[((ky * c.KW + kx) * c.C + ch) * c.OC + o];
    }
    y[((n * OH + oy) * OW + ox) * c.OC + o] = relu ? Math.max(0, s) : s;
  }
  return y;
}

/** Gradients of sum(dy * conv(x, w) + bias) w.r.t. x, w and bias. */
export function conv2dBackwardRef(c: ConvCase, x: Arr, w: Arr, dy: Arr) {
  const { OH, OW, PT, PL } = convGeometry(c);
  const dx = new Float64Array(c.N * c.H * c.W * c.C), dw = new Float64Array(c.KH * c.KW * c.C * c.OC), db = new Float64Array(c.OC);
  for (let n = 0; n < c.N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let o = 0; o < c.OC; o++) {
    const g = dy[((n * OH + oy) * OW + ox) * c.OC + o];
    db[o] += g;
    for (let ky = 0; ky < c.KH; ky++) for (let kx = 0; kx < c.KW; kx++) {
      const iy = oy * c.SH - PT + ky, ix = ox * c.SW - PL + kx;
      if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
      for (let ch = 0; ch < c.C; ch++) {
        const wi = ((ky * c.KW + kx) * c.C + ch) * c.OC + o;
        dx[xi(c, n, iy, ix, ch)] += g * w[wi];
        dw[wi] += g * x[xi(c, n, iy, ix, ch)];
      }
    }
  }
  return { dx, dw, db };
}

export interface PoolCase { N: number; H: number; W: number; C: number; PH: number; PW: number; SH: number; SW: number; pad: Pad }

export function poolGeometry(c: PoolCase) {
  const a = axisGeometry(c.H, c.PH, c.SH, c.pad), b = axisGeometry(c.W, c.PW, c.SW, c.pad);
  return { OH: a.out, OW: b.out, PT: a.before, PL: b.before };
}

/** Max or average pooling forward and the gradient of sum(dy * pool(x)). Max: first maximum wins. */
export function poolRef(c: PoolCase, kind: 'max' | 'avg', x: Arr, dy: Arr) {
  const { OH, OW, PT, PL } = poolGeometry(c);
  const y = new Float64Array(c.N * OH * OW * c.C), dx = new Float64Array(x.length);
  for (let n = 0; n < c.N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ch = 0; ch < c.C; ch++) {
    const cells: number[] = [];
    for (let py = 0; py < c.PH; py++) for (let px = 0; px < c.PW; px++) {
      const iy = oy * c.SH - PT + py, ix = ox * c.SW - PL + px;
      if (iy >= 0 && iy < c.H && ix >= 0 && ix < c.W) cells.push(xi(c, n, iy, ix, ch));
    }
    const o = ((n * OH + oy) * OW + ox) * c.C + ch;
    if (kind === 'max') {
      let best = cells[0];
      for (const i of cells) if (x[i] > x[best]) best = i;
      y[o] = x[best];
      dx[best] += dy[o];
    } else {
      y[o] = cells.reduce((s, i) => s + x[i], 0) / cells.length;
      for (const i of cells) dx[i] += dy[o] / cells.length;
    }
  }
  return { y, dx, OH, OW };
}

export function matmulRef(M: number, N: number, K: number, a: (i: number, k: number) => number, b: (k: number, j: number) => number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a(i, k) * b(k, j);
    c[i * N + j] = s;
  }
  return c;
}

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
