// Models in the browser: 'downloads://name' (two files through the download bar) and 'indexeddb://key'.
// Nothing here touches Node; in Node these targets are simply not claimed.
import { ModelFormatError } from '../errors.js';
import { OPT_KEY } from './format.js';
import { type ModelFiles, registerIOHandler, type SaveResult } from './registry.js';

const hasDom = () => typeof document !== 'undefined' && typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function';
const hasIdb = () => typeof indexedDB !== 'undefined';

async function download(files: ModelFiles, target: string): Promise<SaveResult> {
  const name = target.slice('downloads://'.length) || 'model';
  const weights = Array.isArray(files.weights) ? files.weights : [files.weights];
  const modelJson = structuredClone(files.modelJson);
  modelJson.weightsManifest = [
    {
      paths: weights.map((_, i) => `${name}.weights${weights.length > 1 ? i : ''}.bin`),
      weights: files.modelJson.weightsManifest.flatMap((g) => g.weights),
    },
  ];
  const items: [string, Blob][] = [[`${name}.json`, new Blob([JSON.stringify(modelJson)], { type: 'application/json' })]];
  weights.forEach((w, i) => items.push([modelJson.weightsManifest[0].paths[i], new Blob([w], { type: 'application/octet-stream' })]));
  if (files.optimizerWeights) {
    const p = `${name}.optimizer.bin`;
    (modelJson.userDefinedMetadata![OPT_KEY] as { path: string }).path = p;
    items[0][1] = new Blob([JSON.stringify(modelJson)], { type: 'application/json' });
    items.push([p, new Blob([files.optimizerWeights], { type: 'application/octet-stream' })]);
  }
  for (const [fname, blob] of items) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = fname;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  return { ...files, modelJson, location: target };
}

function db(): Promise<IDBDatabase> {
  return new Promise((res, rej) => {
    const r = indexedDB.open('simdcnn-models', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('models');
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

async function idbSave(files: ModelFiles, target: string): Promise<SaveResult> {
  const key = target.slice('indexeddb://'.length);
  const d = await db();
  await new Promise<void>((res, rej) => {
    const tx = d.transaction('models', 'readwrite');
    tx.objectStore('models').put({ modelJson: files.modelJson, weights: files.weights, optimizerWeights: files.optimizerWeights }, key);
    tx.oncomplete = () => res();
    tx.onerror = () => rej(tx.error);
  });
  d.close();
  return { ...files, location: target };
}

async function idbLoad(source: unknown): Promise<ModelFiles> {
  const key = (source as string).slice('indexeddb://'.length);
  const d = await db();
  const v = await new Promise<ModelFiles | undefined>((res, rej) => {
    const r = d.transaction('models').objectStore('models').get(key);
    r.onsuccess = () => res(r.result as ModelFiles | undefined);
    r.onerror = () => rej(r.error);
  });
  d.close();
  if (!v) throw new ModelFormatError(`${source}: no model saved under this key`);
  return v;
}

registerIOHandler({
  name: 'downloads',
  canSave: (t) => t.startsWith('downloads://') && hasDom(),
  save: download,
  canLoad: () => false,
  load: async () => {
    throw new ModelFormatError('downloads:// is save-only; load the files with loadModel({modelJson, weights})');
  },
});
registerIOHandler({
  name: 'indexeddb',
  canSave: (t) => t.startsWith('indexeddb://') && hasIdb(),
  save: idbSave,
  canLoad: (s) => typeof s === 'string' && s.startsWith('indexeddb://') && hasIdb(),
  load: idbLoad,
});
