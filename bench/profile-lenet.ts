// Where the time goes in one LeNet training step (batch 64): each node's forward and backward timed alone
// on the model's own buffers, with the convolution algorithm rule ('auto') and with direct convolution.
// npm run bench:profile
import { setConvAlgorithm, SGD, type Model } from '../src/node.js';
import { weightsVersion } from '../src/engine/plan.js';
import type { RunContext } from '../src/layers/layer.js';
import { winogradTransformFilter } from '../src/kernels/winograd.js';
import { lenet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { median, pinToOneCore, randomLenetBatch } from './util.js';

pinToOneCore();
const B = 64;
const [x, y] = randomLenetBatch(B);
const time = (f: () => void) => {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [];
  for (let r = 0; r < 11; r++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return median(t);
};

/** ms of each node's forward and backward (keyed by step, labelled with the first model's names), the whole step and (Winograd) the filter transforms. */
const labels = new Map<string, string>();
function profile(mode: 'auto' | 'direct'): Map<string, number> {
  setConvAlgorithm(mode);
  const m: Model = lenet(0);
  m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  for (let i = 0; i < 5; i++) m.trainOnBatch(x, y);
  const rt = m.runtime('profile'),
    steps = rt.current!.steps;
  // A fixed weights version: as within one step, the transformed filters are made once and then reused.
  const ctx: RunContext = { be: rt.be, training: true, rng: new Rng(0), weightsVersion: weightsVersion() };
  const rows = new Map<string, number>();
  const row = (key: string, label: string, f: () => void) => {
    if (!labels.has(key)) labels.set(key, label);
    rows.set(key, time(f));
  };
  steps.forEach((s, i) => row(`${i} forward`, `${s.layer.name} (${s.layer.className}) forward`, () => s.layer.forward(s.io, B, ctx)));
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    if (!s.runsBackward) continue;
    row(`${i} backward`, `${s.layer.name} (${s.layer.className}) backward${s.need.dx.some(Boolean) ? '' : ' (no input gradient)'}`, () =>
      s.layer.backward(s.io, B, s.need, ctx),
    );
  }
  if (mode === 'auto') {
    const conv2 = steps.filter((s) => s.layer.className === 'Conv2D')[1];
    const u = rt.be.alloc(36 * (32 * 64 + 16) * 4, 'profile');
    row(
      'transforms',
      `Winograd filter transforms of ${conv2.layer.name} (forward + input gradient, once per step; in its rows above)`,
      () => {
        winogradTransformFilter(rt.be, conv2.io.params[0], u, 32, 64, 4, false);
        winogradTransformFilter(rt.be, conv2.io.params[0], u, 32, 64, 4, true);
      },
    );
    rt.be.release(u);
  }
  rows.set(
    'step',
    time(() => m.trainOnBatch(x, y)),
  );
  m.dispose();
  return rows;
}

const auto = profile('auto'),
  direct = profile('direct');
setConvAlgorithm('auto');
const rest = (rows: Map<string, number>) =>
  rows.get('step')! - [...rows].filter(([k, t]) => k !== 'step' && k !== 'transforms' && t >= 0.005).reduce((s, [, t]) => s + t, 0);
const step = auto.get('step')!,
  pct = (t: number) => `${((100 * t) / step).toFixed(1)}%`;
console.log(
  `| part of a LeNet training step, batch 64 | ms ('auto': Winograd F(4x4) in the second conv) | share of the step | ms (direct) |`,
);
console.log(`|---|---|---|---|`);
for (const [k, t] of auto)
  if (k !== 'step' && (t >= 0.005 || (direct.get(k) ?? 0) >= 0.005))
    console.log(`| ${labels.get(k)} | ${t.toFixed(2)} | ${pct(t)} | ${direct.get(k)?.toFixed(2) ?? '-'} |`);
console.log(`| loss, optimizer update, batch copy, checks | ${rest(auto).toFixed(2)} | ${pct(rest(auto))} | ${rest(direct).toFixed(2)} |`);
console.log(
  `| **whole step (trainOnBatch)** | **${step.toFixed(2)}** (${Math.round((B / step) * 1000)} img/s) | 100% | **${direct.get('step')!.toFixed(2)}** (${Math.round((B / direct.get('step')!) * 1000)} img/s) |`,
);
