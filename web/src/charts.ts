// A small live line chart on a canvas: the series, dots for per-epoch values and epoch markers,
// sized to its box and redrawn at most once per animation frame.

export interface ChartOptions {
  color: string;
  /** Fixed y range; otherwise [0, max seen]. */
  yMin?: number;
  yMax?: number;
  format: (v: number) => string;
  /** Extra series drawn as dots (e.g. validation per epoch). */
  dotsColor?: string;
}

export class LineChart {
  private ctx: CanvasRenderingContext2D;
  private xs: number[] = [];
  private ys: number[] = [];
  private dots: [number, number][] = [];
  private epochs: number[] = [];
  private xMax = 1;
  private pending = false;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly opts: ChartOptions,
  ) {
    this.ctx = canvas.getContext('2d')!;
    new ResizeObserver(() => this.schedule()).observe(canvas);
    this.schedule();
  }

  reset(xMax: number): void {
    this.xs = [];
    this.ys = [];
    this.dots = [];
    this.epochs = [];
    this.xMax = Math.max(1, xMax);
    this.schedule();
  }
  push(x: number, y: number): void {
    if (!Number.isFinite(y)) return;
    this.xs.push(x);
    this.ys.push(y);
    this.schedule();
  }
  dot(x: number, y: number): void {
    this.dots.push([x, y]);
    this.schedule();
  }
  epochMark(x: number): void {
    this.epochs.push(x);
    this.schedule();
  }
  get points(): number {
    return this.ys.length;
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const c = this.canvas,
      dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(c.clientWidth * dpr)),
      H = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== W || c.height !== H) {
      c.width = W;
      c.height = H;
    }
    const g = this.ctx;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = W / dpr,
      h = H / dpr;
    g.clearRect(0, 0, w, h);
    const padL = 40,
      padR = 10,
      padT = 10,
      padB = 22;
    const pw = w - padL - padR,
      ph = h - padT - padB;
    if (pw < 20 || ph < 20) return;
    const all = this.ys.concat(this.dots.map((d) => d[1]));
    const yMin = this.opts.yMin ?? 0;
    const yMax = this.opts.yMax ?? niceMax(Math.max(...all, 0.1));
    const X = (x: number) => padL + (x / this.xMax) * pw;
    const Y = (y: number) => padT + (1 - (Math.min(Math.max(y, yMin), yMax) - yMin) / (yMax - yMin)) * ph;
    // Grid and labels.
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#8b93a7';
    g.strokeStyle = 'rgba(255,255,255,0.07)';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = yMin + ((yMax - yMin) * i) / 4,
        y = Y(v);
      g.beginPath();
      g.moveTo(padL, Math.round(y) + 0.5);
      g.lineTo(padL + pw, Math.round(y) + 0.5);
      g.stroke();
      g.fillText(this.opts.format(v), padL - 6, y);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    if (!this.ys.length && !this.dots.length) {
      g.fillText('appears live while training', padL + pw / 2, padT + ph / 2 - 6);
      return;
    }
    const unit = this.xMax >= 2000 ? 1000 : 1;
    for (let i = 0; i <= 4; i++) {
      const v = (this.xMax * i) / 4;
      g.fillText(unit === 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(Math.round(v)), X(v), padT + ph + 6);
    }
    g.strokeStyle = 'rgba(255,255,255,0.18)';
    g.setLineDash([3, 4]);
    for (const e of this.epochs) {
      g.beginPath();
      g.moveTo(Math.round(X(e)) + 0.5, padT);
      g.lineTo(Math.round(X(e)) + 0.5, padT + ph);
      g.stroke();
    }
    g.setLineDash([]);
    if (this.ys.length) {
      // Each point is already a mean over ~100 ms of batches: drawn as is, with a soft fill below.
      const path = () => {
        g.beginPath();
        this.ys.forEach((y, i) => (i ? g.lineTo(X(this.xs[i]), Y(y)) : g.moveTo(X(this.xs[i]), Y(y))));
      };
      path();
      g.lineTo(X(this.xs[this.xs.length - 1]), padT + ph);
      g.lineTo(X(this.xs[0]), padT + ph);
      g.closePath();
      g.fillStyle = this.opts.color;
      g.globalAlpha = 0.1;
      g.fill();
      g.globalAlpha = 1;
      g.strokeStyle = this.opts.color;
      g.lineWidth = 2;
      g.lineJoin = 'round';
      path();
      g.stroke();
      const lx = X(this.xs[this.xs.length - 1]),
        ly = Y(this.ys[this.ys.length - 1]);
      g.fillStyle = this.opts.color;
      g.beginPath();
      g.arc(lx, ly, 3.5, 0, Math.PI * 2);
      g.fill();
    }
    if (this.dots.length && this.opts.dotsColor) {
      g.fillStyle = this.opts.dotsColor;
      g.strokeStyle = '#11141b';
      g.lineWidth = 2;
      for (const [x, y] of this.dots) {
        g.beginPath();
        g.arc(X(x), Y(y), 4.5, 0, Math.PI * 2);
        g.stroke();
        g.fill();
      }
    }
  }
}

/** The smallest 4 x step >= m with a round step (1, 2, 2.5, 3 or 5 times a power of ten). */
function niceMax(m: number): number {
  const p = 10 ** Math.floor(Math.log10(m / 4));
  for (const f of [1, 2, 2.5, 3, 5, 10]) if (4 * f * p >= m) return 4 * f * p;
  return 40 * p;
}

/** The pages' loss chart: training as a line, validation/test as dots. */
export const lossChart = (canvas: HTMLCanvasElement): LineChart =>
  new LineChart(canvas, { color: '#ff8a65', dotsColor: '#ffd1a8', format: (v) => String(Math.round(v * 100) / 100) });
/** The pages' accuracy chart, 0 to 100%. */
export const accuracyChart = (canvas: HTMLCanvasElement): LineChart =>
  new LineChart(canvas, { color: '#4fd1a5', dotsColor: '#e6f27a', yMin: 0, yMax: 1, format: (v) => `${Math.round(v * 100)}%` });
