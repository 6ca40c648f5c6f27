// Runs a model's graph over its arena: batches in, forward, backward with gradient accumulation, the
// gradient block. Owns the wasm memory of one model besides its weights.
import type { Backend } from '../backend.js';
import { ValueError } from '../errors.js';
import { trainableChanges, type RunContext } from '../layers/layer.js';
import type { Rng } from '../random.js';
import type { Tensor } from '../tensor.js';
import { type Arena, type ArenaMode, checkArenaFits, planArena } from './arena.js';
import type { Graph } from './graph.js';
import type { ParamLayout, Run } from './plan.js';

export class Runtime {
  private arena?: Arena;
  private arenaBlock = 0;
  private plannedAt = -1;
  /** Gradients of every weight, in the params layout; allocated at the first backward pass. */
  gradBlock = 0;
  private readonly ctx: RunContext;

  constructor(readonly be: Backend, readonly graph: Graph, readonly params: ParamLayout, rng: Rng, readonly name: string) {
    this.ctx = { be, training: false, rng };
  }

  /** An arena for batches of up to `capacity` in this mode, re-planned only when it cannot serve. */
  ensure(capacity: number, mode: ArenaMode): Arena {
    const a = this.arena;
    const serves = a && a.capacity >= capacity && (!mode.training || (a.mode.training && (a.mode.inputGrad || !mode.inputGrad) && this.plannedAt === trainableChanges()));
    if (a && serves) return a;
    if (mode.training && !this.gradBlock) this.gradBlock = this.be.alloc(this.params.floats * 4, `${this.name} gradients`);
    const plan = planArena(this.graph, this.params, capacity, mode);
    this.releaseArena(); // before allocating, so a batch that fits once the old arena is gone is not refused
    checkArenaFits(plan.bytes, this.be.allocatedBytes, capacity, this.name);
    this.arenaBlock = this.be.alloc(plan.bytes, `${this.name} activations for batch ${capacity}`);
    this.arena = plan.bind(this.arenaBlock, this.gradBlock);
    this.plannedAt = trainableChanges();
    return this.arena;
  }

  private runsOf?: { at: number; runs: Run[] };
  /** The trainable runs of the weights, recomputed only when a trainable flag changed. */
  trainableRuns(): Run[] {
    const at = trainableChanges();
    if (this.runsOf?.at !== at) this.runsOf = { at, runs: this.params.trainableRuns() };
    return this.runsOf.runs;
  }

  /** Bytes an arena would take, without allocating it (summary()). */
  plannedBytes(capacity: number, mode: ArenaMode): number {
    return planArena(this.graph, this.params, capacity, mode).bytes;
  }

  get current(): Arena | undefined {
    return this.arena;
  }

  forward(n: number, training: boolean): void {
    this.ctx.training = training;
    for (const s of this.arena!.steps) s.layer.forward(s.io, n, this.ctx);
  }

  /** Back-propagates the output gradient already in place; `fused`: it is the gradient before the final activation. */
  backward(n: number, fused: boolean): void {
    const { steps } = this.arena!, k = this.be.k;
    this.ctx.training = true;
    steps[steps.length - 1].io.preActivationGrad = fused;
    for (let i = steps.length - 1; i >= 0; i--) {
      const s = steps[i];
      if (!s.runsBackward) continue;
      s.layer.backward(s.io, n, s.need, this.ctx);
      for (const a of s.adds) k.add_f32(a.dst, a.dst, a.src, a.perSample ? n * a.floats : a.floats);
    }
  }

  /** Copies samples idx[from..from+n) (or from..from+n) of x into the input buffer; with check, refuses NaN/Infinity. */
  loadInput(x: Tensor, idx: Int32Array | null, from: number, n: number, check: boolean, what: string): void {
    const a = this.arena!, f32 = this.be.f32;
    const row = x.data.length / x.shape[0];
    const base = a.input >>> 2;
    if (!idx) f32.set(x.data.subarray(from * row, (from + n) * row), base);
    else for (let r = 0; r < n; r++) { const i = idx[from + r]; f32.set(x.data.subarray(i * row, (i + 1) * row), base + r * row); }
    if (check && this.be.k.count_nonfinite(a.input, n * row) > 0) {
      const v = f32.subarray(base, base + n * row);
      const at = v.findIndex((t) => !Number.isFinite(t));
      const sample = idx ? idx[from + Math.floor(at / row)] : from + Math.floor(at / row);
      throw new ValueError(`${this.name}.${what}: x[${sample}] contains ${v[at]} at offset ${at % row}; expected finite numbers`);
    }
  }

  /** Class indices into the labels buffer, or target rows into the targets buffer. */
  loadTargets(y: Int32Array | Tensor, idx: Int32Array | null, from: number, n: number): void {
    const a = this.arena!;
    if (y instanceof Int32Array) {
      const i32 = this.be.i32, base = a.labels >>> 2;
      for (let r = 0; r < n; r++) i32[base + r] = y[idx ? idx[from + r] : from + r];
      return;
    }
    const C = y.shape[1], f32 = this.be.f32;
    // Rows of a few floats: a plain copy costs less than a subarray view per sample.
    for (let r = 0, d = a.targets >>> 2; r < n; r++) {
      const s = (idx ? idx[from + r] : from + r) * C;
      for (let j = 0; j < C; j++) f32[d++] = y.data[s + j];
    }
  }

  private releaseArena(): void {
    if (this.arenaBlock) this.be.release(this.arenaBlock);
    this.arenaBlock = 0;
    this.arena = undefined;
  }

  dispose(): void {
    this.releaseArena();
    if (this.gradBlock) this.be.release(this.gradBlock);
    this.gradBlock = 0;
  }
}
