// Where the time goes in LeNet inference: each node's forward timed alone on the model's own inference plan
// (folded nodes run inside the node they folded into), medians. npx tsx bench/profile-infer.ts (B=1 for batch 1)
import { tensor, type Model } from '../src/node.js';
import { weightsVersion } from '../src/engine/plan.js';
import { INFER } from '../src/engine/state.js';
import type { RunContext } from '../src/layers/layer.js';
import { lenet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { median, pinToOneCore } from './util.js';

pinToOneCore();
const B = Number(process.env.B ?? 256);
const rng = new Rng(1);
const x = tensor(
  Float32Array.from({ length: B * 784 }, () => rng.uniform()),
  [B, 28, 28, 1],
);
const time = (f: () => void, reps = 21) => {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return median(t);
};
const m: Model = lenet(0);
m.predict(x, { batchSize: B });
const rt = m.runtime('profile');
rt.ensure(B, INFER);
const steps = rt.current!.steps;
const ctx: RunContext = { be: rt.be, training: false, rng: new Rng(0), weightsVersion: weightsVersion() };
const whole = time(() => m.predict(x, { batchSize: B }));
console.log(`| node (batch ${B}) | ms | share |`);
let sum = 0;
for (const s of steps) {
  const t = time(() => s.layer.forward(s.io, B, ctx));
  sum += t;
  console.log(`| ${s.layer.name} (${s.layer.className}) | ${t.toFixed(3)} | ${((100 * t) / whole).toFixed(1)}% |`);
}
console.log(`| rest | ${(whole - sum).toFixed(3)} | |`);
console.log(`| predict | ${whole.toFixed(3)} (${Math.round((B / whole) * 1000)} img/s) | 100% |`);
