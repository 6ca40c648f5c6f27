// Owns the wasm instance and its memory: picks the build, hands out aligned regions, keeps views fresh.
import { relaxedBase64, simdBase64 } from './generated/wasm-bytes.js';
import { MemoryError, SimdcnnError, StateError } from './errors.js';

type Ptr = number;
/** The kernels as the wasm module exports them (pointers are byte offsets). */
export interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  set_scalar(on: number): void;
  count_nonfinite(x: Ptr, n: number): number;
  gemm_nn(M: number, N: number, K: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: number, scratch: Ptr): void;
  gemm_nt(M: number, N: number, K: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: number, scratch: Ptr): void;
  gemm_tn(M: number, N: number, K: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: number): void;
  conv2d_forward(x: Ptr, w: Ptr, bias: Ptr, y: Ptr, scratch: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, OC: number, KH: number, KW: number, SH: number, SW: number, PT: number, PL: number, PB: number, PR: number, flags: number): void;
  conv2d_backward_input(dy: Ptr, w: Ptr, dx: Ptr, scratch: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, OC: number, KH: number, KW: number, SH: number, SW: number, PT: number, PL: number, PB: number, PR: number): void;
  conv2d_backward_filter(x: Ptr, dy: Ptr, dw: Ptr, db: Ptr, scratch: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, OC: number, KH: number, KW: number, SH: number, SW: number, PT: number, PL: number, PB: number, PR: number, flags: number): void;
  maxpool2d_forward(x: Ptr, y: Ptr, arg: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, PH: number, PW: number, SH: number, SW: number, PT: number, PL: number): void;
  maxpool2d_backward(dy: Ptr, arg: Ptr, dx: Ptr, outCount: number, inCount: number): void;
  avgpool2d_forward(x: Ptr, y: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, PH: number, PW: number, SH: number, SW: number, PT: number, PL: number): void;
  avgpool2d_backward(dy: Ptr, dx: Ptr, N: number, H: number, W: number, C: number, OH: number, OW: number, PH: number, PW: number, SH: number, SW: number, PT: number, PL: number): void;
  dense_forward(x: Ptr, w: Ptr, bias: Ptr, y: Ptr, scratch: Ptr, N: number, IN: number, OUT: number, flags: number): void;
  dense_backward(x: Ptr, w: Ptr, dy: Ptr, dx: Ptr, dw: Ptr, db: Ptr, scratch: Ptr, N: number, IN: number, OUT: number, flags: number): void;
  bias_act(rows: number, cols: number, y: Ptr, bias: Ptr, flags: number): void;
  bias_grad(rows: number, cols: number, dy: Ptr, db: Ptr): void;
  relu_forward(x: Ptr, y: Ptr, n: number): void;
  relu_backward(y: Ptr, dy: Ptr, dx: Ptr, n: number): void;
  softmax_forward(x: Ptr, y: Ptr, N: number, C: number): void;
  softmax_backward(y: Ptr, dy: Ptr, dx: Ptr, N: number, C: number): void;
  softmax_xent_sparse(p: Ptr, labels: Ptr, dlogits: Ptr, N: number, C: number, scale: number): number;
  softmax_xent_dense(p: Ptr, t: Ptr, dlogits: Ptr, N: number, C: number, scale: number): number;
  count_correct_sparse(p: Ptr, labels: Ptr, N: number, C: number): number;
  count_correct_dense(p: Ptr, t: Ptr, N: number, C: number): number;
  sgd_update(w: Ptr, g: Ptr, n: number, lr: number): void;
  momentum_update(w: Ptr, g: Ptr, acc: Ptr, n: number, lr: number, momentum: number): void;
  adam_update(w: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number): void;
}

export type BuildName = 'relaxed' | 'simd';
export const FLAG_BIAS = 1;
export const FLAG_RELU = 2;
export const FLAG_NEED_DX = 4;

const ALIGN = 64; // a cache line: keeps v128 loads of every buffer aligned
const PAGE = 65536;
/** wasm32 addresses 4 GiB; V8 stops a bit short of that. */
export const MAX_MEMORY_BYTES = 65536 * PAGE - PAGE;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const decoded = new Map<BuildName, Uint8Array<ArrayBuffer>>();
/** A build's wasm, decoded from its embedded base64 on first use only. */
function wasmBytes(build: BuildName): Uint8Array<ArrayBuffer> {
  let b = decoded.get(build);
  if (!b) {
    b = decodeBase64(build === 'relaxed' ? relaxedBase64 : simdBase64);
    decoded.set(build, b);
  }
  return b;
}

export function simdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(wasmBytes('simd'));
}
export function relaxedSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(wasmBytes('relaxed'));
}

interface Block { start: number; size: number }

export class Backend {
  readonly k: Kernels;
  readonly build: BuildName;
  readonly scalar: boolean;
  private _f32: Float32Array;
  private _i32: Int32Array;
  private free: Block[] = [];
  private sizes = new Map<number, number>();
  private top: number;
  /** Bytes currently handed out; tests use it to prove disposal returns memory. */
  allocatedBytes = 0;

  constructor(instance: WebAssembly.Instance, build: BuildName, scalar: boolean) {
    this.k = instance.exports as unknown as Kernels;
    this.build = build;
    this.scalar = scalar;
    this.k.set_scalar(scalar ? 1 : 0);
    this.top = Math.ceil(this.k.heapBase() / ALIGN) * ALIGN;
    this._f32 = new Float32Array(this.k.memory.buffer);
    this._i32 = new Int32Array(this.k.memory.buffer);
  }

  /** Float32 view of the whole memory; re-created after growth detaches the old buffer. */
  get f32(): Float32Array {
    if (this._f32.buffer !== this.k.memory.buffer) this.refresh();
    return this._f32;
  }
  get i32(): Int32Array {
    if (this._i32.buffer !== this.k.memory.buffer) this.refresh();
    return this._i32;
  }
  private refresh(): void {
    this._f32 = new Float32Array(this.k.memory.buffer);
    this._i32 = new Int32Array(this.k.memory.buffer);
  }

  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  /** A zeroed region of at least `bytes`, aligned to 64. First fit from the free list, else the top. */
  alloc(bytes: number, what = 'buffer'): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let ptr = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.size >= size) {
        ptr = b.start;
        if (b.size === size) this.free.splice(i, 1);
        else { b.start += size; b.size -= size; }
        break;
      }
    }
    if (ptr < 0) {
      const end = this.top + size;
      if (end > MAX_MEMORY_BYTES) {
        throw new MemoryError(`${what}: needs ${size} more bytes of wasm memory; the engine allows ${MAX_MEMORY_BYTES} in all and ${this.top} are in use (use a smaller batch size or model)`);
      }
      const have = this.k.memory.buffer.byteLength;
      if (end > have) {
        try {
          this.k.memory.grow(Math.ceil((end - have) / PAGE));
        } catch (e) {
          throw new MemoryError(`${what}: the engine refused to grow wasm memory to ${end} bytes (${(e as Error).message})`);
        }
      }
      ptr = this.top;
      this.top = end;
    }
    this.f32.fill(0, ptr >> 2, (ptr + size) >> 2);
    this.allocatedBytes += size;
    this.sizes.set(ptr, size);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new SimdcnnError(`release: ${ptr} is not an allocated region`);
    this.sizes.delete(ptr);
    this.allocatedBytes -= size;
    // Insert sorted and merge with neighbours so freed space is reused for any later size.
    let i = 0;
    while (i < this.free.length && this.free[i].start < ptr) i++;
    this.free.splice(i, 0, { start: ptr, size });
    if (i + 1 < this.free.length && ptr + size === this.free[i + 1].start) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].start + this.free[i - 1].size === ptr) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  /** Copies values into memory at ptr (a float index offset may be given). */
  write(ptr: number, data: ArrayLike<number>, offsetFloats = 0): void {
    this.f32.set(data, (ptr >> 2) + offsetFloats);
  }
  read(ptr: number, n: number): Float32Array {
    return this.f32.slice(ptr >> 2, (ptr >> 2) + n);
  }
  view(ptr: number, n: number): Float32Array {
    return this.f32.subarray(ptr >> 2, (ptr >> 2) + n);
  }
}

const modules = new Map<BuildName, WebAssembly.Module>();

async function compile(build: BuildName): Promise<WebAssembly.Module> {
  let m = modules.get(build);
  if (!m) {
    m = await WebAssembly.compile(wasmBytes(build));
    modules.set(build, m);
  }
  return m;
}
function compileSync(build: BuildName): WebAssembly.Module {
  let m = modules.get(build);
  if (!m) {
    m = new WebAssembly.Module(wasmBytes(build));
    modules.set(build, m);
  }
  return m;
}

export interface BackendOptions {
  /** 'relaxed' (FMA) when the engine validates it, else 'simd'. */
  build?: BuildName;
  /** Run the scalar sibling of every SIMD kernel (tests). */
  scalar?: boolean;
}

let preferred: BuildName | undefined;
/** Which build getBackend() creates first (the Node entry reads SIMDCNN_BUILD into it). */
export function preferBuild(b: BuildName | undefined): void {
  if (b !== undefined && b !== 'simd' && b !== 'relaxed') throw new SimdcnnError(`unknown build '${b}'; expected 'simd' or 'relaxed'`);
  preferred = b;
}

export function defaultBuild(): BuildName {
  return preferred ?? (relaxedSupported() ? 'relaxed' : 'simd');
}

/** The build to create, after checking the engine runs it. */
function chooseBuild(opts: BackendOptions): BuildName {
  if (!simdSupported()) {
    throw new SimdcnnError('simdcnn needs WebAssembly SIMD (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+); this engine does not validate it');
  }
  const build = opts.build ?? defaultBuild();
  if (build === 'relaxed' && !relaxedSupported()) {
    throw new SimdcnnError("the 'relaxed' build needs relaxed SIMD, which this engine does not validate (in Node 20 import 'simdcnn' itself, which enables it, or start node with --experimental-wasm-relaxed-simd)");
  }
  return build;
}

/** A new, independent wasm instance with its own memory. */
export async function createBackend(opts: BackendOptions = {}): Promise<Backend> {
  const build = chooseBuild(opts);
  const instance = await WebAssembly.instantiate(await compile(build), {});
  return new Backend(instance, build, opts.scalar ?? false);
}

let current: Backend | undefined;
let pending: Promise<Backend> | undefined;
/** Why the engine cannot run simdcnn at all (no SIMD): thrown by every later use. */
let unsupported: SimdcnnError | undefined;

/**
 * Creates the default backend at import, synchronously where the engine allows it (Node, workers, and
 * Chromium's main thread up to 8 MB; older Chromium refused more than 4 KB there). Elsewhere the compile
 * starts asynchronously and ready() (or the first fit/loadModel) waits for it.
 */
export function initBackend(): void {
  if (current) return;
  try {
    const build = chooseBuild({});
    current = new Backend(new WebAssembly.Instance(compileSync(build), {}), build, false);
  } catch (e) {
    if (e instanceof SimdcnnError) unsupported = e;
    else getBackend().catch(() => {}); // a refused synchronous compile: ready() reports any failure
  }
}

/** The backend new models use, compiled asynchronously if the import could not do it synchronously. */
export async function getBackend(): Promise<Backend> {
  if (current) return current;
  if (unsupported) throw unsupported;
  pending ??= createBackend().finally(() => { pending = undefined; });
  current ??= await pending;
  return current;
}
export function currentBackend(): Backend {
  if (current) return current;
  if (unsupported) throw unsupported;
  throw new StateError('simdcnn: the wasm kernels are still compiling (this engine does not compile WebAssembly synchronously here); `await ready()` once before synchronous calls such as predict or build (fit and loadModel wait by themselves)');
}

/** Switch the build new models use (existing models keep theirs). */
export async function setBackend(opts: BackendOptions): Promise<Backend> {
  current = await createBackend(opts);
  return current;
}
