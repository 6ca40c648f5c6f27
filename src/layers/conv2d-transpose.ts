// Conv2DTranspose (a "deconvolution"): the adjoint of a strided convolution, which enlarges images. With
// TF.js's weight layout [kh, kw, filters, inC] it is exactly the convolution it transposes, seen backwards:
// its forward pass is conv2d's input gradient, its input gradient is conv2d's forward pass, and its filter
// gradient is conv2d's filter gradient with the roles of input and output gradient swapped. So it runs on
// the conv2d kernels, on the weights in place (no transposed copy). As in TF.js, it is a Conv2D with
// another shape rule, weight shape and computation.
import { FLAG_BIAS } from '../backend.js';
import { ValueError } from '../errors.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../kernels/conv2d.js';
import { memoByShape, transposedWindow2D, type Window2D } from '../kernels/geometry.js';
import { Conv2D, type Conv2DArgs } from './conv2d.js';
import {
  activationBackward,
  finishActivation,
  type FoldKind,
  fusedOutput,
  type Need,
  type NodeIO,
  type NodeShapes,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

/**
 * Conv2D's options. padding 'same': output = input * strides; 'valid': input * strides + max(kernel -
 * strides, 0) (TF.js's rule). dilationRate: only 1 (TF.js's Conv2DTranspose has none).
 */
export type Conv2DTransposeArgs = Conv2DArgs;

/**
 * Transposed 2D convolution: [h, w, inC] -> [H, W, filters] with H = h * strides[0] ('same'). Each input
 * pixel adds its kh x kw x filters footprint, weighted by its channels, into the output. Weights
 * [kh, kw, filters, inC], as TF.js and Keras store them.
 */
class Conv2DTransposeLayer extends Conv2D {
  static readonly className = 'Conv2DTranspose';
  /** Keras writes output_padding; TF.js has none, so only its default. */
  static readonly fixedOptions = { ...Conv2D.fixedOptions, outputPadding: null };

  constructor(args: Conv2DTransposeArgs) {
    super(args, 'conv2d_transpose');
    if (this.dilationRate[0] !== 1 || this.dilationRate[1] !== 1)
      throw new ValueError(
        `${this.name} (Conv2DTranspose): dilationRate ${JSON.stringify(this.dilationRate)} is not supported (only 1, as in TF.js)`,
      );
  }

  /** The convolution this layer transposes, per input shape: its input is this layer's output. */
  protected windows(): (inShape: number[]) => Window2D {
    return memoByShape((s) => transposedWindow2D(this.name, s, this.kernelSize, this.strides, this.padding, this.filters));
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const g = this.geometry(this.expectRank(inputShapes, 3, ' [batch, height, width, channels]'));
    return [g.H, g.W, this.filters];
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const [kernel, ...bias] = super.declareWeights(inputShapes);
    const [kh, kw, inC, filters] = kernel.shape;
    // [kh, kw, filters, inC]; fans as TF.js computes them from the kernel's shape (its last two axes).
    return [{ ...kernel, shape: [kh, kw, filters, inC], fanIn: kh * kw * filters, fanOut: kh * kw * inC }, ...bias];
  }

  /**
   * Always direct: no Winograd scratch and no transformed-filter cache. The transposed convolution of a
   * decoder is strided, where Winograd does not apply; at stride 1 it would run Winograd's input gradient as
   * its forward pass, which does not keep the exact zeros of windows over zeros that a ReLU after it needs.
   */
  scratchFloats(s: NodeShapes): number {
    return conv2dScratchFloats(this.geometry(s.in[0]), s.in[0][2], false);
  }
  cacheFloats(): number {
    return 0;
  }
  /** Not the 2x2 max pool Conv2D folds in: this forward is a convolution's input gradient. */
  absorbs(kind: FoldKind): boolean {
    return kind !== 'maxpool2x2' && super.absorbs(kind);
  }

  forward(io: NodeIO, n: number, { be, training }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      inC = io.shapes.in[0][2];
    const { out, flags } = fusedOutput(this.activation, io, training);
    conv2dBackwardInput(be, io.x[0], io.params[0], out, io.scratch, g, n, inC);
    be.k.bias_act(n * g.H * g.W, this.filters, out, this.useBias ? io.params[1] : 0, flags | (this.useBias ? FLAG_BIAS : 0));
    finishActivation(this.activation, io, n * g.H * g.W * this.filters, this.filters, training, be);
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      inC = io.shapes.in[0][2];
    activationBackward(this.activation, io, n * g.H * g.W * this.filters, this.filters, be);
    if (need.dw) {
      conv2dBackwardFilter(be, io.dy, io.x[0], io.grads[0], 0, io.scratch, g, n, inC, 0);
      if (this.useBias) be.k.bias_grad(n * g.H * g.W, this.filters, io.dy, io.grads[1]);
    }
    if (need.dx[0]) conv2dForward(be, io.dy, io.params[0], 0, io.dx[0], io.scratch, g, n, inC, 0);
  }

  /** TF.js's Conv2DTranspose config: Conv2D's without dilationRate. */
  getConfig(): Record<string, unknown> {
    const { dilationRate: _, ...c } = super.getConfig();
    return c;
  }
}
registerLayer(Conv2DTransposeLayer, { aliases: ['Convolution2DTranspose'] });

export const Conv2DTranspose = callable(Conv2DTransposeLayer);
export type Conv2DTranspose = Conv2DTransposeLayer;
