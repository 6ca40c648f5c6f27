// Predictions: probability bars with the class names, and the live loop that classifies webcam frames.
import { el } from './dom.js';

export class ProbabilityBars {
  private rows: { row: HTMLElement; fill: HTMLElement; p: HTMLElement }[] = [];
  constructor(
    readonly box: HTMLElement,
    readonly label: HTMLElement,
  ) {}

  setNames(names: string[]): void {
    this.box.replaceChildren();
    this.rows = names.map((n) => {
      const row = el('div', 'bar-row named');
      row.append(el('span', 'd', n), el('div', 'bar'), el('span', 'p', '–'));
      row.children[1].append(el('div', 'fill'));
      this.box.append(row);
      return { row, fill: row.querySelector('.fill')!, p: row.querySelector('.p')! };
    });
    this.show(null);
  }

  /** Shows the probabilities (or clears them); returns the index of the most likely class. */
  show(p: ArrayLike<number> | null): number {
    let best = -1;
    if (p) for (let k = 0; k < this.rows.length; k++) if (best < 0 || p[k] > p[best]) best = k;
    this.rows.forEach((b, k) => {
      b.fill.style.width = p ? `${Math.max(0, Math.min(1, p[k])) * 100}%` : '0';
      b.p.textContent = p ? `${(p[k] * 100).toFixed(p[k] >= 0.995 ? 0 : 1)}%` : '–';
      b.row.classList.toggle('best', k === best);
    });
    this.label.textContent = best >= 0 ? (this.rows[best].row.querySelector('.d')!.textContent ?? '') : '?';
    this.label.classList.toggle('idle', best < 0);
    return best;
  }
}

/**
 * Classifies frames while running: `step` grabs and classifies one frame (false when there was none);
 * at most one step every `minMs` (default 50 ms, 20 fps), never two at once. `fps` counts the last second.
 */
export class LiveLoop {
  private timer = 0;
  private stamps: number[] = [];
  running = false;

  constructor(
    readonly step: () => boolean,
    readonly minMs = 50,
  ) {}

  get fps(): number {
    const now = performance.now();
    this.stamps = this.stamps.filter((t) => now - t <= 1000);
    return this.stamps.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      const t0 = performance.now();
      if (this.step()) this.stamps.push(t0);
      this.timer = window.setTimeout(tick, Math.max(0, this.minMs - (performance.now() - t0)));
    };
    tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.stamps = [];
  }
}
