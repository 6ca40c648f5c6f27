// Owns the wasm instance and its memory: picks the build, hands out aligned regions, keeps views fresh.
import { relaxedBytes, relaxedPatchBase64, simdBase64 } from './generated/wasm-bytes.js';
import { applyPatch } from './wasm-patch.js';
import { MemoryError, SimdcnnError, StateError } from './errors.js';
import type { Kernels } from './generated/kernels.js';
import { SHARED_MAX_PAGES, sharedMemoryModule } from './threads/shared-module.js';

export type { Kernels };

export type BuildName = 'relaxed' | 'simd';
export const FLAG_BIAS = 1;
export const FLAG_RELU = 2;
export const FLAG_NEED_DX = 4;
export const FLAG_SKIP_DW = 8;

const ALIGN = 64; // a cache line: keeps v128 loads of every buffer aligned
const PAGE = 65536;
/**
 * wasm32 addresses 4 GiB (65,536 pages) and V8 (Node 20, Chromium) grows a memory that far; an engine
 * that stops short refuses memory.grow, which alloc reports as a MemoryError too.
 */
export const MAX_MEMORY_BYTES = 65536 * PAGE;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const decoded = new Map<BuildName, Uint8Array<ArrayBuffer>>();
/** A build's wasm, decoded from its embedded base64 (and, for relaxed, patched from the plain one) on first use. */
function wasmBytes(build: BuildName): Uint8Array<ArrayBuffer> {
  let b = decoded.get(build);
  if (!b) {
    try {
      b = build === 'simd' ? decodeBase64(simdBase64) : applyPatch(wasmBytes('simd'), decodeBase64(relaxedPatchBase64), relaxedBytes);
    } catch (e) {
      if (e instanceof SimdcnnError) throw e;
      throw new SimdcnnError(
        `simdcnn's embedded '${build}' wasm is damaged (${(e as Error).message}); was the bundle rewritten? Reinstall simdcnn`,
      );
    }
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

interface Block {
  start: number;
  size: number;
}

/**
 * Pointers are byte offsets up to 2^32, ends included: a view index is ptr / 4 (pointers are multiples
 * of 4). Never `ptr >> 2`, which turns every address past 2 GiB negative, nor `>>> 2`, which maps the
 * end of a full 4 GiB memory to 0.
 */
const floatIndex = (ptr: number) => ptr / 4;

export class Backend {
  readonly k: Kernels;
  readonly build: BuildName;
  readonly scalar: boolean;
  /** The compiled module, when the memory is shared: workers instantiate it over the same memory. */
  readonly sharedModule?: WebAssembly.Module;
  private _f32: Float32Array;
  private _i32: Int32Array;
  /** Free regions below `top`, sorted by start, never adjacent (neighbours are merged). */
  private free: Block[] = [];
  /** Allocated regions: start -> size. */
  private sizes = new Map<number, number>();
  private readonly base: number;
  private top: number;
  /** Bytes at and above this have never been handed out: still the zeros memory.grow gave them. */
  private pristine: number;
  /** Memory size after alloc's last growth; pages someone else added (tests) are not assumed zero. */
  private grownTo: number;
  /** The region inside() found last: [start, size]. */
  private lastRegion: [number, number] = [-1, 0];
  /** Bytes currently handed out; tests use it to prove disposal returns memory. */
  allocatedBytes = 0;

  constructor(instance: WebAssembly.Instance, build: BuildName, scalar: boolean, sharedModule?: WebAssembly.Module) {
    this.k = instance.exports as unknown as Kernels;
    this.build = build;
    this.scalar = scalar;
    this.sharedModule = sharedModule;
    this.k.set_scalar(scalar ? 1 : 0);
    this.base = this.top = this.pristine = Math.ceil(this.k.heapBase() / ALIGN) * ALIGN;
    this.grownTo = this.k.memory.buffer.byteLength;
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

  /**
   * A zeroed region of at least `bytes`, aligned to 64. First fit from the free list, else the top.
   * Throws MemoryError, with nothing changed, when the region does not fit in wasm memory.
   */
  alloc(bytes: number, what = 'buffer'): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new SimdcnnError(`${what}: cannot allocate ${bytes} bytes`);
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let ptr: number;
    const i = this.free.findIndex((b) => b.size >= size);
    if (i >= 0) {
      const b = this.free[i];
      ptr = b.start;
      if (b.size === size) this.free.splice(i, 1);
      else {
        b.start += size;
        b.size -= size;
      }
    } else {
      const end = this.top + size;
      if (end > MAX_MEMORY_BYTES) {
        throw new MemoryError(
          `${what}: needs ${size} more bytes of wasm memory; wasm allows ${MAX_MEMORY_BYTES} in all and ${this.top} are in use (use a smaller batch size or model)`,
        );
      }
      const have = this.k.memory.buffer.byteLength;
      if (have > this.grownTo) this.pristine = Math.max(this.pristine, have);
      if (end > have) {
        try {
          this.k.memory.grow(Math.ceil((end - have) / PAGE));
        } catch (e) {
          throw new MemoryError(`${what}: the engine refused to grow wasm memory to ${end} bytes (${(e as Error).message})`);
        }
      }
      this.grownTo = this.k.memory.buffer.byteLength;
      ptr = this.top;
      this.top = end;
    }
    // Fresh pages are zero already: clearing only what was used before keeps the memory untouched (and
    // uncommitted by the OS) until a kernel writes it.
    const end = ptr + size;
    if (ptr < this.pristine) this.f32.fill(0, floatIndex(ptr), floatIndex(Math.min(end, this.pristine)));
    this.pristine = Math.max(this.pristine, end);
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
    }
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  /** Size in bytes of the allocated region starting at ptr (undefined if none starts there). */
  sizeOf(ptr: number): number | undefined {
    return this.sizes.get(ptr);
  }

  /**
   * Checks the allocator's books and throws SimdcnnError naming the first inconsistency: free and used
   * regions aligned, inside [heap base, top), disjoint, together covering it exactly; the free list
   * sorted and merged; allocatedBytes the sum of the used regions; top within the memory.
   */
  checkHeap(): void {
    const fail = (m: string): never => {
      throw new SimdcnnError(`heap check: ${m}`);
    };
    const regions = [
      ...[...this.sizes].map(([start, size]) => ({ start, size, used: true })),
      ...this.free.map((b) => ({ ...b, used: false })),
    ];
    regions.sort((a, b) => a.start - b.start);
    let at = this.base,
      used = 0;
    for (const r of regions) {
      if (r.start % ALIGN || r.size % ALIGN || r.size <= 0)
        fail(`region ${r.start}+${r.size} is not a positive multiple of ${ALIGN} bytes`);
      if (r.start !== at)
        fail(
          r.start < at
            ? `region ${r.start}+${r.size} overlaps the one before it (ends at ${at})`
            : `bytes ${at}..${r.start} are neither used nor free`,
        );
      at = r.start + r.size;
      if (r.used) used += r.size;
    }
    if (at !== this.top) fail(`regions end at ${at} but top is ${this.top}`);
    if (this.top > this.memoryBytes || this.top > MAX_MEMORY_BYTES) fail(`top ${this.top} is past the memory (${this.memoryBytes} bytes)`);
    for (let i = 1; i < this.free.length; i++) {
      if (this.free[i - 1].start >= this.free[i].start) fail('the free list is not sorted');
      if (this.free[i - 1].start + this.free[i - 1].size === this.free[i].start)
        fail(`free regions at ${this.free[i - 1].start} and ${this.free[i].start} are not merged`);
    }
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) fail('a free region ends at top instead of lowering it');
    if (used !== this.allocatedBytes) fail(`used regions hold ${used} bytes but allocatedBytes says ${this.allocatedBytes}`);
  }

  /** The allocated region that holds [ptr, ptr + bytes), or a SimdcnnError: host copies never cross into another region. */
  private inside(ptr: number, bytes: number, what: string): void {
    if (Number.isInteger(ptr) && Number.isInteger(bytes) && bytes >= 0 && ptr % 4 === 0) {
      // Training steps copy into the same region again and again: check the last one found first.
      const [s, z] = this.lastRegion;
      if (ptr >= s && ptr + bytes <= s + z && this.sizes.get(s) === z) return;
      for (const [start, size] of this.sizes) {
        if (ptr >= start && ptr + bytes <= start + size) {
          this.lastRegion = [start, size];
          return;
        }
      }
    }
    throw new SimdcnnError(`${what}: bytes ${ptr}..${ptr + bytes} are not inside one allocated region`);
  }

  /** Copies values into memory at ptr; the whole range must lie in one allocated region. */
  write(ptr: number, data: ArrayLike<number>): void {
    this.view(ptr, data.length).set(data);
  }
  read(ptr: number, n: number): Float32Array {
    return this.view(ptr, n).slice();
  }
  /** A view of n floats at ptr, inside one allocated region; valid until memory grows. */
  view(ptr: number, n: number): Float32Array {
    this.inside(ptr, n * 4, 'wasm memory');
    return this.f32.subarray(floatIndex(ptr), floatIndex(ptr) + n);
  }
  /** Copies n floats from src to dst (regions may overlap), each range inside one allocated region. */
  copy(dst: number, src: number, n: number): void {
    this.inside(dst, n * 4, 'wasm memory');
    this.inside(src, n * 4, 'wasm memory');
    this.f32.copyWithin(floatIndex(dst), floatIndex(src), floatIndex(src) + n);
  }
  /** As view, for int32 data (labels, indices). */
  viewI32(ptr: number, n: number): Int32Array {
    this.inside(ptr, n * 4, 'wasm memory');
    return this.i32.subarray(floatIndex(ptr), floatIndex(ptr) + n);
  }

  /**
   * Runs fn's kernel calls, which derive data from the weights (Winograd's transformed filters, Dense's
   * packed kernel) for the calls that follow. Here at once; a recording (src/threads/record.ts) runs them before every job of its
   * dispatch, once, so the chunks of a batch can share what they derive.
   */
  ahead(fn: () => void): void {
    fn();
  }

  /**
   * Marks that the kernel calls made so far write the weight gradients of the first `count` backward steps.
   * Nothing here; a chunk's recording (src/threads/record.ts) records it, so the chunks' gradient sum may
   * start on a layer's gradients while the chunks still run backward through earlier layers.
   */
  backwardDone(count: number): void {
    void count;
  }
}

const modules = new Map<string, WebAssembly.Module>();

const bytesFor = (build: BuildName, shared: boolean) => (shared ? sharedMemoryModule(wasmBytes(build)) : wasmBytes(build));

async function compile(build: BuildName, shared = false): Promise<WebAssembly.Module> {
  let m = modules.get(`${build}${shared}`);
  if (!m) {
    m = await WebAssembly.compile(bytesFor(build, shared));
    modules.set(`${build}${shared}`, m);
  }
  return m;
}
function compileSync(build: BuildName): WebAssembly.Module {
  let m = modules.get(`${build}false`);
  if (!m) {
    m = new WebAssembly.Module(wasmBytes(build));
    modules.set(`${build}false`, m);
  }
  return m;
}

/**
 * Why this engine cannot share one wasm memory with workers, or undefined when it can: SharedArrayBuffer
 * is missing (older engines) or withheld (a page that is not cross-origin isolated), or a shared
 * WebAssembly.Memory cannot be made.
 */
export function sharedMemoryUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function')
    return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false
      ? 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
      : 'this engine has no SharedArrayBuffer';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `this engine cannot make a shared WebAssembly.Memory (${(e as Error).message})`;
  }
  return undefined;
}

export interface BackendOptions {
  /** 'relaxed' (FMA) when the engine validates it, else 'simd'. */
  build?: BuildName;
  /** Run the scalar sibling of every SIMD kernel (tests). */
  scalar?: boolean;
  /** One shared memory (up to 4 GiB, grown in place) that worker threads run kernels over. */
  shared?: boolean;
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
    throw new SimdcnnError(
      'simdcnn needs WebAssembly SIMD (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+); this engine does not validate it',
    );
  }
  const build = opts.build ?? defaultBuild();
  if (build === 'relaxed' && !relaxedSupported()) {
    throw new SimdcnnError(
      "the 'relaxed' build needs relaxed SIMD, which this engine does not validate (in Node 20 import 'simdcnn' itself, which enables it, or start node with --experimental-wasm-relaxed-simd)",
    );
  }
  return build;
}

/** A new, independent wasm instance with its own memory. */
export async function createBackend(opts: BackendOptions = {}): Promise<Backend> {
  const build = chooseBuild(opts);
  if (opts.shared) {
    const why = sharedMemoryUnavailable();
    if (why) throw new SimdcnnError(`a shared-memory backend needs shared wasm memory: ${why}`);
    const module = await compile(build, true);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    return new Backend(instance, build, opts.scalar ?? false, module);
  }
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
  pending ??= createBackend().finally(() => {
    pending = undefined;
  });
  current ??= await pending;
  return current;
}
export function currentBackend(): Backend {
  if (current) return current;
  if (unsupported) throw unsupported;
  throw new StateError(
    'simdcnn: the wasm kernels are still compiling (this engine does not compile WebAssembly synchronously here); `await ready()` once before synchronous calls such as predict or build (fit and loadModel wait by themselves)',
  );
}

/** Switch the build new models use (existing models keep theirs). */
export async function setBackend(opts: BackendOptions): Promise<Backend> {
  current = await createBackend(opts);
  return current;
}
