// The drawing pad (mouse, pen and touch through pointer events) and MNIST-style preprocessing:
// bounding box -> longer side scaled to 20 px (area averaging, aspect kept) -> centre of mass at the
// centre of a 28x28 field, ink in [0, 1].

export class DrawPad {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private drawing = false;
  private last: [number, number] | null = null;
  private pointer = -1;
  /** Strokes drawn since the last clear. */
  strokes = 0;
  onChange: (final: boolean) => void = () => {};

  constructor(
    canvas: HTMLCanvasElement,
    readonly size = 280,
    readonly lineWidth = 22,
  ) {
    this.canvas = canvas;
    canvas.width = size;
    canvas.height = size;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
    canvas.addEventListener('lostpointercapture', (e) => this.up(e));
  }

  private pos(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * this.size, ((e.clientY - r.top) / r.height) * this.size];
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    if (this.drawing) return;
    e.preventDefault();
    this.drawing = true;
    this.pointer = e.pointerId;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events have no capture */
    }
    this.last = this.pos(e);
    this.dot(this.last);
    this.strokes++;
    this.onChange(false);
  }

  private move(e: PointerEvent): void {
    if (!this.drawing || e.pointerId !== this.pointer) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ce of events.length ? events : [e]) {
      const p = this.pos(ce);
      this.line(this.last!, p);
      this.last = p;
    }
    this.onChange(false);
  }

  private up(e: PointerEvent): void {
    if (!this.drawing || e.pointerId !== this.pointer) return;
    this.drawing = false;
    this.last = null;
    this.onChange(true);
  }

  private dot([x, y]: [number, number]): void {
    const c = this.ctx;
    c.fillStyle = '#fff';
    c.beginPath();
    c.arc(x, y, this.lineWidth / 2, 0, Math.PI * 2);
    c.fill();
  }

  private line(a: [number, number], b: [number, number]): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.lineWidth;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(a[0], a[1]);
    c.lineTo(b[0], b[1]);
    c.stroke();
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.size, this.size);
    this.strokes = 0;
    this.onChange(true);
  }

  /** Ink per pixel in [0, 1] at the pad's resolution. */
  ink(): Float32Array {
    const d = this.ctx.getImageData(0, 0, this.size, this.size).data;
    const out = new Float32Array(this.size * this.size);
    for (let i = 0; i < out.length; i++) out[i] = d[i * 4] / 255;
    return out;
  }

  /** Paints a 28x28 image (values in [0, 1]) onto the pad, scaled up; for tests and the "show a test digit" button. */
  paint(img: ArrayLike<number>, side = 28): void {
    const s = this.size / side;
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const v = Math.round(255 * img[y * side + x]);
        this.ctx.fillStyle = `rgb(${v},${v},${v})`;
        this.ctx.fillRect(x * s, y * s, Math.ceil(s), Math.ceil(s));
      }
    this.strokes = 1;
    this.onChange(true);
  }
}

/**
 * MNIST's preprocessing for an image of `w` x `h` ink values: returns 28x28 values in [0, 1], or null when
 * there is no ink. The digit's box is scaled (aspect kept) so its longer side is 20 px, then shifted so the
 * centre of mass falls on the centre of the 28x28 field (kept inside it).
 */
export function toMnist(ink: Float32Array, w: number, h: number, threshold = 0.05): Float32Array | null {
  let x0 = w,
    y0 = h,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1,
    bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)),
    th = Math.max(1, Math.round(bh * scale));
  // Area averaging: each target pixel is the mean of the source rectangle it covers (fractional edges weighted).
  const small = new Float32Array(tw * th);
  const sx = bw / tw,
    sy = bh / th;
  for (let ty = 0; ty < th; ty++) {
    const ya = y0 + ty * sy,
      yb = ya + sy;
    for (let tx = 0; tx < tw; tx++) {
      const xa = x0 + tx * sx,
        xb = xa + sx;
      let sum = 0,
        area = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          sum += ink[y * w + x] * wx * wy;
          area += wx * wy;
        }
      }
      small[ty * tw + tx] = area > 0 ? sum / area : 0;
    }
  }
  let m = 0,
    cx = 0,
    cy = 0;
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      m += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  cx /= m;
  cy /= m;
  const ox = Math.min(28 - tw, Math.max(0, Math.round(14 - cx)));
  const oy = Math.min(28 - th, Math.max(0, Math.round(14 - cy)));
  const out = new Float32Array(784);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[(y + oy) * 28 + x + ox] = Math.min(1, small[y * tw + x]);
  return out;
}
