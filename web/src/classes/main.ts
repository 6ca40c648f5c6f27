// The "your own classes" page: classes from the webcam or uploads, training in a Worker with live
// charts, live webcam prediction, the first layer's RGB filters, save/load. Every mistake a user can make
// ends as a message on the page. URL option: ?build=simd|relaxed picks the wasm build.
import type { TrainResult } from '../../../src/browser/protocol.js';
import { type Model, ready, tensor } from '../../../src/index.js';
import { chooseBuild } from '../build-choice.js';
import { UserError } from '../store.js';
import { ClassCards } from './class-cards.js';
import { $, errorText, type MsgKind, pct, say } from './dom.js';
import { ClassSet, MAX_CLASSES, MAX_EXAMPLES } from './examples.js';
import { drawRgbFilters } from './filters.js';
import { drawBytes, filesToBytes, pictureBytes } from './images.js';
import { buildNet, firstKernel, INPUT_SHAPE, RECIPE } from './net.js';
import { LiveLoop, ProbabilityBars } from './predict.js';
import { loadBrowser, loadFiles, saveBrowser, saveDownloads } from './storage.js';
import { Trainer } from './training.js';
import { Webcam } from './webcam.js';

const button = (id: string) => $<HTMLButtonElement>(id);

// ---------- state ----------
const set = new ClassSet();
const webcam = new Webcam($<HTMLVideoElement>('camera'));
const trainer = new Trainer();
const bars = new ProbabilityBars($('bars'), $('pred-label'));
let model: Model | undefined;
let names: string[] = [];
let recording: { classId: number; timer: number } | undefined;

/** For tests and the curious: window.ownClasses. */
const hook = {
  state: 'loading' as 'loading' | 'idle' | 'training' | 'ready' | 'error',
  build: '',
  names: [] as string[],
  counts: () => set.classes.map((c) => c.examples.length),
  progress: () => trainer.progress,
  charts: () => ({ loss: trainer.loss.points, acc: trainer.acc.points, validation: trainer.valDots }),
  result: undefined as Omit<TrainResult, 'weights' | 'files'> | undefined,
  optimizer: undefined as unknown,
  prediction: null as null | { source: 'camera' | 'image'; label: string; probabilities: number[]; file?: string },
  livePredictions: 0,
  fps: 0,
  filtersDrawn: 0,
  filtersDuringTraining: 0,
  error: '',
};
(window as unknown as { ownClasses: typeof hook }).ownClasses = hook;

/** Runs a user action; a UserError is shown as a warning, anything else as an error (the page lives on). */
async function guard(msgId: string, action: () => Promise<string | void> | string | void): Promise<void> {
  try {
    const done = await action();
    if (typeof done === 'string') say(msgId, done, 'ok');
  } catch (e) {
    const kind: MsgKind = e instanceof UserError ? 'warn' : 'err';
    hook.error = errorText(e);
    say(msgId, e instanceof UserError ? errorText(e) : `Something went wrong: ${errorText(e)}`, kind);
  }
}

// ---------- classes ----------
const cards = new ClassCards($('class-list'), set, {
  record: (id, on) => (on ? startRecording(id) : stopRecording()),
  files: (id, files) => void guard('classes-msg', () => addFiles(id, files)),
});
set.onChange = () => {
  cards.render();
  updateButtons();
};

function startRecording(classId: number): void {
  stopRecording();
  const grab = () => {
    if (!webcam.live) return;
    try {
      if (!set.addExample(classId, pictureBytes(webcam.video))) {
        stopRecording();
        say('classes-msg', `“${set.get(classId).name}” is full (${MAX_EXAMPLES} pictures): remove some to add others.`, 'warn');
      }
    } catch (e) {
      stopRecording();
      say('classes-msg', errorText(e), e instanceof UserError ? 'warn' : 'err');
    }
  };
  recording = { classId, timer: window.setInterval(grab, 100) };
  grab();
}
function stopRecording(): void {
  if (recording) clearInterval(recording.timer);
  recording = undefined;
}

async function addFiles(classId: number, files: File[]): Promise<string> {
  const { images, problems } = await filesToBytes(files);
  let added = 0;
  for (const im of images) if (set.addExample(classId, im.bytes, false)) added++;
  set.onChange();
  const name = set.get(classId).name;
  const ok = `${added} picture${added === 1 ? '' : 's'} added to “${name}”.`;
  const full = added < images.length ? ` “${name}” is full (${MAX_EXAMPLES}); ${images.length - added} left out.` : '';
  if (problems.length) throw new UserError(`${added ? `${ok} ` : ''}${problems.join(' ')}${full}`);
  if (full) throw new UserError(ok + full);
  return ok;
}

$('add-class').addEventListener('click', () =>
  guard('classes-msg', () => {
    set.add();
    return set.classes.length === MAX_CLASSES ? `${MAX_CLASSES} classes: that is the most this page trains.` : undefined;
  }),
);

// ---------- camera ----------
async function startCamera(): Promise<void> {
  say('classes-msg', 'Starting the camera…', 'info');
  await webcam.start();
  say('classes-msg', 'Camera on: hold “Hold to record” on a class to add frames to it.', 'ok');
}
$('camera-toggle').addEventListener('click', () =>
  guard('classes-msg', async () => {
    if (webcam.live) {
      live.stop();
      webcam.stop();
      say('classes-msg', 'Camera off.');
    } else await startCamera();
    updateButtons();
  }),
);

function updateButtons(): void {
  const training = trainer.busy;
  cards.setState(webcam.live, training);
  $('camera-toggle').textContent = webcam.live ? 'Stop camera' : 'Start camera';
  button('add-class').disabled = training || set.classes.length >= MAX_CLASSES;
  button('train').disabled = training || hook.state === 'loading' || hook.state === 'error';
  button('stop').disabled = !training;
  button('live').disabled = !model;
  button('live').textContent = live.running ? 'Stop live prediction' : 'Predict live from the webcam';
  for (const id of ['save-file', 'save-idb']) button(id).disabled = !model || training;
  for (const id of ['load-idb', 'load-file', 'epochs']) ($(id) as HTMLInputElement).disabled = training;
  $('load-file-label').style.opacity = training ? '0.45' : '';
}

// ---------- the model ----------
function classify(bytes: Uint8Array): Float32Array {
  const x = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) x[i] = bytes[i] / 255;
  return model!.predict(tensor(x, [1, ...INPUT_SHAPE])).data;
}

function show(source: 'camera' | 'image', bytes: Uint8Array, file?: string): { label: string; p: number } {
  const p = classify(bytes);
  drawBytes($<HTMLCanvasElement>('seen'), bytes);
  const k = bars.show(p);
  hook.prediction = { source, label: names[k], probabilities: Array.from(p), file };
  return { label: names[k], p: p[k] };
}

const live = new LiveLoop(() => {
  if (!model || !webcam.live) return false;
  show('camera', pictureBytes(webcam.video));
  hook.livePredictions++;
  hook.fps = live.fps;
  $('fps').textContent = `· ${hook.fps} fps`;
  return true;
});

/** Draws the first convolution's kernel [kh, kw, 3, F]; without one, says why. */
function renderFilters(kernel?: { data: Float32Array; shape: number[] }): void {
  const canvas = $<HTMLCanvasElement>('filters-canvas');
  const placeholder = $('rgb-filters').querySelector('.placeholder') as HTMLElement;
  if (!kernel || kernel.shape[2] !== 3) {
    canvas.hidden = $('filters-key').hidden = true;
    placeholder.hidden = false;
    placeholder.textContent = model
      ? 'This model has no convolution on the RGB picture to show.'
      : 'Train or load a model to see its filters.';
    return;
  }
  const narrow = window.matchMedia('(max-width: 640px)').matches;
  drawRgbFilters(canvas, kernel.data, kernel.shape, narrow ? 2 : 4, narrow ? 6 : 10);
  canvas.hidden = $('filters-key').hidden = false;
  placeholder.hidden = true;
  hook.filtersDrawn++;
}
const modelFilters = (m: Model) => {
  const at = firstKernel(m);
  renderFilters(at && { data: m.getWeights()[at.index], shape: at.shape });
};
trainer.onKernel = (data, shape) => {
  renderFilters({ data, shape });
  hook.filtersDuringTraining++;
};

function useModel(m: Model, classNames: string[]): void {
  model?.dispose();
  model = m;
  names = classNames;
  hook.names = names;
  bars.setNames(names);
  modelFilters(m);
  hook.state = 'ready';
  updateButtons();
}

// ---------- training ----------
async function train(): Promise<void> {
  const problem = set.problem();
  if (problem) {
    say('train-msg', problem, 'warn');
    return;
  }
  stopRecording();
  const epochs = Math.max(1, Math.min(100, Math.round(Number(($('epochs') as HTMLInputElement).value) || RECIPE.epochs)));
  ($('epochs') as HTMLInputElement).value = String(epochs);
  const data = set.trainingData();
  const n = data.shape[0];
  const held = data.validation?.shape[0] ?? 0;
  const t0 = performance.now();
  hook.state = 'training';
  const run = trainer.run(data, data.names.length, { ...RECIPE, epochs });
  updateButtons();
  say(
    'train-msg',
    `Training on ${n} pictures${held ? `, ${held} held out for validation` : ' (add 5+ per class to hold some out for validation)'}, in a Web Worker…`,
    'info',
  );
  try {
    const r = await run;
    const { weights, files, ...rest } = r;
    hook.result = rest;
    hook.optimizer = (files.modelJson.trainingConfig as { optimizer_config?: unknown } | undefined)?.optimizer_config;
    // The net without its augmentation layers takes the same weights; that one predicts and is saved.
    const m = buildNet(data.names.length, false);
    m.setWeights(weights);
    useModel(m, data.names);
    const h = r.history.history;
    const val = h.val_acc?.length ? ` Validation accuracy ${pct(h.val_acc[h.val_acc.length - 1])}.` : '';
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    say(
      'train-msg',
      `${r.cancelled ? 'Stopped' : 'Done'}: ${r.images.toLocaleString('en-US')} pictures in ${secs} s.${val} Try it: predict live from the webcam or an image.`,
      'ok',
    );
    if (!r.cancelled) $('progress-bar').style.width = '100%';
  } catch (e) {
    hook.state = model ? 'ready' : 'idle';
    hook.error = errorText(e);
    say('train-msg', `Training failed: ${errorText(e)}`, 'err');
  } finally {
    updateButtons();
  }
}
$('train').addEventListener('click', () => void train());
$('stop').addEventListener('click', () => {
  trainer.stop();
  button('stop').disabled = true;
  say('train-msg', 'Stopping after the current batch…', 'warn');
});

// ---------- prediction ----------
$('live').addEventListener('click', () =>
  guard('predict-msg', async () => {
    if (live.running) {
      live.stop();
      updateButtons();
      $('fps').textContent = '';
      return 'Live prediction stopped.';
    }
    if (!model) throw new UserError('Train or load a model first.');
    if (!webcam.live) await guard('predict-msg', startCamera);
    if (!webcam.live) return;
    live.start();
    updateButtons();
    return 'Predicting the webcam live: show it your classes.';
  }),
);

async function predictFile(files: File[]): Promise<string> {
  if (!model) throw new UserError('Train or load a model first, then pick a picture to classify.');
  const { images, problems } = await filesToBytes(files.slice(0, 1));
  if (!images.length) throw new UserError(problems.join(' ') || 'No file chosen.');
  if (live.running) {
    live.stop();
    updateButtons();
  }
  const r = show('image', images[0].bytes, images[0].name);
  return `“${images[0].name}” looks like “${r.label}” (${pct(r.p)}).`;
}
$('predict-file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  const files = Array.from(input.files ?? []);
  input.value = '';
  void guard('predict-msg', () => predictFile(files));
});
const predictCard = $('predict-card');
predictCard.addEventListener('dragover', (e) => e.preventDefault());
predictCard.addEventListener('drop', (e) => {
  e.preventDefault();
  const files = Array.from(e.dataTransfer?.files ?? []);
  if (files.length) void guard('predict-msg', () => predictFile(files));
});

// ---------- save / load ----------
$('save-file').addEventListener('click', () =>
  guard('io-msg', async () => {
    if (!model) throw new UserError('Train or load a model first.');
    const files = await saveDownloads(model, names);
    return `Downloaded ${files.map((f) => `“${f}”`).join(', ')}. To load it again, choose both files together.`;
  }),
);
$('save-idb').addEventListener('click', () =>
  guard('io-msg', async () => {
    if (!model) throw new UserError('Train or load a model first.');
    await saveBrowser(model, names);
    return 'Saved in this browser (IndexedDB). “Load from browser” brings it back, also after a reload.';
  }),
);
$('load-idb').addEventListener('click', () =>
  guard('io-msg', async () => {
    const r = await loadBrowser();
    useModel(r.model, r.names);
    return `Loaded the model saved in this browser: ${r.names.map((n) => `“${n}”`).join(', ')}.`;
  }),
);
$('load-file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  const files = Array.from(input.files ?? []);
  input.value = '';
  void guard('io-msg', async () => {
    const r = await loadFiles(files);
    useModel(r.model, r.names);
    return `Loaded “${r.file}”: classes ${r.names.map((n) => `“${n}”`).join(', ')}.`;
  });
});

// ---------- start ----------
async function start(): Promise<void> {
  try {
    hook.build = await chooseBuild($('build-badge'));
    await ready();
  } catch (e) {
    say('train-msg', errorText(e), 'err');
    hook.state = 'error';
    hook.error = errorText(e);
    updateButtons();
    return;
  }
  $('net-blurb').textContent =
    'RandomFlip + RandomTranslation (training only) → Conv 16×5×5×3 → pool → Conv 32 → pool → Conv 64 → global average → Dense per class. Adam with a one-cycle learning rate, batches of 16.';
  set.add();
  set.add();
  hook.state = 'idle';
  updateButtons();
  say('classes-msg', 'Start the camera and hold “Hold to record”, or upload pictures for each class. Rename the classes as you like.');
}
void start();
