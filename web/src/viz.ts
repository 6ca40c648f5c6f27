// Pictures of what the network holds: filters, feature maps, and hand-made Sobel filters to compare.

type RGB = [number, number, number];
const lerp = (a: RGB, b: RGB, t: number): RGB => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
function ramp(stops: RGB[], t: number): RGB {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  return lerp(stops[i], stops[i + 1], x - i);
}
const NEG: RGB[] = [
  [20, 24, 33],
  [40, 90, 170],
  [110, 180, 255],
];
const POS: RGB[] = [
  [20, 24, 33],
  [190, 110, 30],
  [255, 200, 90],
];
/** v in [-1, 1]: blue for negative, dark for zero, amber for positive. */
export const diverging = (v: number): RGB => (v < 0 ? ramp(NEG, -v) : ramp(POS, v));
const MAGMA: RGB[] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
];
/** v in [0, 1]: black through purple and orange to pale yellow. */
export const sequential = (v: number): RGB => ramp(MAGMA, v);
export const gray = (v: number): RGB => {
  const g = Math.min(1, Math.max(0, v)) * 255;
  return [g, g, g];
};

export interface Tile {
  data: ArrayLike<number>;
  w: number;
  h: number;
}
export interface TileLayout {
  cols: number;
  /** Pixels per value. */
  scale: number;
  gap: number;
  map: (v: number) => RGB;
  /** Values are divided by this before mapping (default: max |v| of each tile). */
  norm?: (tile: Tile, i: number) => number;
  background?: RGB;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Draws equally sized tiles in a grid onto `canvas` (which gets the grid's pixel size). */
export function drawTiles(canvas: HTMLCanvasElement, tiles: Tile[], L: TileLayout): void {
  if (!tiles.length) {
    canvas.width = canvas.height = 0;
    return;
  }
  const { w, h } = tiles[0];
  const cols = Math.min(L.cols, tiles.length),
    rows = Math.ceil(tiles.length / cols);
  const tw = w * L.scale,
    th = h * L.scale;
  const W = cols * tw + (cols - 1) * L.gap,
    H = rows * th + (rows - 1) * L.gap;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  const px = img.data;
  const bg = L.background ?? [14, 17, 23];
  for (let i = 0; i < px.length; i += 4) {
    px[i] = bg[0];
    px[i + 1] = bg[1];
    px[i + 2] = bg[2];
    px[i + 3] = bg === L.background ? 255 : 0;
  }
  tiles.forEach((t, k) => {
    const n = L.norm ? L.norm(t, k) : maxAbs(t.data);
    const inv = n > 0 ? 1 / n : 0;
    const ox = (k % cols) * (tw + L.gap),
      oy = Math.floor(k / cols) * (th + L.gap);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const c = L.map(t.data[y * w + x] * inv);
        for (let dy = 0; dy < L.scale; dy++) {
          let o = ((oy + y * L.scale + dy) * W + ox + x * L.scale) * 4;
          for (let dx = 0; dx < L.scale; dx++, o += 4) {
            px[o] = c[0];
            px[o + 1] = c[1];
            px[o + 2] = c[2];
            px[o + 3] = 255;
          }
        }
      }
  });
  ctx.putImageData(img, 0, 0);
}

/** Channel c of an [H, W, C] activation (or kernel) array as a tile. */
export function channel(a: Float32Array, H: number, W: number, C: number, c: number): Tile {
  const out = new Float32Array(H * W);
  for (let i = 0; i < H * W; i++) out[i] = a[i * C + c];
  return { data: out, w: W, h: H };
}

/**
 * Learned filters of one Conv2D, kernel [kh, kw, inC, F]. With one input channel each filter is a kh x kw
 * tile. Deeper filters are drawn as a mosaic of their inC slices (one kh x kw slice per input channel),
 * so the depth of every filter is visible. Colours are per filter: blue negative, amber positive.
 */
export function drawFilters(canvas: HTMLCanvasElement, kernel: Float32Array, [kh, kw, inC, F]: number[], narrow: boolean): void {
  const slice = (f: number, c: number): Float32Array => {
    const out = new Float32Array(kh * kw);
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[y * kw + x] = kernel[((y * kw + x) * inC + c) * F + f];
    return out;
  };
  if (inC === 1) {
    const tiles = Array.from({ length: F }, (_, f) => ({ data: slice(f, 0), w: kw, h: kh }));
    drawTiles(canvas, tiles, { cols: narrow ? 8 : Math.min(F, 16), scale: narrow ? 12 : 20, gap: narrow ? 6 : 10, map: diverging });
    return;
  }
  // Each filter: a mosaic of its slices, mc across and mr down (32 slices: 4 x 8), 1 px apart.
  const mc = Math.max(1, 2 ** Math.floor(Math.log2(Math.sqrt(inC)))),
    mr = Math.ceil(inC / mc);
  const s = narrow ? 3 : 4,
    sg = 1;
  const fw = mc * kw * s + (mc - 1) * sg,
    fh = mr * kh * s + (mr - 1) * sg;
  const mosaics: Tile[] = [];
  for (let f = 0; f < F; f++) {
    const data = new Float32Array(fw * fh).fill(NaN);
    let m = 0;
    const slices = Array.from({ length: inC }, (_, c) => slice(f, c));
    for (const sl of slices) m = Math.max(m, maxAbs(sl));
    slices.forEach((sl, c) => {
      const ox = (c % mc) * (kw * s + sg),
        oy = Math.floor(c / mc) * (kh * s + sg);
      for (let y = 0; y < kh * s; y++)
        for (let x = 0; x < kw * s; x++) data[(oy + y) * fw + ox + x] = sl[Math.floor(y / s) * kw + Math.floor(x / s)] / (m || 1);
    });
    mosaics.push({ data, w: fw, h: fh });
  }
  const map = (v: number): RGB => (Number.isNaN(v) ? [14, 17, 23] : diverging(v));
  drawTiles(canvas, mosaics, { cols: narrow ? 8 : Math.min(F, 16), scale: 1, gap: narrow ? 8 : 12, map, norm: () => 1 });
}

/**
 * The feature maps of one layer output [H, W, C] (one tile per channel), or the units of a dense layer [U]
 * (one square each); ReLU outputs on the magma scale, signed ones diverging.
 */
export function drawFeatureMaps(canvas: HTMLCanvasElement, a: Float32Array, shape: number[], narrow: boolean): void {
  let signed = false;
  for (let i = 0; i < a.length; i++)
    if (a[i] < 0) {
      signed = true;
      break;
    }
  if (shape.length === 1) {
    const U = shape[0],
      w = Math.min(U, narrow ? 16 : 32);
    const data = new Float32Array(w * Math.ceil(U / w)).fill(NaN);
    data.set(a.subarray(0, U));
    const m = maxAbs(a);
    const base = signed ? diverging : sequential;
    drawTiles(canvas, [{ data, w, h: data.length / w }], {
      cols: 1,
      scale: narrow ? 18 : 20,
      gap: 0,
      map: (v) => (Number.isNaN(v) ? [14, 17, 23] : base(v)),
      norm: () => m,
    });
    return;
  }
  const [H, W, C] = shape;
  const tiles = Array.from({ length: C }, (_, c) => channel(a, H, W, C, c));
  const layerMax = maxAbs(a);
  const scale = Math.max(1, Math.round((C <= 16 && !narrow ? 80 : 56) / H));
  drawTiles(canvas, tiles, {
    cols: narrow ? Math.min(C, 8) : Math.min(C, 16),
    scale,
    gap: 4,
    map: signed ? diverging : sequential,
    // Each map on its own scale, but never stretch near-silent maps into noise.
    norm: (t) => Math.max(maxAbs(t.data), 0.15 * layerMax),
  });
}

export const SOBEL_V = Float32Array.of(-1, 0, 1, -2, 0, 2, -1, 0, 1); // responds to vertical edges (d/dx)
export const SOBEL_H = Float32Array.of(-1, -2, -1, 0, 0, 0, 1, 2, 1); // responds to horizontal edges (d/dy)

/** Cross-correlation of a W x H image with a 3x3 kernel (as Conv2D computes it), 'same' or 'valid'. */
export function conv3x3(img: ArrayLike<number>, W: number, H: number, k: ArrayLike<number>, padding: 'same' | 'valid'): Tile {
  const p = padding === 'same' ? 1 : 0;
  const OW = W - 2 + 2 * p,
    OH = H - 2 + 2 * p;
  const out = new Float32Array(OW * OH);
  for (let y = 0; y < OH; y++)
    for (let x = 0; x < OW; x++) {
      let s = 0;
      for (let dy = 0; dy < 3; dy++)
        for (let dx = 0; dx < 3; dx++) {
          const iy = y + dy - p,
            ix = x + dx - p;
          if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += img[iy * W + ix] * k[dy * 3 + dx];
        }
      out[y * OW + x] = s;
    }
  return { data: out, w: OW, h: OH };
}

/** Cosine similarity of two kernels. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa && bb ? ab / Math.sqrt(aa * bb) : 0;
}
