// Depthwise 3x3 convolution, forward and both gradients, against TF.js and against the memory-bandwidth bound
// of the shape: a depthwise 3x3 does 18 flops per element it reads, too few to be limited by arithmetic, so
// its floor is the time to move its bytes once at the copy bandwidth measured in the same run.
import { FLAG_BIAS, getBackend } from '../src/backend.js';
import {
  depthwiseBackwardFilter,
  depthwiseBackwardInput,
  depthwiseForward,
  depthwiseGeometry,
  depthwiseScratchFloats,
} from '../src/kernels/depthwise.js';
import { tf } from './peers.js';
import { timeInterleaved } from './util.js';

export interface DepthwiseRow {
  name: string;
  /** Bytes the kernel must read and write at least once. */
  bytes: number;
  /** The bandwidth bound: bytes / copy bandwidth, seconds. */
  bound: number;
  ours: number;
  tfjs: number;
  tfjsBackend: 'wasm' | 'cpu';
  note?: string;
}

/** MobileNet-v1's second depthwise layer at batch 32 (56x56x64, 3x3, stride 1, same): 25.7 MB per activation. */
export const DW_SHAPE = { N: 32, H: 56, W: 56, C: 64 };

export async function depthwiseRows(reps: number): Promise<{ rows: DepthwiseRow[]; copyBandwidth: number }> {
  const { N, H, W, C } = DW_SHAPE;
  const be = await getBackend();
  const fill = (n: number) => {
    const p = be.alloc(n * 4);
    const v = be.view(p, n);
    for (let i = 0; i < n; i++) v[i] = Math.sin(i) * 0.5;
    return p;
  };
  const g = depthwiseGeometry('bench', [H, W, C], [3, 3], [1, 1], [1, 1], 'same', 1);
  const act = N * H * W * C;
  const x = fill(act),
    y = fill(act),
    dy = fill(act),
    dx = fill(act),
    w = fill(9 * C),
    b = fill(C),
    dw = fill(9 * C),
    db = fill(C),
    s = fill(depthwiseScratchFloats(g));
  // Copy bandwidth on buffers of one activation each (the kernels below read one and write or read another):
  // the better of wasm's own SIMD copy loop and the engine's memmove.
  const cs = fill(act),
    cd = fill(act);
  const [tWasm, tMove] = await timeInterleaved([() => be.k.copy_rows_f32(cd, 0, cs, 0, 1, act), () => be.copy(cd, cs, act)], {
    reps,
    inner: 2,
  });
  const copyBandwidth = (2 * act * 4) / Math.min(tWasm, tMove);
  const bytes = 2 * act * 4;
  const bound = bytes / copyBandwidth;

  await tf.setBackend('wasm');
  const tx = tf.randomNormal([N, H, W, C]) as tf.Tensor4D,
    tw = tf.randomNormal([3, 3, C, 1]) as tf.Tensor4D;
  const tsync = async (t: tf.Tensor) => {
    await t.data();
    t.dispose();
  };
  // TF.js's wasm backend has no depthwise gradient kernels; the cpu backend's are called directly (no backend
  // switch inside the timed rounds), on tensors that live in the cpu backend. They take seconds per call at
  // batch 32 (the filter gradient ~20 s), so they run at batch CPU_N and their time is scaled by N / CPU_N
  // (their loops are linear in the batch).
  const cpu = tf.findBackend('cpu') as tf.KernelBackend & { disposeData(id: object): void };
  const onCpu = (shape: number[]) => {
    const data = tf.randomNormal(shape).dataSync() as Float32Array;
    return { dataId: cpu.write(data, shape, 'float32'), shape, dtype: 'float32' } as tf.TensorInfo;
  };
  const CPU_N = 2,
    scale = N / CPU_N;
  const cx = onCpu([CPU_N, H, W, C]),
    cdy = onCpu([CPU_N, H, W, C]),
    cw = onCpu([3, 3, C, 1]);
  const cpuKernel = (name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => () => {
    const out = tf.getKernel(name, 'cpu')!.kernelFunc({ inputs, attrs: attrs as never, backend: cpu }) as tf.TensorInfo;
    cpu.disposeData(out.dataId);
  };
  const conv = { strides: [1, 1], dilations: [1, 1], pad: 'same', dimRoundingMode: undefined };

  const rows: DepthwiseRow[] = [];
  const shape = `[${N},${H},${W},${C}]*[3,3,${C},1] same`;
  const [f, fTf] = await timeInterleaved(
    [() => depthwiseForward(be, x, w, b, y, s, g, N, FLAG_BIAS), () => tsync(tf.depthwiseConv2d(tx, tw, 1, 'same'))],
    { reps, inner: 2 },
  );
  rows.push({ name: `depthwise 3x3 forward ${shape} (+bias)`, bytes, bound, ours: f, tfjs: fTf, tfjsBackend: 'wasm' });
  const [i, iTf] = await timeInterleaved(
    [
      () => depthwiseBackwardInput(be, dy, w, dx, s, g, N),
      cpuKernel('DepthwiseConv2dNativeBackpropInput', { dy: cdy, filter: cw }, { ...conv, inputShape: [CPU_N, H, W, C] }),
    ],
    { reps, inner: 1 },
  );
  const none = `TF.js wasm has none: TF.js cpu, timed at batch ${CPU_N} x ${scale}`;
  rows.push({ name: 'depthwise 3x3 grad-input (same shapes)', bytes, bound, ours: i, tfjs: iTf * scale, tfjsBackend: 'cpu', note: none });
  const [k, kTf] = await timeInterleaved(
    [
      () => depthwiseBackwardFilter(be, x, dy, dw, db, s, g, N, FLAG_BIAS),
      cpuKernel('DepthwiseConv2dNativeBackpropFilter', { x: cx, dy: cdy }, { ...conv, filterShape: [3, 3, C, 1] }),
    ],
    { reps, inner: 1 },
  );
  rows.push({ name: 'depthwise 3x3 grad-filter (+bias grad)', bytes, bound, ours: k, tfjs: kTf * scale, tfjsBackend: 'cpu', note: none });

  for (const t of [tx, tw]) t.dispose();
  for (const t of [cx, cdy, cw]) cpu.disposeData(t.dataId);
  for (const p of [x, y, dy, dx, w, b, dw, db, s, cs, cd]) be.release(p);
  return { rows, copyBandwidth };
}
