// Save and load the page's model: the one place that talks to simdcnn's model I/O (TF.js layers format).
// Files: <name>.json + <name>.weights.bin (+ <name>.optimizer.bin) through the download bar; or the
// browser's IndexedDB. What the page needs besides the weights (which net, the pixel range) rides along
// in model.json's userDefinedMetadata.
import { loadModel, type Model, type ModelJson } from '../../src/index.js';
import { OPT_KEY } from '../../src/io/format.js';

export interface DemoMeta {
  net: string;
  range: [number, number];
  testAccuracy?: number;
}
const META_KEY = 'simdcnnDemo';
const IDB_KEY = 'indexeddb://simdcnn-demo';
const LS_KEY = 'simdcnn-demo-meta';

/** A problem the user can fix; its message is shown as is. */
export class UserError extends Error {}

export async function saveToDownloads(model: Model, meta: DemoMeta): Promise<string[]> {
  const r = await model.save(`downloads://simdcnn-${meta.net}`, { metadata: { [META_KEY]: meta } });
  const names = [`simdcnn-${meta.net}.json`, ...r.modelJson.weightsManifest.flatMap((g) => g.paths)];
  const opt = (r.modelJson.userDefinedMetadata?.[OPT_KEY] as { path?: string } | undefined)?.path;
  return opt ? [...names, opt] : names;
}

export async function saveToBrowser(model: Model, meta: DemoMeta): Promise<void> {
  await model.save(IDB_KEY, { metadata: { [META_KEY]: meta } });
  localStorage.setItem(LS_KEY, JSON.stringify(meta));
}

export async function loadFromBrowser(): Promise<{ model: Model; meta: DemoMeta }> {
  const raw = localStorage.getItem(LS_KEY);
  if (!raw) throw new UserError('Nothing saved in this browser yet: train a model and press “Save in browser” first.');
  const model = await loadModel(IDB_KEY).catch((e: Error) => {
    throw new UserError(`Could not read the model saved in this browser (${e.message}).`);
  });
  return { model, meta: JSON.parse(raw) as DemoMeta };
}

const readJson = async (f: File): Promise<unknown> => {
  try {
    return JSON.parse(await f.text());
  } catch {
    throw new UserError(`“${f.name}” is not a model file: it is not JSON. Pick the model's .json file together with its .bin file(s).`);
  }
};

/**
 * A model from files the user picked: one model .json (TF.js layers format, from this page, simdcnn or
 * TF.js/Keras) plus the weight files its manifest names.
 */
export async function loadFromFiles(files: File[]): Promise<{ model: Model; meta: DemoMeta }> {
  const { model, json } = await modelFromFiles(files);
  const meta = json.userDefinedMetadata?.[META_KEY] as DemoMeta | undefined;
  return { model, meta: meta ?? { net: model.name, range: [0, 1] } };
}

/** The model of the chosen files (see loadFromFiles), its model.json and that file's name. */
export async function modelFromFiles(files: File[]): Promise<{ model: Model; json: Partial<ModelJson>; file: string }> {
  if (!files.length) throw new UserError('No file chosen.');
  const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  if (jsons.length === 0) {
    throw new UserError(
      `${files.map((f) => `“${f.name}”`).join(', ')}: no model .json among the chosen files. A saved model is a .json file plus its .weights.bin; pick both.`,
    );
  }
  if (jsons.length > 1) throw new UserError('Several .json files chosen; pick one model .json and its .bin file(s).');
  const json = (await readJson(jsons[0])) as Partial<ModelJson> | null;
  if (!json || typeof json !== 'object' || !('modelTopology' in json) || !Array.isArray(json.weightsManifest)) {
    throw new UserError(
      `“${jsons[0].name}” is JSON but not a model: a model file has “modelTopology” and “weightsManifest” (TensorFlow.js layers format).`,
    );
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  // Browsers may rename repeated downloads ("x.weights (1).bin"): fall back to the only .bin of each kind.
  const bins = files.filter((f) => f.name.toLowerCase().endsWith('.bin'));
  const find = (path: string, kind: RegExp): File | undefined => {
    const base = path.split('/').pop()!;
    const exact = byName.get(base);
    if (exact) return exact;
    const same = bins.filter((f) => kind.test(f.name));
    return same.length === 1 ? same[0] : undefined;
  };
  const paths = json.weightsManifest.flatMap((g) => (Array.isArray(g?.paths) ? g.paths : []));
  const missing = paths.filter((p) => !find(p, /weights/i) && !(paths.length === 1 && bins.length === 1));
  if (missing.length)
    throw new UserError(
      `“${jsons[0].name}” needs its weight file${missing.length > 1 ? 's' : ''} ${missing.map((p) => `“${p}”`).join(', ')}: choose ${missing.length > 1 ? 'them' : 'it'} together with the .json.`,
    );
  const weights = await Promise.all(paths.map((p) => (find(p, /weights/i) ?? bins[0]).arrayBuffer()));
  const optPath = (json.userDefinedMetadata?.[OPT_KEY] as { path?: string } | undefined)?.path;
  const optFile = optPath ? find(optPath, /optimizer/i) : undefined;
  let model: Model;
  try {
    model = await loadModel({ modelJson: json as ModelJson, weights, optimizerWeights: await optFile?.arrayBuffer() });
  } catch (e) {
    throw new UserError(`“${jsons[0].name}” could not be loaded: ${(e as Error).message}`);
  }
  return { model, json, file: jsons[0].name };
}
