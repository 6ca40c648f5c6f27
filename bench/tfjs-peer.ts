// What the Node bench (bench/peers.ts) and the Chromium page (web/src/bench/) share about TF.js: the
// reference nets as TF.js layers with simdcnn's weights, and the harness's stand-in for the
// Conv2DBackpropFilter kernel TF.js's wasm backend lacks. No Node imports: the page bundles this file.
import * as tf from '@tensorflow/tfjs';

export type NetName = 'tutorial' | 'lenet';

export const FILTER_GRAD_STAND_IN_NOTE =
  "TF.js's wasm backend has no Conv2DBackpropFilter kernel: the harness registered a stand-in that computes it with the backend's own Conv2D (transposed input and gradient, dilation = stride)";

/** Registers the stand-in on the wasm backend unless TF.js has the kernel; true if it did. */
export function ensureFilterGradStandIn(): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  registerFilterGradStandIn();
  return true;
}

/** dW[ky,kx,c,o] = sum over n,oy,ox of x_pad[n, oy*s+ky, ox*s+kx, c] dy[n,oy,ox,o], as one conv of transposes. */
function registerFilterGradStandIn(): void {
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
      // Wrapping a TensorInfo in a Tensor does not take a reference on the backend's data, but disposing the
      // wrapper gives one back: take one per wrapper first, or the tidy below frees the caller's x and dy.
      const be = backend as unknown as { incRef(id: unknown): void };
      be.incRef(x.dataId);
      be.incRef(dy.dataId);
      const { strides, pad, filterShape } = attrs as unknown as { strides: number | [number, number]; pad: string; filterShape: number[] };
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const [KH, KW] = filterShape;
      const out = tf.tidy(() => {
        const xt = tf.engine().makeTensorFromTensorInfo(x) as tf.Tensor4D;
        const dyt = tf.engine().makeTensorFromTensorInfo(dy) as tf.Tensor4D;
        const [, H, W] = xt.shape,
          [, OH, OW] = dyt.shape;
        let xp = xt;
        if (pad === 'same') {
          const th = Math.max((OH - 1) * sh + KH - H, 0),
            tw = Math.max((OW - 1) * sw + KW - W, 0);
          xp = tf.pad(xt, [
            [0, 0],
            [Math.floor(th / 2), th - Math.floor(th / 2)],
            [Math.floor(tw / 2), tw - Math.floor(tw / 2)],
            [0, 0],
          ]);
        }
        const g = tf.conv2d(
          tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D,
          tf.transpose(dyt, [1, 2, 0, 3]) as tf.Tensor4D,
          1,
          'valid',
          'NHWC',
          [sh, sw],
        );
        return tf.transpose(g.slice([0, 0, 0, 0], [-1, KH, KW, -1]), [1, 2, 0, 3]);
      });
      // Hand the result's data to the engine: one reference for the output it makes, none left for `out`.
      be.incRef(out.dataId);
      out.dispose();
      return { dataId: out.dataId, shape: out.shape, dtype: out.dtype };
    },
  });
}

/** The net as TF.js layers, with the given weights (simdcnn's getWeights order and shapes), SGD compiled. */
export function tfNet(net: NetName, weights: Float32Array[], shapes: number[][], lr: number): tf.Sequential {
  const layers =
    net === 'tutorial'
      ? [
          tf.layers.conv2d({ filters: 8, kernelSize: 3, useBias: false, inputShape: [28, 28, 1] }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10 }),
          tf.layers.softmax(),
        ]
      : [
          tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 128, activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ];
  const m = tf.sequential({ layers });
  m.setWeights(weights.map((w, i) => tf.tensor(w, shapes[i])));
  m.compile({ optimizer: tf.train.sgd(lr), loss: 'sparseCategoricalCrossentropy' });
  return m;
}
