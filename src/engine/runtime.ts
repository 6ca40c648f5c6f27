// Runs a model's graph over its arena: batches in, forward, backward with gradient accumulation, the
// gradient block. Owns the wasm memory of one model besides its weights; every copy into it goes through
// views bounded to one allocated region.
import { type Backend, MAX_MEMORY_BYTES } from '../backend.js';
import { DataError, MemoryError, ShapeError, ValueError } from '../errors.js';
import { type BatchSplit, trainableChanges, type RunContext } from '../layers/layer.js';
import type { Rng } from '../random.js';
import { shapeSize, type Tensor } from '../tensor.js';
import { type Arena, type ArenaMode, planArena } from './arena.js';
import type { Graph } from './graph.js';
import { noteWeightsWritten, type ParamLayout, type Run, weightsVersion } from './plan.js';

export class Runtime {
  private arena?: Arena;
  private planned?: ReturnType<typeof planArena>;
  private arenaBlock = 0;
  private plannedAt = -1;
  /** Gradients of every weight, in the params layout. */
  readonly gradBlock: number;
  private readonly ownsGradBlock: boolean;
  /** Run by dispose(): what was built on this runtime (a data-parallel split's arenas) goes with it. */
  readonly onDispose: (() => void)[] = [];
  private readonly ctx: RunContext;
  private runsOf?: { at: number; runs: Run[] };
  /**
   * The runtime whose forward ran the last training batch, whose pending layer updates applyUpdates applies:
   * this one, or the first chunk of a split batch (src/threads/chunked.ts).
   */
  updatesFrom: Runtime = this;
  /** An upper bound on |w| over the trainable weights, valid while no weights or trainable flags changed since. */
  private bound = { value: NaN, weights: -1, flags: -1 };

  constructor(
    readonly be: Backend,
    readonly graph: Graph,
    readonly params: ParamLayout,
    rng: Rng,
    readonly name: string,
    gradBlock?: number,
    split?: BatchSplit,
  ) {
    this.ctx = { be, training: false, rng, weightsVersion: weightsVersion(), split };
    this.ownsGradBlock = gradBlock === undefined;
    this.gradBlock = gradBlock ?? be.alloc(params.floats * 4, `${name} gradients`);
  }

  /** The generator of the model's random draws (dropout, augmentation). */
  get rng(): Rng {
    return this.ctx.rng;
  }

  /**
   * An arena for batches of up to `capacity` in this mode, re-planned only when the current one cannot serve.
   * The old block is freed first, so a batch that fits only in its place runs; if the new one does not fit,
   * the old one is placed again (it fits where it was) and the MemoryError propagates.
   */
  ensure(capacity: number, mode: ArenaMode): Arena {
    const a = this.arena;
    // A whole training arena also serves as a staging one; a staging arena serves nothing else.
    const serves =
      a &&
      a.capacity >= capacity &&
      (mode.staging
        ? a.mode.training
        : !a.mode.staging &&
          (!mode.training || (a.mode.training && (a.mode.inputGrad || !mode.inputGrad) && this.plannedAt === trainableChanges())));
    if (a && serves) return a;
    const plan = planArena(this.graph, this.params, capacity, mode);
    const old = this.planned,
      oldBytes = a ? this.be.sizeOf(this.arenaBlock)! : 0;
    if (plan.bytes + this.be.allocatedBytes - oldBytes > MAX_MEMORY_BYTES) {
      // A small plan can fail too, when other arenas fill memory: it must not read "0 MiB".
      const need = plan.bytes < 2 ** 20 ? `${Math.ceil(plan.bytes / 1024)} KiB` : `${(plan.bytes / 2 ** 20).toFixed(0)} MiB`;
      throw new MemoryError(
        `${this.name}: batches of ${capacity} need ${need} of activations, more than wasm memory allows (${(MAX_MEMORY_BYTES / 2 ** 20).toFixed(0)} MiB, ${(this.be.allocatedBytes / 2 ** 20).toFixed(0)} MiB in use); use a smaller batch size`,
      );
    }
    this.releaseArena();
    try {
      this.arenaBlock = this.be.alloc(plan.bytes, `${this.name} activations for batch ${capacity}`);
    } catch (e) {
      if (old) {
        this.arenaBlock = this.be.alloc(oldBytes, `${this.name} activations`);
        this.arena = old.bind(this.arenaBlock, this.gradBlock);
        this.planned = old;
      }
      throw e;
    }
    this.arena = plan.bind(this.arenaBlock, this.gradBlock);
    this.planned = plan;
    this.plannedAt = trainableChanges();
    return this.arena;
  }

  /** A staging arena replaced by a whole one (mode) of its capacity, holding the same batch of n. */
  unstage(n: number, mode: ArenaMode): void {
    const a = this.arena!;
    if (!a.mode.staging) return;
    const row = shapeSize(this.graph.inputs[0].dims),
      out = shapeSize(this.graph.outputs[0].dims);
    const input = this.be.read(a.input, n * row),
      labels = this.be.viewI32(a.labels, n).slice(),
      targets = this.be.read(a.targets, n * out);
    const b = this.ensure(a.capacity, mode);
    this.be.write(b.input, input);
    this.be.viewI32(b.labels, n).set(labels);
    this.be.write(b.targets, targets);
  }

  /** Bytes an arena would take, without allocating it (summary()). */
  plannedBytes(capacity: number, mode: ArenaMode): number {
    return planArena(this.graph, this.params, capacity, mode).bytes;
  }

  get current(): Arena | undefined {
    return this.arena;
  }

  /** The trainable runs of the weights, recomputed only when a trainable flag changed. */
  trainableRuns(): Run[] {
    const at = trainableChanges();
    if (this.runsOf?.at !== at) this.runsOf = { at, runs: this.params.trainableRuns() };
    return this.runsOf.runs;
  }

  /** The last measured bound on |w|, or NaN if any weights or flags changed since. */
  get weightBound(): number {
    const b = this.bound;
    return b.weights === weightsVersion() && b.flags === trainableChanges() ? b.value : NaN;
  }
  set weightBound(v: number) {
    const b = this.bound;
    b.value = v;
    b.weights = weightsVersion();
    b.flags = trainableChanges();
  }

  forward(n: number, training: boolean): void {
    this.updatesFrom = this;
    this.ctx.training = training;
    this.ctx.weightsVersion = weightsVersion();
    for (const s of this.arena!.steps) {
      s.prepare?.(this.ctx);
      s.layer.forward(s.io, n, this.ctx);
    }
  }

  /**
   * Applies the layer updates the last training forward left pending (BN's moving statistics), once its
   * step was accepted; bumps the weights version if any weights changed.
   */
  applyUpdates(n: number): void {
    const from = this.updatesFrom;
    let wrote = false;
    for (const s of from.arena!.steps) wrote = s.layer.applyUpdates(s.io, n, from.ctx) || wrote;
    if (wrote) noteWeightsWritten();
  }

  /** Back-propagates the output gradient already in place; `fused`: it is the gradient before the final activation. */
  backward(n: number, fused: boolean): void {
    const { steps } = this.arena!,
      k = this.be.k;
    this.ctx.training = true;
    this.ctx.weightsVersion = weightsVersion();
    steps[steps.length - 1].io.preActivationGrad = fused;
    for (let i = steps.length - 1; i >= 0; i--) {
      const s = steps[i];
      if (!s.runsBackward) continue;
      s.layer.backward(s.io, n, s.need, this.ctx);
      for (const a of s.adds) k.add_f32(a.dst, a.dst, a.src, a.perSample ? n * a.floats : a.floats);
      if (s.need.dw) this.be.backwardDone(steps.length - i);
    }
  }

  /**
   * Copies samples idx[from..from+n) (or from..from+n) of x's data (rows of `row`) into the input buffer (a
   * view exactly that size: nothing outside it can be written), then checks them when limit > 0: NaN or
   * Infinity is a ValueError, a magnitude above limit a DataError naming the batch and sample.
   */
  loadInput(
    data: Float32Array,
    row: number,
    idx: Int32Array | null,
    from: number,
    n: number,
    limit: number,
    what: string,
    batch: number,
  ): void {
    const a = this.arena!;
    const dst = this.be.view(a.input, n * row);
    if (!idx) dst.set(data.subarray(from * row, (from + n) * row));
    else
      for (let r = 0; r < n; r++) {
        const i = idx[from + r];
        dst.set(data.subarray(i * row, (i + 1) * row), r * row);
      }
    if (limit > 0 && !(this.be.k.maxabs_f32(a.input, n * row) <= limit)) {
      const at = dst.findIndex((t) => !(Math.abs(t) <= limit));
      const v = dst[at];
      const sample = idx ? idx[from + Math.floor(at / row)] : from + Math.floor(at / row);
      const msg = `${this.name}.${what}: x[${sample}] contains ${v} at offset ${at % row} (batch ${batch})`;
      if (!Number.isFinite(v)) throw new ValueError(`${msg}; expected finite numbers`);
      throw new DataError(`${msg}; inputs beyond ±${limit} are refused (scale the data, or raise the limit with maxInputAbs)`);
    }
  }

  /**
   * Copies the batch's labels, or its target rows (checked again: the tensor may have changed since the call
   * began): in [0, 1] when `unit` (crossentropies), finite otherwise.
   */
  loadTargets(y: Int32Array | Tensor, N: number, idx: Int32Array | null, from: number, n: number, what: string, unit = true): void {
    const a = this.arena!;
    if (y instanceof Int32Array) {
      const dst = this.be.viewI32(a.labels, n);
      for (let r = 0; r < n; r++) dst[r] = y[idx ? idx[from + r] : from + r];
      return;
    }
    const C = y.shape.slice(1).reduce((a, b) => a * b, 1),
      data = y.data;
    if (!(data instanceof Float32Array) || data.length !== N * C)
      throw new ShapeError(
        `${this.name}.${what}: targets must hold ${N * C} values [${[N, ...y.shape.slice(1)]}], they now hold ${data?.length}`,
      );
    const dst = this.be.view(a.targets, n * C);
    // Rows of a few floats: a plain copy costs less than a subarray view per sample.
    for (let r = 0, d = 0; r < n; r++) {
      const s = (idx ? idx[from + r] : from + r) * C;
      for (let j = 0; j < C; j++, d++) {
        const v = data[s + j];
        if (unit ? !(v >= 0 && v <= 1) : !Number.isFinite(v))
          throw new ValueError(
            `${this.name}.${what}: target [${s / C}, ${j}] is ${v}; expected ${unit ? 'probabilities in [0, 1]' : 'finite numbers'}`,
          );
        dst[d] = v;
      }
    }
  }

  /** Bytes this runtime holds: gradients and the arena. */
  get bytes(): number {
    return (this.be.sizeOf(this.gradBlock) ?? 0) + (this.arenaBlock ? (this.be.sizeOf(this.arenaBlock) ?? 0) : 0);
  }

  private releaseArena(): void {
    if (this.arenaBlock) this.be.release(this.arenaBlock);
    this.arenaBlock = 0;
    this.arena = undefined;
    this.planned = undefined;
  }

  dispose(): void {
    for (const f of this.onDispose.splice(0)) f();
    this.releaseArena();
    if (this.ownsGradBlock) this.be.release(this.gradBlock);
  }
}
