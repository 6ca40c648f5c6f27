// Depthwise 3x3 convolution, forward and both gradients, on MobileNet-v1's depthwise shapes at batch 32, against
// the shape's roofline: the bandwidth bound (the bytes a kernel must move once, at the copy bandwidth measured in
// the same run on buffers of the shape's input size) and the arithmetic floor (18 flops per output element at one
// core's 128-bit FMA peak, 57 GFLOP/s: /work/shared/notes/wasm-simd.md). A 3x3 depthwise layer does 2.25 flops
// per byte at stride 1 and 0.9 at stride 2, so on this core stride 1 is bound by arithmetic and stride 2 by
// memory. TF.js wasm's forward runs in the same rounds; its gradients only on the first shape (below).
import { type Backend, FLAG_BIAS, getBackend } from '../src/backend.js';
import {
  depthwiseBackwardFilter,
  depthwiseBackwardInput,
  depthwiseForward,
  depthwiseGeometry,
  depthwiseScratchFloats,
} from '../src/kernels/depthwise.js';
import { tf } from './peers.js';
import { fmt, timeInterleaved } from './util.js';

/** One core's 128-bit FMA peak (2 pipes x 4 lanes x 2 flops x 3.55 GHz). */
export const FMA_PEAK = 57e9;

export interface DepthwiseRow {
  name: string;
  /** Bytes the kernel must read and write at least once: x and y (forward), dy and dx, x and dy. */
  bytes: number;
  /** Copy bandwidth measured on buffers of this shape's input size, bytes/s. */
  copyBandwidth: number;
  /** bytes / copyBandwidth, seconds. */
  bandwidthBound: number;
  /** 18 flops per output element at FMA_PEAK, seconds. */
  arithmeticFloor: number;
  ours: number;
  tfjs?: number;
  tfjsBackend?: 'wasm' | 'cpu';
  note?: string;
}

/**
 * [N, H, W, C, stride]: MobileNet-v1's depthwise layers at batch 32 (224x224 input), depthMultiplier 1, 'same'. The
 * first four do not fit in the cache (their bound is DRAM's); [14,14,512] (13 MB a buffer) partly does.
 */
export const DW_SHAPES: [number, number, number, number, number][] = [
  [32, 112, 112, 32, 1],
  [32, 112, 112, 64, 2],
  [32, 56, 56, 128, 1],
  [32, 56, 56, 128, 2],
  [32, 28, 28, 256, 1],
  [32, 14, 14, 512, 1],
  [32, 14, 14, 512, 2],
];

/** Buffers of a depthwise 3x3 'same' call on [N, H, W, C] at stride S, filled with a smooth pattern. */
export function depthwiseBuffers(be: Backend, N: number, H: number, W: number, C: number, S: number) {
  const fill = (n: number) => {
    const p = be.alloc(n * 4);
    const v = be.view(p, n);
    for (let i = 0; i < n; i++) v[i] = Math.sin(i) * 0.5;
    return p;
  };
  const g = depthwiseGeometry('bench', [H, W, C], [3, 3], [S, S], [1, 1], 'same', 1);
  const act = N * H * W * C,
    out = N * g.OH * g.OW * C;
  const p = {
    x: fill(act),
    y: fill(out),
    dy: fill(out),
    dx: fill(act),
    w: fill(9 * C),
    b: fill(C),
    dw: fill(9 * C),
    db: fill(C),
    s: fill(depthwiseScratchFloats(g)),
  };
  return { g, act, out, p, fill, release: () => Object.values(p).forEach((q) => be.release(q)) };
}

export async function depthwiseRows(reps: number): Promise<DepthwiseRow[]> {
  const be = await getBackend();
  await tf.setBackend('wasm');
  const rows: DepthwiseRow[] = [];
  for (const [si, [N, H, W, C, S]] of DW_SHAPES.entries()) {
    const { g, act, out, p, fill, release } = depthwiseBuffers(be, N, H, W, C, S);
    const { x, y, dy, dx, w, b, dw, db, s } = p;
    // Copy bandwidth on two buffers of the input's size: the better of wasm's SIMD copy loop and the engine's memmove.
    const cs = fill(act),
      cd = fill(act);
    const [tWasm, tMove] = await timeInterleaved([() => be.k.copy_rows_f32(cd, 0, cs, 0, 1, act), () => be.copy(cd, cs, act)], {
      reps,
      inner: 2,
    });
    be.release(cd);
    be.release(cs);
    const copyBandwidth = (2 * act * 4) / Math.min(tWasm, tMove);
    const bytes = (act + out) * 4;
    const bound = { bytes, copyBandwidth, bandwidthBound: bytes / copyBandwidth, arithmeticFloor: (18 * out) / FMA_PEAK };
    const shape = `[${N},${H},${W},${C}]*[3,3,${C},1] stride ${S}`;

    const tx = tf.randomNormal([N, H, W, C]) as tf.Tensor4D,
      tw = tf.randomNormal([3, 3, C, 1]) as tf.Tensor4D;
    const tfForward = async () => {
      const t = tf.depthwiseConv2d(tx, tw, S, 'same');
      await t.data();
      t.dispose();
    };
    const [f, fTf] = await timeInterleaved([() => depthwiseForward(be, x, w, b, y, s, g, N, FLAG_BIAS), tfForward], { reps, inner: 2 });
    rows.push({ name: `forward ${shape} (+bias)`, ...bound, ours: f, tfjs: fTf, tfjsBackend: 'wasm' });
    tx.dispose();
    tw.dispose();
    const input = () => depthwiseBackwardInput(be, dy, w, dx, s, g, N),
      filter = () => depthwiseBackwardFilter(be, x, dy, dw, db, s, g, N, FLAG_BIAS);
    if (si === 0) {
      const { i, iTf, k, kTf, note } = await withTfjsCpuGradients(N, H, W, C, S, reps, input, filter);
      rows.push({ name: `grad-input ${shape}`, ...bound, ours: i, tfjs: iTf, tfjsBackend: 'cpu', note });
      rows.push({ name: `grad-filter ${shape} (+bias grad)`, ...bound, ours: k, tfjs: kTf, tfjsBackend: 'cpu', note });
    } else {
      const [i, k] = await timeInterleaved([input, filter], { reps, inner: 2 });
      rows.push({ name: `grad-input ${shape}`, ...bound, ours: i });
      rows.push({ name: `grad-filter ${shape} (+bias grad)`, ...bound, ours: k });
    }
    release();
  }
  return rows;
}

/**
 * simdcnn's gradients interleaved with TF.js's. TF.js's wasm backend has no depthwise gradient kernels; the cpu
 * backend's are called directly (no backend switch inside the timed rounds), on tensors that live in the cpu
 * backend. They take seconds per call at batch 32 (the filter gradient ~20 s), so they run at batch CPU_N and
 * their time is scaled by N / CPU_N (their loops are linear in the batch).
 */
async function withTfjsCpuGradients(
  N: number,
  H: number,
  W: number,
  C: number,
  S: number,
  reps: number,
  input: () => void,
  filter: () => void,
) {
  const cpu = tf.findBackend('cpu') as tf.KernelBackend & { disposeData(id: object): void };
  const onCpu = (shape: number[]) => {
    const data = tf.randomNormal(shape).dataSync() as Float32Array;
    return { dataId: cpu.write(data, shape, 'float32'), shape, dtype: 'float32' } as tf.TensorInfo;
  };
  const CPU_N = 2,
    scale = N / CPU_N,
    OH = Math.ceil(H / S),
    OW = Math.ceil(W / S);
  const cx = onCpu([CPU_N, H, W, C]),
    cdy = onCpu([CPU_N, OH, OW, C]),
    cw = onCpu([3, 3, C, 1]);
  const cpuKernel = (name: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => () => {
    const out = tf.getKernel(name, 'cpu')!.kernelFunc({ inputs, attrs: attrs as never, backend: cpu }) as tf.TensorInfo;
    cpu.disposeData(out.dataId);
  };
  const conv = { strides: [S, S], dilations: [1, 1], pad: 'same', dimRoundingMode: undefined };
  const [i, iTf] = await timeInterleaved(
    [input, cpuKernel('DepthwiseConv2dNativeBackpropInput', { dy: cdy, filter: cw }, { ...conv, inputShape: [CPU_N, H, W, C] })],
    { reps, inner: 1 },
  );
  const [k, kTf] = await timeInterleaved(
    [filter, cpuKernel('DepthwiseConv2dNativeBackpropFilter', { x: cx, dy: cdy }, { ...conv, filterShape: [3, 3, C, 1] })],
    { reps, inner: 1 },
  );
  for (const t of [cx, cdy, cw]) cpu.disposeData(t.dataId);
  return { i, iTf: iTf * scale, k, kTf: kTf * scale, note: `TF.js wasm has none: TF.js cpu, timed at batch ${CPU_N} x ${scale}` };
}

/** The bench's depthwise section: the rows as a markdown table under its explanation. */
export function depthwiseSection(rows: DepthwiseRow[], reps: number, load: number): string[] {
  const ms = (t: number) => fmt(t * 1e3, 2);
  const lines = [
    '## Depthwise 3x3 (ms per call) against the roofline of each shape',
    '',
    `MobileNet-v1's depthwise layers at batch 32 ('same', depthMultiplier 1). Bandwidth bound = the bytes a kernel must move once (x and y; dy and dx; x and dy) / the copy bandwidth measured in this run on two buffers of the shape's input size. Arithmetic floor = 18 flops per output element at the ${fmt(FMA_PEAK / 1e9)} GFLOP/s FMA peak of one core. Roofline = the larger of the two. Issue 12's bar: within 2x of the bandwidth bound. Medians of ${reps} interleaved rounds; 1-minute load average when they started: ${fmt(load, 1)} (2 cores).`,
    '',
    '| kernel | simdcnn ms | copy GB/s | bandwidth bound ms | arithmetic floor ms | roofline ms | / bandwidth bound | / roofline | TF.js ms | TF.js / simdcnn |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const roof = Math.max(r.bandwidthBound, r.arithmeticFloor);
    const tfjs = r.tfjs === undefined ? '—' : `${fmt(r.tfjs * 1e3, 1)} (${r.note ?? `TF.js ${r.tfjsBackend}`})`;
    lines.push(
      `| ${r.name} | ${ms(r.ours)} | ${fmt(r.copyBandwidth / 1e9, 1)} | ${ms(r.bandwidthBound)} | ${ms(r.arithmeticFloor)} | ${ms(roof)} | ${fmt(r.ours / r.bandwidthBound, 2)}x | ${fmt(r.ours / roof, 2)}x | ${tfjs} | ${r.tfjs === undefined ? '—' : `${fmt(r.tfjs / r.ours, 1)}x`} |`,
    );
  }
  return lines;
}
