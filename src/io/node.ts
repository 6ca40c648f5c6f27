// Models as files in Node: a directory (model.json + weights file + optimizer file) or a model.json path,
// plain or file://. Writes are atomic: each file is written under a temporary name, flushed to disk and
// renamed; the weight files are named by their content hash (model.weights-<hash>.bin), so a new model never
// overwrites the files the old model.json points to; model.json, renamed last, is the commit point. A crash
// at any moment leaves the previous model (or nothing) loadable, never a mix. Files only the replaced model
// used are removed after the commit.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFormatError } from '../errors.js';
import { OPTIMIZER_METADATA_KEY } from './format.js';
import { type ModelFiles, type ModelJson, registerIOHandler, type SaveResult } from './registry.js';

const isFileTarget = (t: unknown): t is string => typeof t === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(t.replace(/^file:\/\//, '')) && !/^(downloads|indexeddb|memory|https?):\/\//.test(t);

function paths(target: string): { dir: string; json: string } {
  const p = resolve(target.startsWith('file://') ? fileURLToPath(target) : target);
  return p.endsWith('.json') ? { dir: dirname(p), json: p } : { dir: p, json: join(p, 'model.json') };
}

const hash = (b: ArrayBuffer) => createHash('sha256').update(new Uint8Array(b)).digest('hex').slice(0, 12);

async function atomicWrite(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Makes the renames durable (best effort: directories cannot be opened for sync on every platform). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* not supported here */ }
}

async function previousFiles(json: string): Promise<string[]> {
  try {
    const old = JSON.parse(await readFile(json, 'utf8')) as ModelJson;
    const files = old.weightsManifest.flatMap((g) => g.paths);
    const opt = (old.userDefinedMetadata?.[OPTIMIZER_METADATA_KEY] as { path?: string } | undefined)?.path;
    return opt ? [...files, opt] : files;
  } catch {
    return [];
  }
}

async function save(files: ModelFiles, target: string): Promise<SaveResult> {
  const { dir, json } = paths(target);
  await mkdir(dir, { recursive: true });
  const weights = Array.isArray(files.weights) ? files.weights : [files.weights];
  const stem = basename(json, '.json');
  const names = weights.map((w) => `${stem}.weights-${hash(w)}.bin`);
  const modelJson: ModelJson = structuredClone(files.modelJson);
  modelJson.weightsManifest = [{ paths: names, weights: files.modelJson.weightsManifest.flatMap((g) => g.weights) }];
  const written: string[] = [...names];
  for (let i = 0; i < weights.length; i++) await atomicWrite(join(dir, names[i]), new Uint8Array(weights[i]));
  if (files.optimizerWeights) {
    const opt = `${stem}.optimizer-${hash(files.optimizerWeights)}.bin`;
    await atomicWrite(join(dir, opt), new Uint8Array(files.optimizerWeights));
    (modelJson.userDefinedMetadata![OPTIMIZER_METADATA_KEY] as { path: string }).path = opt;
    written.push(opt);
  }
  const stale = (await previousFiles(json)).filter((f) => !written.includes(f));
  await syncDir(dir);
  await atomicWrite(json, JSON.stringify(modelJson));
  await syncDir(dir);
  // Only now is the new model in place; weight files only the old one used can go.
  for (const f of stale) if (typeof f === 'string' && /^[^/\\]+\.bin$/.test(f) && f !== basename(json)) await rm(join(dir, f), { force: true });
  return { ...files, modelJson, location: json };
}

async function load(source: unknown): Promise<ModelFiles> {
  const { dir, json } = paths(source as string);
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse(await readFile(json, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(`${json}: ${code ? `cannot read (${code})` : `not valid JSON (${(e as Error).message})`}`);
  }
  if (!modelJson || typeof modelJson !== 'object' || !Array.isArray(modelJson.weightsManifest)) throw new ModelFormatError(`${json}: not a TF.js layers model.json (no weightsManifest)`);
  const read = async (name: unknown) => {
    if (typeof name !== 'string' || name.includes('..')) throw new ModelFormatError(`${json}: bad weight file path ${JSON.stringify(name)}`);
    try {
      const b = await readFile(join(dir, name));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    } catch (e) {
      throw new ModelFormatError(`${join(dir, name)}: cannot read weight file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  const weights: ArrayBuffer[] = [];
  for (const g of modelJson.weightsManifest) for (const p of g?.paths ?? []) weights.push(await read(p));
  const optPath = (modelJson.userDefinedMetadata?.[OPTIMIZER_METADATA_KEY] as { path?: string | null } | undefined)?.path;
  return { modelJson, weights, optimizerWeights: optPath ? await read(optPath) : undefined };
}

registerIOHandler({ name: 'file', canSave: isFileTarget, save, canLoad: isFileTarget, load });
