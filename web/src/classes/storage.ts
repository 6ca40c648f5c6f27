// Save and load the classifier: TF.js layers files (downloads) or IndexedDB. The class names, pixel range
// and crop rule ride in model.json's userDefinedMetadata under the keys `simdcnn predict` reads, so a
// loaded model predicts with names here and on the command line.
import { loadModel, type Model } from '../../../src/index.js';
import { modelFromFiles, UserError } from '../store.js';
import { AUGMENTATION, INPUT_SHAPE } from './net.js';

const IDB = 'indexeddb://simdcnn-classes';
export const FILE_BASE = 'simdcnn-classes';

export function metadataFor(names: string[]): Record<string, unknown> {
  return { dataset: 'folder', classNames: names, inputRange: [0, 1], fit: 'crop', lightOnDark: false, augmentation: AUGMENTATION };
}

/** The class names of a loaded model, checked against what this page can feed it. */
export function classNamesOf(model: Model, source: string): string[] {
  const want = INPUT_SHAPE.join('×');
  const got = model.inputShape.join('×');
  const k = model.outputShape[model.outputShape.length - 1];
  if (got !== want || model.outputShape.length !== 1 || !(k >= 2)) {
    model.dispose();
    throw new UserError(
      `${source} does not fit this page: it takes ${got} pictures and gives [${model.outputShape.join('×')}]; this page needs ${want} RGB pictures in and one probability per class out.`,
    );
  }
  const names = model.metadata?.classNames;
  return Array.isArray(names) && names.length === k && names.every((n) => typeof n === 'string')
    ? (names as string[])
    : Array.from({ length: k }, (_, i) => `Class ${i + 1}`);
}

export async function saveDownloads(model: Model, names: string[]): Promise<string[]> {
  const r = await model.save(`downloads://${FILE_BASE}`, { metadata: metadataFor(names), includeOptimizer: false });
  return [`${FILE_BASE}.json`, ...r.modelJson.weightsManifest.flatMap((g) => g.paths)];
}

export async function saveBrowser(model: Model, names: string[]): Promise<void> {
  await model.save(IDB, { metadata: metadataFor(names), includeOptimizer: false });
}

export async function loadBrowser(): Promise<{ model: Model; names: string[] }> {
  let model: Model;
  try {
    model = await loadModel(IDB);
  } catch (e) {
    throw new UserError(`Nothing usable saved in this browser yet: train, then “Save in browser” (${(e as Error).message}).`);
  }
  return { model, names: classNamesOf(model, 'The model saved in this browser') };
}

export async function loadFiles(files: File[]): Promise<{ model: Model; names: string[]; file: string }> {
  const { model, file } = await modelFromFiles(files);
  return { model, names: classNamesOf(model, `“${file}”`), file };
}
