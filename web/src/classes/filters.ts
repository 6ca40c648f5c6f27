// The first convolution's filters in colour. A filter on an RGB input is kh x kw x 3: it has its input's
// depth. Each is drawn as one small RGB image (its three slices as the red, green and blue of one picture)
// followed by the three slices side by side in grey. Mid-grey is zero; each filter on its own scale.

/** Filters of a kernel [kh, kw, 3, F] into `canvas`, `cols` filters per row, `scale` pixels per weight. */
export function drawRgbFilters(canvas: HTMLCanvasElement, kernel: Float32Array, shape: number[], cols: number, scale: number): void {
  const [kh, kw, inC, F] = shape;
  if (inC !== 3) throw new Error(`drawRgbFilters: expected a kernel [kh, kw, 3, filters], received [${shape}]`);
  const inner = 3,
    outer = 14;
  const tw = kw * scale,
    th = kh * scale;
  const gw = 4 * tw + 3 * inner;
  const c = Math.min(cols, F),
    rows = Math.ceil(F / c);
  const W = c * gw + (c - 1) * outer,
    H = rows * th + (rows - 1) * outer;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  const px = img.data;
  const at = (y: number, x: number, ch: number, f: number) => kernel[((y * kw + x) * inC + ch) * F + f];
  const byte = (v: number) => Math.round(127.5 + 127.5 * Math.max(-1, Math.min(1, v)));
  for (let f = 0; f < F; f++) {
    let m = 0;
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let ch = 0; ch < 3; ch++) m = Math.max(m, Math.abs(at(y, x, ch, f)));
    const inv = m > 0 ? 1 / m : 0;
    const ox = (f % c) * (gw + outer),
      oy = Math.floor(f / c) * (th + outer);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++) {
        const rgb = [0, 1, 2].map((ch) => byte(at(y, x, ch, f) * inv));
        // Tile 0: the colour picture; tiles 1-3: the R, G and B slices in grey.
        for (let t = 0; t < 4; t++) {
          const col = t === 0 ? rgb : [rgb[t - 1], rgb[t - 1], rgb[t - 1]];
          const tx = ox + t * (tw + inner) + x * scale;
          for (let dy = 0; dy < scale; dy++) {
            let o = ((oy + y * scale + dy) * W + tx) * 4;
            for (let dx = 0; dx < scale; dx++, o += 4) {
              px[o] = col[0];
              px[o + 1] = col[1];
              px[o + 2] = col[2];
              px[o + 3] = 255;
            }
          }
        }
      }
  }
  ctx.putImageData(img, 0, 0);
}
