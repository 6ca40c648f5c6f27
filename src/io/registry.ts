// Where models go and come from: a registry of handlers (files in Node, downloads and IndexedDB in the
// browser, plain objects everywhere), over one file layout: model.json + a weights file + an optional
// optimizer file. Browser-safe: the Node handler registers itself from src/io/node.ts.
import { getBackend } from '../backend.js';
import { ModelFormatError, ValueError } from '../errors.js';
import {
  artifactsToModel,
  checkJsonTree,
  declaredSizes,
  type ModelArtifacts,
  modelToArtifacts,
  OPT_KEY,
  optimizerMeta,
  type SavableModel,
  toArrayBuffer,
  type WeightsManifestEntry,
} from './format.js';

export type SaveTarget = string | undefined;
export interface SaveOptions {
  /** Save the optimizer state too (default true when the model is compiled). */
  includeOptimizer?: boolean;
  /** Stored in model.json's userDefinedMetadata (e.g. the pixel range the model was trained on). */
  metadata?: Record<string, unknown>;
}

/** model.json as TF.js reads it. */
export interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: WeightsManifestEntry[] }[];
  trainingConfig?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * The files of a saved model, in memory: what `model.save()` returns and `loadModel` takes. On input the
 * buffers may also be typed arrays (e.g. Node Buffers from readFile).
 */
export interface ModelFiles {
  modelJson: ModelJson;
  /** The weight file(s), in manifest order. */
  weights: ArrayBuffer | ArrayBuffer[];
  /** simdcnn's optimizer state file (named by modelJson.userDefinedMetadata.simdcnnOptimizer.path). */
  optimizerWeights?: ArrayBuffer;
}
export interface SaveResult extends ModelFiles {
  /** Where it went (a file path, a key), when not in memory. */
  location?: string;
}

export interface IOHandler {
  name: string;
  canSave(target: string): boolean;
  save(files: ModelFiles, target: string): Promise<SaveResult>;
  canLoad(source: unknown): boolean;
  load(source: unknown): Promise<ModelFiles>;
}

const handlers: IOHandler[] = [];
export function registerIOHandler(h: IOHandler): void {
  if (!handlers.some((x) => x.name === h.name)) handlers.push(h);
}

/** Lays artifacts out as files; weight and optimizer file names are the handler's to choose. */
export function artifactsToFiles(art: ModelArtifacts, weightsPath = 'weights.bin', optimizerPath = 'optimizer.bin'): ModelFiles {
  const modelJson: ModelJson = {
    format: art.format,
    generatedBy: art.generatedBy,
    convertedBy: art.convertedBy ?? null,
    modelTopology: art.modelTopology,
    weightsManifest: [{ paths: [weightsPath], weights: art.weightSpecs }],
  };
  if (art.trainingConfig) modelJson.trainingConfig = art.trainingConfig;
  const meta: Record<string, unknown> = { ...art.userDefinedMetadata };
  let optimizerWeights: ArrayBuffer | undefined;
  if (art.optimizerState) {
    const { slots, ...rest } = art.optimizerState;
    const n = slots.length ? slots[0].length : 0;
    if (slots.length) {
      optimizerWeights = new ArrayBuffer(slots.length * n * 4);
      const v = new DataView(optimizerWeights);
      slots.forEach((s, k) => s.forEach((x, i) => v.setFloat32((k * n + i) * 4, x, true)));
    }
    // Plain SGD keeps no state but its step count: no extra file then.
    meta[OPT_KEY] = { ...rest, path: slots.length ? optimizerPath : null, slots: slots.length, floatsPerSlot: n };
  }
  if (Object.keys(meta).length) modelJson.userDefinedMetadata = meta;
  return { modelJson, weights: toArrayBuffer(art.weightData, 'save'), optimizerWeights };
}

export function filesToArtifacts(files: ModelFiles, source: string): ModelArtifacts {
  const j = files.modelJson as ModelJson | undefined;
  if (!j || typeof j !== 'object' || typeof j.modelTopology !== 'object' || j.modelTopology === null) {
    throw new ModelFormatError(`${source}: not a TF.js layers model.json (no modelTopology)`);
  }
  checkJsonTree(j, source);
  if (j.format !== undefined && j.format !== 'layers-model')
    throw new ModelFormatError(`${source}: format '${j.format}' is not a layers model (graph models are not supported)`);
  if (!Array.isArray(j.weightsManifest)) throw new ModelFormatError(`${source}: weightsManifest is missing`);
  const weightSpecs = j.weightsManifest.flatMap((g) => (g && Array.isArray(g.weights) ? g.weights : []));
  // Sizes before copies: a list naming one large buffer thousands of times is refused, not concatenated.
  const need = declaredSizes(j, source).groups.reduce((a, b) => a + b, 0);
  const parts = Array.isArray(files.weights) ? files.weights : [files.weights];
  const held = parts.reduce((b: number, p: unknown) => b + (p instanceof ArrayBuffer || ArrayBuffer.isView(p) ? p.byteLength : 0), 0);
  if (held !== need)
    throw new ModelFormatError(
      `${source}: the weights manifest describes ${need} bytes but the weight data holds ${held} (truncated or mismatched weight file)`,
    );
  const art: ModelArtifacts = {
    modelTopology: j.modelTopology,
    weightSpecs,
    weightData: toArrayBuffer(files.weights, source),
    format: j.format,
    generatedBy: j.generatedBy,
    convertedBy: j.convertedBy,
    trainingConfig: j.trainingConfig,
    userDefinedMetadata: j.userDefinedMetadata,
  };
  const o = optimizerMeta(j.userDefinedMetadata, source);
  // Without its file (e.g. only model.json and the weights were picked), the state is not restored: the
  // model still compiles from trainingConfig, with a fresh optimizer, as TF.js does without includeOptimizer.
  if (o && (files.optimizerWeights || o.slots === 0)) {
    const n = o.floatsPerSlot;
    const opt =
      files.optimizerWeights === undefined ? new ArrayBuffer(0) : toArrayBuffer(files.optimizerWeights, `${source} (optimizer file)`);
    if (opt.byteLength !== o.slots * n * 4) {
      throw new ModelFormatError(`${source}: the optimizer file holds ${opt.byteLength} bytes, its manifest says ${o.slots} x ${n} floats`);
    }
    const v = new DataView(opt);
    const slots = Array.from({ length: o.slots }, (_, k) =>
      Float32Array.from({ length: n }, (_, i) => v.getFloat32((k * n + i) * 4, true)),
    );
    art.optimizerState = { className: o.className, config: o.config, iterations: o.iterations, slots };
  }
  return art;
}

export async function saveModel(model: SavableModel, target: SaveTarget, opts: SaveOptions): Promise<SaveResult> {
  const art = modelToArtifacts(model, opts);
  if (target === undefined || target === 'memory://') return artifactsToFiles(art);
  if (typeof target !== 'string' || target.trim() === '')
    throw new ValueError(
      `save: target must be a path or URL string, received ${typeof target === 'string' ? "''" : typeof target} (model.save() with no target returns the files in memory)`,
    );
  const h = handlers.find((x) => x.canSave(target));
  if (!h)
    throw new ValueError(
      `save: no handler for '${target}' here (${handlers.map((x) => x.name).join(', ') || 'none registered'}); in Node use a path or file://, in the browser downloads:// or indexeddb://`,
    );
  return h.save(artifactsToFiles(art), target);
}

const isArtifacts = (s: unknown): s is ModelArtifacts => typeof s === 'object' && s !== null && 'modelTopology' in s && 'weightData' in s;

/** Model files as loadModel takes them: the buffers may also be typed arrays (e.g. Node Buffers from readFile). */
export type ModelFilesInput = Omit<ModelFiles, 'weights' | 'optimizerWeights'> & {
  weights: ArrayBuffer | ArrayBufferView | (ArrayBuffer | ArrayBufferView)[];
  optimizerWeights?: ArrayBuffer | ArrayBufferView;
};
export type LoadSource = string | ModelFilesInput | ModelArtifacts;

/** The files (or artifacts) of a model from wherever a handler finds them, as a model (typed by engine/model.ts's loadModel). */
export async function loadModelFiles(source: LoadSource): Promise<unknown> {
  await getBackend();
  if (isArtifacts(source)) return artifactsToModel(source, 'model artifacts');
  let files: ModelFiles;
  let name = 'model';
  if (typeof source === 'object' && source !== null && 'modelJson' in source) files = source as ModelFiles;
  else {
    if (typeof source !== 'string' || source.trim() === '')
      throw new ValueError(
        `loadModel: expected a path, URL or model files, received ${typeof source === 'string' ? "''" : String(source)}`,
      );
    const h = handlers.find((x) => x.canLoad(source));
    if (!h)
      throw new ValueError(
        `loadModel: no handler for ${JSON.stringify(source)} here (${handlers.map((x) => x.name).join(', ') || 'none registered'}); in Node use a path or file://, in the browser indexeddb:// or {modelJson, weights}`,
      );
    files = await h.load(source);
    name = String(source);
  }
  return artifactsToModel(filesToArtifacts(files, name), name);
}
