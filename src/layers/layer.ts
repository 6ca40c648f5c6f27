// The lifecycle every layer shares: build from the input shape, declare parameters and workspace,
// then forward/backward on buffers the model placed in wasm memory, and getConfig for saving.
import type { Backend } from '../backend.js';
import { ShapeError, ValueError } from '../errors.js';
import type { InitializerName } from '../initializers.js';
import { formatShape } from '../tensor.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitializerName;
  fanIn: number;
  fanOut: number;
}

/** Where the model put this layer's tensors (byte pointers); sizes follow from shapes and batch capacity. */
export interface Binding {
  x: number; y: number; dx: number; dy: number;
  params: number[]; grads: number[];
  extra: number; scratch: number; scratchFloats: number;
}

export interface LayerArgs {
  name?: string;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
}

export type Activation = 'linear' | 'relu' | 'softmax';
const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'softmax'];

const counters = new Map<string, number>();
/** Keras-style unique names: conv2d, conv2d_1, ... */
function autoName(base: string): string {
  const n = counters.get(base) ?? 0;
  counters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

export abstract class Layer {
  abstract readonly className: string;
  readonly name: string;
  /** Input shape without the batch axis, when given in the config. */
  readonly declaredInputShape?: number[];
  inputShape: number[] = [];
  outputShape: number[] = [];
  params: ParamSpec[] = [];
  built = false;
  /** Output buffer is the input buffer (reshapes). */
  readonly aliasesInput: boolean = false;
  /** Set by the model when a fused softmax+crossentropy gradient arrives pre-activation. */
  fusedSoftmaxGrad = false;
  protected be!: Backend;
  protected b!: Binding;

  constructor(args: LayerArgs, base: string) {
    this.name = args.name ?? autoName(base);
    if (args.inputShape !== undefined || args.batchInputShape !== undefined) {
      const s = args.inputShape ?? args.batchInputShape!.slice(1);
      if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isInteger(d) && (d as number) > 0)) {
        throw new ShapeError(`${this.name}: inputShape must be an array of positive integers (without the batch axis), received ${JSON.stringify(s)}`);
      }
      this.declaredInputShape = s as number[];
    }
  }

  /** Checks the input shape (without batch), sets outputShape and params. */
  build(inputShape: number[]): void {
    this.outputShape = this.computeOutputShape(inputShape);
    this.inputShape = inputShape.slice();
    this.params = this.paramSpecs();
    this.built = true;
  }

  abstract computeOutputShape(inputShape: number[]): number[];
  protected paramSpecs(): ParamSpec[] {
    return [];
  }
  /** Floats of scratch shared by all layers (im2col chunks, packed weights). */
  scratchFloats(): number {
    return 0;
  }
  /** Bytes per sample of layer-private state kept from forward to backward (max-pool winners). */
  extraBytesPerSample(): number {
    return 0;
  }
  bind(be: Backend, b: Binding): void {
    this.be = be;
    this.b = b;
  }
  abstract forward(n: number, training: boolean): void;
  /** Fills parameter gradients from dy; writes dx when needDx (not for the first layer). */
  abstract backward(n: number, needDx: boolean): void;
  getConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = { name: this.name };
    if (this.declaredInputShape) c.batchInputShape = [null, ...this.declaredInputShape];
    return c;
  }
  countParams(): number {
    return this.params.reduce((s, p) => s + p.shape.reduce((a, d) => a * d, 1), 0);
  }

  protected expectRank(inputShape: number[], rank: number, hint = ''): void {
    if (inputShape.length !== rank) {
      throw new ShapeError(`${this.name} (${this.className}): expected input of rank ${rank + 1} ${formatShape([null, ...Array(rank).fill(null)]).replace(/null/g, '?')}, received ${formatShape([null, ...inputShape])}${hint}`);
    }
  }
}

export function checkActivation(a: string | undefined, layer: string): Activation {
  const v = a ?? 'linear';
  if (!ACTIVATIONS.includes(v)) {
    throw new ValueError(`${layer}: activation '${v}' is not supported; expected one of ${ACTIVATIONS.join(', ')} (or add a ReLU/Softmax layer)`);
  }
  return v as Activation;
}

export function checkPositiveInt(v: unknown, what: string, layer: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValueError(`${layer}: ${what} must be a positive integer, received ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkPadding(p: unknown, layer: string): 'valid' | 'same' {
  const v = p ?? 'valid';
  if (v !== 'valid' && v !== 'same') throw new ValueError(`${layer}: padding must be 'valid' or 'same', received ${JSON.stringify(p)}`);
  return v;
}
