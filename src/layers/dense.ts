import { FLAG_BIAS, FLAG_NEED_DX, FLAG_SKIP_DW } from '../backend.js';
import { initializerConfig } from '../initializers.js';
import {
  denseBackward,
  denseBackwardInputCached,
  denseForward,
  denseForwardCached,
  densePackedCacheFloats,
  denseScratchFloats,
  denseTrainingCacheFloats,
} from '../kernels/dense.js';
import {
  activationBackward,
  finishActivation,
  fusedOutput,
  fusedSavedFloats,
  checkPositiveInt,
  type Need,
  type NodeIO,
  type NodeShapes,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';
import { regularizerConfig } from '../regularizers.js';
import { KernelLayer, type KernelLayerArgs, KERNEL_LAYER_OPTIONS } from './kernel-layer.js';

export interface DenseArgs extends KernelLayerArgs {
  units: number;
}

/** Fully connected: y = act(x w + b), w [in, units]. */
class DenseLayer extends KernelLayer {
  static readonly className = 'Dense';
  static readonly options = ['units', ...KERNEL_LAYER_OPTIONS];
  static readonly fixedOptions = {
    activityRegularizer: null,
    kernelConstraint: null,
    biasConstraint: null,
    loraRank: null,
  };
  readonly units: number;
  readonly sharesCache = true;

  constructor(args: DenseArgs) {
    super(args, 'dense');
    this.units = checkPositiveInt(args.units, 'units', this.name);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    this.expectRank(inputShapes, 1, '; put a Flatten() layer before Dense');
    return [this.units];
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const inUnits = inputShapes[0][0];
    return this.kernelAndBias([inUnits, this.units], inUnits, this.units);
  }

  /** Per-call packing; a chunk packs once into the shared cache, and its small batches read the kernel in place. */
  scratchFloats(s: NodeShapes, chunk: boolean): number {
    return chunk ? 0 : denseScratchFloats(s.in[0][0], this.units);
  }

  /**
   * Inference keeps the kernel packed for the GEMM, made once per weights version (XNNPACK's setup/run
   * split). Training changes the weights every step and packs in scratch as it goes, but the chunks of a
   * split batch share the kernel and its transpose packed once per step.
   */
  cacheFloats(s: NodeShapes, training: boolean, chunk: boolean): number {
    if (training) return chunk ? denseTrainingCacheFloats(s.in[0][0], this.units) : 0;
    return densePackedCacheFloats(s.in[0][0], this.units);
  }

  savedFloatsPerSample(_s: NodeShapes): number {
    return fusedSavedFloats(this.activation, this.units);
  }

  forward(io: NodeIO, n: number, { be, training, weightsVersion }: RunContext): void {
    const [kernel, b] = io.fold?.params ?? [io.params[0], this.useBias ? io.params[1] : 0],
      activation = io.fold?.activation ?? this.activation;
    const { out, flags } = fusedOutput(activation, io, training);
    const IN = io.shapes.in[0][0],
      f = flags | (b ? FLAG_BIAS : 0);
    if (io.cache) denseForwardCached(be, io.x[0], kernel, b, out, io.scratch, n, IN, this.units, f, io.cache, weightsVersion);
    else denseForward(be, io.x[0], kernel, b, out, io.scratch, n, IN, this.units, f);
    finishActivation(activation, io, n * this.units, this.units, training, be);
  }

  backward(io: NodeIO, n: number, need: Need, { be, weightsVersion }: RunContext): void {
    activationBackward(this.activation, io, n * this.units, this.units, be);
    const IN = io.shapes.in[0][0],
      packed = need.dx[0] && io.cache !== 0 && n >= 4;
    const flags = (this.useBias ? FLAG_BIAS : 0) | (need.dx[0] && !packed ? FLAG_NEED_DX : 0) | (need.dw ? 0 : FLAG_SKIP_DW);
    if (packed) denseBackwardInputCached(be, io.dy, io.params[0], io.dx[0], n, IN, this.units, io.cache, weightsVersion);
    denseBackward(
      be,
      io.x[0],
      io.params[0],
      io.dy,
      io.dx[0],
      io.grads[0] ?? 0,
      this.useBias ? (io.grads[1] ?? 0) : 0,
      io.scratch,
      n,
      IN,
      this.units,
      flags,
    );
  }

  getConfig(): Record<string, unknown> {
    return {
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
      activityRegularizer: null,
      kernelConstraint: null,
      biasConstraint: null,
      ...super.getConfig(),
    };
  }
}
registerLayer(DenseLayer);

export const Dense = callable(DenseLayer);
export type Dense = DenseLayer;
