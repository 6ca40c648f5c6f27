import { ValueError } from '../errors.js';
import { Layer, type LayerArgs } from './layer.js';

const size = (s: number[]) => s.reduce((a, d) => a * d, 1);

/** [N, ...dims] -> [N, prod(dims)]. NHWC rows are already contiguous, so it only renames the buffer. */
export class Flatten extends Layer {
  readonly className = 'Flatten';
  readonly aliasesInput = true;
  constructor(args: LayerArgs = {}) {
    super(args, 'flatten');
  }
  computeOutputShape(inputShape: number[]): number[] {
    return [size(inputShape)];
  }
  forward(): void {}
  backward(): void {}
}

export class ReLU extends Layer {
  readonly className = 'ReLU';
  constructor(args: LayerArgs = {}) {
    super(args, 're_lu');
  }
  computeOutputShape(inputShape: number[]): number[] {
    return inputShape.slice();
  }
  forward(n: number): void {
    this.be.k.relu_forward(this.b.x, this.b.y, n * size(this.outputShape));
  }
  backward(n: number, needDx: boolean): void {
    if (needDx) this.be.k.relu_backward(this.b.y, this.b.dy, this.b.dx, n * size(this.outputShape));
  }
}

/** Softmax over the last axis. As the last layer with a crossentropy loss, its gradient is fused with the loss. */
export class Softmax extends Layer {
  readonly className = 'Softmax';
  /** Kept as given (files from Keras name the last axis by its index); only the last axis is computed. */
  readonly axis: number;
  constructor(args: LayerArgs & { axis?: number } = {}) {
    super(args, 'softmax');
    this.axis = args.axis ?? -1;
  }
  computeOutputShape(inputShape: number[]): number[] {
    return inputShape.slice();
  }
  private get classes(): number {
    return this.outputShape[this.outputShape.length - 1];
  }
  forward(n: number): void {
    const rows = (n * size(this.outputShape)) / this.classes;
    this.be.k.softmax_forward(this.b.x, this.b.y, rows, this.classes);
  }
  backward(n: number, needDx: boolean): void {
    if (!needDx) return;
    const rows = (n * size(this.outputShape)) / this.classes;
    this.be.k.softmax_backward(this.b.y, this.b.dy, this.b.dx, rows, this.classes);
  }
}

/**
 * Dropout, for models loaded from Keras/TF.js files: the identity at inference, as there. Training a model
 * with rate > 0 is refused by fit() rather than silently trained without dropout.
 */
export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly aliasesInput = true;
  readonly rate: number;
  constructor(args: LayerArgs & { rate: number }) {
    super(args, 'dropout');
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1)) throw new ValueError(`${this.name}: rate must be in [0, 1), received ${args.rate}`);
    this.rate = args.rate;
  }
  computeOutputShape(inputShape: number[]): number[] {
    return inputShape.slice();
  }
  forward(): void {}
  backward(): void {}
  getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
}
