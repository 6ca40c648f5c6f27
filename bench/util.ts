// Timing helpers: warm up, repeat, take the median; pin to one core by re-executing under taskset.
import { execFileSync, spawnSync } from 'node:child_process';
import { type Tensor, tensor } from '../src/index.js';
import { Rng } from '../src/random.js';

/**
 * Re-runs this process under `taskset -c N` (N = BENCH_CORE, default 0: another core when someone else's runs
 * hold core 0; `cores` instead for a threads sweep, e.g. '0,1').
 */
export function pinToOneCore(cores?: string): void {
  if (process.env.BENCH_PINNED) return;
  const core = cores ?? process.env.BENCH_CORE ?? '0';
  let hasTaskset = false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    hasTaskset = true;
  } catch {
    /* not available */
  }
  if (!hasTaskset) {
    console.log('(taskset not found: running unpinned)');
    return;
  }
  const r = spawnSync('taskset', ['-c', core, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: core },
  });
  process.exit(r.status ?? 1);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/**
 * Median seconds per call of each function, timed in alternating rounds of `inner` calls each after `warm`
 * untimed rounds, so a slow spell on a shared core hits every side alike.
 */
export async function timeInterleaved(
  fns: (() => unknown)[],
  opts: { warm?: number; reps?: number; inner?: number } = {},
): Promise<number[]> {
  const { warm = 1, reps = 5, inner = 1 } = opts;
  const round = async (f: () => unknown) => {
    const t = performance.now();
    for (let i = 0; i < inner; i++) await f();
    return (performance.now() - t) / 1000 / inner;
  };
  for (let i = 0; i < warm; i++) for (const f of fns) await round(f);
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < reps; r++) for (let i = 0; i < fns.length; i++) times[i].push(await round(fns[i]));
  return times.map(median);
}

/** ms of each of `reps` interleaved rounds of each function (fns[i] -> times[i]), after `warm` untimed rounds. */
export function roundTimes(fns: (() => unknown)[], reps: number, warm = 1): number[][] {
  const t: number[][] = fns.map(() => []);
  for (let r = 0; r < warm + reps; r++)
    fns.forEach((f, i) => {
      const s = performance.now();
      f();
      if (r >= warm) t[i].push(performance.now() - s);
    });
  return t;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

export function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** B random 28x28x1 images in [0, 1) (seeded) and labels 0..9 in turn: one LeNet batch for the step profiles. */
export function randomLenetBatch(B: number, seed = 1): [Tensor, Int32Array] {
  const rng = new Rng(seed);
  const x = tensor(
    Float32Array.from({ length: B * 784 }, () => rng.uniform()),
    [B, 28, 28, 1],
  );
  return [x, Int32Array.from({ length: B }, (_, i) => i % 10)];
}
