// The demo page: train in a Worker with live charts, draw a digit, look inside the network, save/load.
// URL options: ?build=simd|relaxed picks the wasm build (the page and its worker use the same one).
import { currentBackend, type Layer, loadModel, type Model, model as graphModel, tensor } from '../../src/index.js';
import type { TrainProgress, TrainResult } from '../../src/browser/protocol.js';
import { type TrainJob, trainInWorker } from '../../src/browser/train-in-worker.js';
import { chooseBuild } from './build-choice.js';
import { accuracyChart, lossChart as newLossChart } from './charts.js';
import { loadMnist, type Mnist, toFloat } from './data.js';
import { DrawPad, toMnist } from './draw.js';
import { NETS, type NetDef } from './nets.js';
import { type DemoMeta, loadFromBrowser, loadFromFiles, saveToBrowser, saveToDownloads, UserError } from './store.js';
import { conv3x3, cosine, diverging, drawFeatureMaps, drawFilters, drawTiles, gray, SOBEL_H, SOBEL_V } from './viz.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const pct = (v: number, d = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(d)}%` : '–');
const int = (v: number) => Math.round(v).toLocaleString('en-US');

type MsgKind = 'ok' | 'warn' | 'err' | 'info' | '';
function say(id: string, text: string, kind: MsgKind = ''): void {
  const el = $(id);
  el.textContent = text;
  el.className = `msg ${kind}`;
}

// ---------- state ----------
let net: NetDef = NETS.tutorial;
let data: Mnist | undefined;
let job: TrainJob | undefined;
let model: Model | undefined;
let meta: DemoMeta | undefined;
interface Probe {
  model: Model;
  layer: Layer;
  index: number;
  canvas: HTMLCanvasElement;
}
let probes: Probe[] = [];
let sobelView: { update(x: Float32Array): void } | undefined;
const narrowQuery = window.matchMedia('(max-width: 640px)');

/** For tests and the curious: window.simdcnnDemo. */
const hook = {
  state: 'loading' as 'loading' | 'idle' | 'training' | 'ready' | 'error',
  progress: [] as TrainProgress[],
  result: undefined as Omit<TrainResult, 'weights' | 'files'> | undefined,
  prediction: null as number[] | null,
  build: '',
  error: '',
};
(window as unknown as { simdcnnDemo: typeof hook }).simdcnnDemo = hook;

// ---------- charts ----------
const lossChart = newLossChart($<HTMLCanvasElement>('loss-chart'));
const accChart = accuracyChart($<HTMLCanvasElement>('acc-chart'));

// ---------- probability bars ----------
const bars: { row: HTMLElement; fill: HTMLElement; p: HTMLElement }[] = [];
for (let d = 0; d < 10; d++) {
  const row = document.createElement('div');
  row.className = 'bar-row';
  row.innerHTML = `<span class="d">${d}</span><div class="bar"><div class="fill"></div></div><span class="p">–</span>`;
  $('bars').append(row);
  bars.push({ row, fill: row.querySelector('.fill')!, p: row.querySelector('.p')! });
}
function showProbabilities(p: ArrayLike<number> | null): void {
  let best = -1;
  if (p) for (let d = 0; d < 10; d++) if (best < 0 || p[d] > p[best]) best = d;
  bars.forEach((b, d) => {
    b.fill.style.width = p ? `${Math.max(0, Math.min(1, p[d])) * 100}%` : '0';
    b.p.textContent = p ? `${(p[d] * 100).toFixed(p[d] >= 0.995 ? 0 : 1)}%` : '–';
    b.row.classList.toggle('best', d === best);
  });
  const digit = $('pred-digit');
  digit.textContent = best >= 0 ? String(best) : '?';
  digit.classList.toggle('idle', best < 0);
  $('pred-conf').textContent = p ? `${(p[best] * 100).toFixed(1)}% sure` : '\u00a0';
  hook.prediction = p ? Array.from(p) : null;
}

// ---------- drawing ----------
const pad = new DrawPad($<HTMLCanvasElement>('pad'));
const seen = $<HTMLCanvasElement>('input28');
let frame = 0;
pad.onChange = () => {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    updateDrawing();
  });
};
$('clear').addEventListener('click', () => pad.clear());
$('sample').addEventListener('click', () => {
  if (!data) return;
  const i = Math.floor(Math.random() * data.test.count);
  pad.paint(Array.from(data.test.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
  say('draw-msg', `Test image #${i}, labelled ${data.test.labels[i]}.`, 'info');
});

function inputTensor(img: Float32Array, range: [number, number]) {
  const x = new Float32Array(784);
  for (let i = 0; i < 784; i++) x[i] = range[0] + (range[1] - range[0]) * img[i];
  return tensor(x, [1, 28, 28, 1]);
}

function updateDrawing(): void {
  const img = pad.strokes ? toMnist(pad.ink(), pad.size, pad.size) : null;
  drawTiles(seen, [{ data: img ?? new Float32Array(784), w: 28, h: 28 }], { cols: 1, scale: 1, gap: 0, map: gray, norm: () => 1 });
  if (!img) {
    showProbabilities(null);
    say(
      'draw-msg',
      model
        ? 'The pad is empty: draw a digit (0–9) in the black square with the mouse, a pen or a finger.'
        : 'Draw a digit in the black square. Train or load a model first to see what it thinks.',
      model ? 'warn' : '',
    );
    for (const p of probes) p.canvas.getContext('2d')!.clearRect(0, 0, p.canvas.width, p.canvas.height);
    return;
  }
  if (!model || !meta) {
    showProbabilities(null);
    say('draw-msg', 'Nice digit! Now train (or load) a model to see what it predicts.', 'info');
    return;
  }
  const x = inputTensor(img, meta.range);
  const p = model.predict(x).data;
  showProbabilities(p);
  if (!$('draw-msg').textContent?.startsWith('Test image')) say('draw-msg', '');
  const narrow = narrowQuery.matches;
  for (const pr of probes) drawFeatureMaps(pr.canvas, pr.model.predict(x).data, pr.layer.outputShape, narrow);
  sobelView?.update(img);
}

// ---------- the model and its panels ----------
function describe(l: Layer): string {
  const s = l.outputShape.join('×');
  const c = l.getConfig() as Record<string, unknown>;
  if (l.className === 'Conv2D')
    return `${s} · ${(c.kernelSize as number[]).join('×')} kernels, ${c.padding}${c.activation !== 'linear' ? `, ${c.activation}` : ''}`;
  if (l.className === 'MaxPooling2D' || l.className === 'AveragePooling2D')
    return `${s} · ${(c.poolSize as number[]).join('×')} ${l.className === 'MaxPooling2D' ? 'max' : 'average'} pooling`;
  if (l.className === 'Dense') return `${s} units${c.activation !== 'linear' ? `, ${c.activation}` : ''} · one square per unit`;
  return s;
}

function panel(parent: HTMLElement, title: string, sub: string): HTMLCanvasElement {
  const el = document.createElement('div');
  el.className = 'panel';
  el.innerHTML = '<h3></h3><p class="sub"></p>';
  el.querySelector('h3')!.textContent = title;
  el.querySelector('.sub')!.textContent = sub;
  const c = document.createElement('canvas');
  el.append(c);
  parent.append(el);
  return c;
}

function renderFilters(): void {
  const box = $('filters');
  box.replaceChildren();
  if (!model) return;
  const weights = model.getWeights();
  const specs = model.weightSpecs();
  let convs = 0;
  for (const l of model.layers) {
    if (l.className !== 'Conv2D') continue;
    const k = specs.findIndex((s) => s.name === `${l.name}/kernel`);
    const kernel = weights[k],
      shape = specs[k].shape;
    const [kh, kw, inC, F] = shape;
    const sub =
      inC === 1
        ? `${F} filters of ${kh}×${kw}×1: one slice each, since the input has one channel.`
        : `${F} filters of ${kh}×${kw}×${inC}: each drawn as its ${inC} slices (one per input channel); the ${inC} responses are summed into one output map.`;
    drawFilters(panel(box, `${l.name} · ${F} filters`, sub), kernel, shape, narrowQuery.matches);
    convs++;
  }
  if (!convs) box.innerHTML = '<p class="placeholder">This model has no convolution layers.</p>';
}

function buildProbes(): void {
  for (const p of probes) p.model.dispose();
  probes = [];
  const box = $('maps');
  box.replaceChildren();
  if (!model) return;
  const grid = document.createElement('div');
  grid.className = 'maps-grid';
  box.append(grid);
  const base = model;
  base.layers.forEach((l, i) => {
    const spatial = l.outputShape.length === 3 && ['Conv2D', 'MaxPooling2D', 'AveragePooling2D'].includes(l.className);
    const hidden = l.className === 'Dense' && i < base.layers.length - 1;
    if (!spatial && !hidden) return;
    // The model cut at this layer: same layers, same weights; its output is this layer's feature maps.
    const m = graphModel({ inputs: base.inputs, outputs: l.output, name: `probe_${i}` });
    const canvas = panel(grid, `${l.name} (${l.className})`, describe(l));
    probes.push({ model: m, layer: l, index: i, canvas });
  });
  if (!probes.length) box.innerHTML = '<p class="placeholder">This model has no convolution or pooling layers to look into.</p>';
}

function kernelGrid(k: ArrayLike<number>): HTMLElement {
  const g = document.createElement('div');
  g.className = 'kernel';
  let m = 0;
  for (let i = 0; i < 9; i++) m = Math.max(m, Math.abs(k[i]));
  for (let i = 0; i < 9; i++) {
    const s = document.createElement('span');
    const c = diverging(m ? k[i] / m : 0);
    s.style.background = `rgb(${c.map(Math.round).join(',')})`;
    const v = k[i];
    s.textContent = Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/^(-?)0\./, '$1.');
    s.style.color = Math.abs(m ? v / m : 0) > 0.45 ? '#0d1016' : '#c9d1e3';
    g.append(s);
  }
  return g;
}

function tile(parent: HTMLElement, caption: string, content?: HTMLElement): HTMLCanvasElement {
  const t = document.createElement('div');
  t.className = 'tile';
  const c = document.createElement('canvas');
  t.append(content ?? c);
  const s = document.createElement('small');
  s.textContent = caption;
  t.append(s);
  parent.append(t);
  return c;
}

function buildSobel(): void {
  const box = $('sobel');
  box.replaceChildren();
  sobelView = undefined;
  if (!model) {
    box.innerHTML = '<p class="placeholder">Train or load a model, then draw a digit.</p>';
    return;
  }
  const first = model.layers[0];
  const c = first.getConfig() as Record<string, unknown>;
  const ks = c.kernelSize as number[] | undefined;
  if (first.className !== 'Conv2D' || ks?.[0] !== 3 || ks?.[1] !== 3 || first.inputShape[2] !== 1) {
    box.innerHTML = '<p class="placeholder">This comparison needs a first layer of 3×3 convolutions on a one-channel image.</p>';
    return;
  }
  const kernel = model.getWeights()[0];
  const F = c.filters as number;
  const learned = Array.from({ length: F }, (_, f) => Float32Array.from({ length: 9 }, (_, i) => kernel[i * F + f]));
  const padding = c.padding as 'same' | 'valid';
  const rows: { canvases: HTMLCanvasElement[]; kernels: Float32Array[] }[] = [];
  for (const [name, sobel] of [
    ['Vertical edges', SOBEL_V],
    ['Horizontal edges', SOBEL_H],
  ] as const) {
    let best = 0,
      bestCos = 0;
    learned.forEach((k, f) => {
      const s = cosine(k, sobel);
      if (Math.abs(s) > Math.abs(bestCos)) {
        best = f;
        bestCos = s;
      }
    });
    // A filter that matches with the opposite sign finds the same edges with the opposite polarity.
    const shown = bestCos < 0 ? learned[best].map((v) => -v) : learned[best];
    const row = document.createElement('div');
    row.className = 'sobel-row';
    row.innerHTML = `<h3>${name}</h3>`;
    const tiles = document.createElement('div');
    tiles.className = 'sobel-tiles';
    row.append(tiles);
    tile(tiles, 'Sobel kernel', kernelGrid(sobel));
    const a = tile(tiles, 'Sobel on your digit');
    tile(tiles, `learned filter #${best}${bestCos < 0 ? ' (negated)' : ''}, similarity ${Math.abs(bestCos).toFixed(2)}`, kernelGrid(shown));
    const b = tile(tiles, 'learned filter on your digit');
    box.append(row);
    rows.push({ canvases: [a, b], kernels: [sobel, shown] });
  }
  sobelView = {
    update(x) {
      for (const r of rows)
        r.kernels.forEach((k, i) => {
          const t = conv3x3(x, 28, 28, k, padding);
          drawTiles(r.canvases[i], [t], { cols: 1, scale: 1, gap: 0, map: diverging });
        });
    },
  };
}

function useModel(m: Model, md: DemoMeta): void {
  const inOk = m.inputShape.join() === '28,28,1';
  const outOk = m.outputShape.join() === '10';
  if (!inOk || !outOk) {
    const why = `it takes input [${m.inputShape.join('×')}] and gives [${m.outputShape.join('×')}]; this page needs 28×28×1 digit images in and 10 class probabilities out`;
    m.dispose();
    throw new UserError(`That model does not fit the demo: ${why}.`);
  }
  for (const p of probes) p.model.dispose();
  probes = [];
  model?.dispose();
  model = m;
  meta = md;
  renderFilters();
  buildProbes();
  buildSobel();
  ($('save-file') as HTMLButtonElement).disabled = false;
  ($('save-idb') as HTMLButtonElement).disabled = false;
  hook.state = 'ready';
  updateDrawing();
}

narrowQuery.addEventListener('change', () => {
  renderFilters();
  updateDrawing();
});

// ---------- training ----------
function selectNet(id: NetDef['id']): void {
  net = NETS[id];
  ($('epochs') as HTMLInputElement).value = String(net.epochs);
}
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=net]')) {
  r.addEventListener('change', () => r.checked && selectNet(r.value as NetDef['id']));
}
$('blurb-tutorial').textContent = NETS.tutorial.blurb;
$('blurb-lenet').textContent = NETS.lenet.blurb;

function setTraining(on: boolean): void {
  ($('train') as HTMLButtonElement).disabled = on || !data;
  ($('cancel') as HTMLButtonElement).disabled = !on;
  for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement>(
    'input[name=net], #epochs, #train-n, #load-idb, #load-file',
  ))
    el.disabled = on;
  $('load-file-label').style.opacity = on ? '0.45' : '';
}

async function train(): Promise<void> {
  if (!data || job) return;
  const epochs = Math.max(1, Math.min(30, Math.round(Number(($('epochs') as HTMLInputElement).value) || 1)));
  ($('epochs') as HTMLInputElement).value = String(epochs);
  const n = Math.min(data.train.count, Number(($('train-n') as HTMLSelectElement).value));
  const x = toFloat(data.train.images, n, 784, net.range);
  const y = data.train.labels.slice(0, n);
  const vx = toFloat(data.test.images, data.test.count, 784, net.range);
  const vy = data.test.labels.slice();
  const total = n * epochs;
  lossChart.reset(total);
  accChart.reset(total);
  hook.progress = [];
  hook.state = 'training';
  setTraining(true);
  $('s-test').textContent = '–';
  ($('progress-bar') as HTMLElement).style.width = '0';
  say('train-msg', `Training the ${net.title.toLowerCase()} on ${int(n)} images in a Web Worker…`, 'info');
  const netNow = net;
  const t0 = performance.now();
  job = trainInWorker(
    netNow.spec,
    { x, shape: [n, 28, 28, 1], y, validation: { x: vx, shape: [data.test.count, 28, 28, 1], y: vy } },
    { epochs, batchSize: netNow.batchSize, seed: 1, build: currentBackend().build },
    (p) => {
      hook.progress.push(p);
      lossChart.push(p.images, p.loss);
      accChart.push(p.images, p.acc);
      for (const e of p.epochsDone) {
        const at = Math.min(total, (e.epoch + 1) * n, p.images);
        if (e.epoch + 1 < epochs) {
          lossChart.epochMark(at);
          accChart.epochMark(at);
        }
        if (e.val_loss !== undefined) lossChart.dot(at, e.val_loss);
        if (e.val_acc !== undefined) {
          accChart.dot(at, e.val_acc);
          $('s-test').textContent = pct(e.val_acc);
        }
      }
      $('s-epoch').textContent = `${p.epoch + 1} / ${p.epochs}`;
      $('s-ips').textContent = int(p.imagesPerSec);
      $('s-loss').textContent = fmt(p.loss);
      $('s-acc').textContent = pct(p.acc);
      ($('progress-bar') as HTMLElement).style.width = `${Math.min(100, (p.images / total) * 100)}%`;
    },
  );
  try {
    const r = await job.promise;
    const { weights: _w, files: _f, ...rest } = r;
    hook.result = rest;
    const m = await loadModel(r.files);
    const h = r.history.history;
    const testAcc = h.val_acc?.length ? h.val_acc[h.val_acc.length - 1] : undefined;
    useModel(m, { net: netNow.id, range: netNow.range, testAccuracy: testAcc });
    if (testAcc !== undefined) $('s-test').textContent = pct(testAcc);
    const secs = (performance.now() - t0) / 1000;
    const acc = testAcc !== undefined ? ` Test accuracy ${pct(testAcc)} on ${int(data.test.count)} held-out images.` : '';
    say(
      'train-msg',
      r.cancelled
        ? `Stopped after ${int(r.images)} images (${secs.toFixed(1)} s); the model keeps what it learned so far.${acc} Draw a digit below!`
        : `Done: ${int(r.images)} images in ${secs.toFixed(1)} s.${acc} Draw a digit!`,
      'ok',
    );
    ($('progress-bar') as HTMLElement).style.width = r.cancelled ? ($('progress-bar') as HTMLElement).style.width : '100%';
  } catch (e) {
    hook.state = model ? 'ready' : 'idle';
    hook.error = (e as Error).message;
    say('train-msg', `Training failed: ${(e as Error).message}`, 'err');
  } finally {
    job = undefined;
    setTraining(false);
  }
}
$('train').addEventListener('click', () => {
  void train();
});
$('cancel').addEventListener('click', () => {
  if (!job) return;
  job.cancel();
  ($('cancel') as HTMLButtonElement).disabled = true;
  say('train-msg', 'Stopping after the current batch…', 'warn');
});

// ---------- save / load ----------
async function io(action: () => Promise<string>): Promise<void> {
  try {
    say('io-msg', 'Working…');
    say('io-msg', await action(), 'ok');
  } catch (e) {
    const msg = e instanceof UserError ? e.message : `Something went wrong: ${(e as Error).message}`;
    say('io-msg', msg, e instanceof UserError ? 'warn' : 'err');
  }
}
$('save-file').addEventListener('click', () =>
  io(async () => {
    if (!model || !meta) throw new UserError('Train or load a model first.');
    const names = await saveToDownloads(model, meta);
    return `Downloaded ${names.map((n) => `“${n}”`).join(', ')}. To load it again, choose these files together.`;
  }),
);
$('save-idb').addEventListener('click', () =>
  io(async () => {
    if (!model || !meta) throw new UserError('Train or load a model first.');
    await saveToBrowser(model, meta);
    return 'Saved in this browser (IndexedDB). “Load from browser” brings it back, also after a reload.';
  }),
);
$('load-idb').addEventListener('click', () =>
  io(async () => {
    const { model: m, meta: md } = await loadFromBrowser();
    useModel(m, md);
    return `Loaded the ${md.net} model saved in this browser.`;
  }),
);
$('load-file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  const files = Array.from(input.files ?? []);
  input.value = '';
  void io(async () => {
    const { model: m, meta: md } = await loadFromFiles(files);
    useModel(m, md);
    return `Loaded “${files.find((f) => f.name.endsWith('.json'))!.name}” (${int(m.countParams())} weights).`;
  });
});

// ---------- start ----------
async function start(): Promise<void> {
  try {
    hook.build = await chooseBuild($('build-badge'));
  } catch (e) {
    say('train-msg', (e as Error).message, 'err');
    hook.state = 'error';
    hook.error = (e as Error).message;
    return;
  }
  selectNet('tutorial');
  updateDrawing();
  say('train-msg', 'Loading 12,000 MNIST digits…');
  try {
    data = await loadMnist();
  } catch (e) {
    say('train-msg', (e as Error).message, 'err');
    hook.state = 'error';
    hook.error = (e as Error).message;
    return;
  }
  ($('sample') as HTMLButtonElement).disabled = false;
  setTraining(false);
  hook.state = 'idle';
  say(
    'train-msg',
    'Pick a network and press Train. The tutorial net trains in a few seconds; LeNet is 30 times bigger and takes about 10–20 s per 10,000 images.',
  );
}
void start();
