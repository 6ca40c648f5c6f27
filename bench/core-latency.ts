// One-way core-to-core latency between this thread and a worker thread (ns): a cache line bounced through
// Atomics, 20,000 round trips per sample. On these VMs it moves with where the host puts the two vCPUs
// (~60 ns near each other, 150-300 ns far apart), and 2-thread training steps move with it: the threads
// sweep (bench/threads.ts) samples it every round. npx tsx bench/core-latency.ts [samples] (pin: taskset -c 0,1).
import { Worker } from 'node:worker_threads';

// The echo spins only during a sample (word 0 set to END ends it) and sleeps in between: a spinning
// thread would take a core from whatever the caller measures.
const END = -2,
  STOP = -1;
const ECHO = `
const { workerData } = require('node:worker_threads');
const a = new Int32Array(workerData);
for (let session = 0; ; ) {
  Atomics.wait(a, 32, session);
  session = Atomics.load(a, 32);
  for (let v = Atomics.load(a, 0); v !== ${END}; v = Atomics.load(a, 0)) {
    if (v === ${STOP}) process.exit(0);
    if (v !== Atomics.load(a, 16)) Atomics.store(a, 16, v);
  }
}`;

/** A probe over a worker that echoes: sample() bounces a line `trips` times; stop() ends the worker. */
export async function coreLatencyProbe(): Promise<{ sample: (trips?: number) => number; stop: () => Promise<void> }> {
  // Words 0 (ping), 16 (echo) and 32 (sessions): 64 bytes apart, each on a line of its own.
  const a = new Int32Array(new SharedArrayBuffer(192));
  const w = new Worker(ECHO, { eval: true, workerData: a.buffer });
  await new Promise((resolve) => w.once('online', resolve));
  let next = 1;
  return {
    sample: (trips = 20000) => {
      // A fresh ping before the echo wakes: it must not find the last sample's END and go back to sleep.
      Atomics.store(a, 0, next);
      Atomics.add(a, 32, 1);
      Atomics.notify(a, 32);
      const t = performance.now();
      for (let i = 0; i < trips; i++, next++) {
        Atomics.store(a, 0, next);
        for (let k = 1; Atomics.load(a, 16) !== next; k++)
          if ((k & 0xfffff) === 0 && performance.now() - t > 10_000) throw new Error('core-latency: the echo thread stopped answering');
      }
      const ns = ((performance.now() - t) * 1e6) / trips / 2;
      Atomics.store(a, 0, END);
      return ns;
    },
    stop: async () => {
      Atomics.store(a, 0, STOP);
      Atomics.add(a, 32, 1);
      Atomics.notify(a, 32);
      await w.terminate();
    },
  };
}

if (process.argv[1]?.endsWith('core-latency.ts')) {
  const probe = await coreLatencyProbe();
  probe.sample(); // warm-up: the first samples include the worker's start and JIT
  const out: string[] = [];
  for (let s = 0; s < Number(process.argv[2] ?? 40); s++) {
    out.push(probe.sample().toFixed(0));
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`one-way core-to-core latency, ns, one sample per 0.25 s: ${out.join(' ')}`);
  await probe.stop();
}
