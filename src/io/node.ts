// Models as files in Node: a directory (model.json + weights file + optimizer file) or a model.json path,
// plain or file://.
//
// Saving is atomic: each file is written under a temporary name, flushed to disk and renamed; the weight
// files are named after the JSON and their content hash (model.weights-<hash>.bin), so a new model never
// overwrites the files the old model.json points to; model.json, renamed last, is the commit point. A
// crash at any moment leaves the previous model (or nothing) loadable, never a mix; a failed save removes
// the files it created. After the commit, files only the replaced model used are removed, unless another
// JSON in the folder still names them. Errors are FileErrors naming the path.
//
// Loading treats the folder as hostile: every file is lstat-ed first and must be a regular file whose real
// path lies inside the model folder (no symlinks, FIFOs or devices: refused before opening), every size is
// checked against what the architecture declares before a byte is read, a file named twice is read once,
// and reads stop at the size the check accepted.
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileError, ModelFormatError } from '../errors.js';
import { checkJsonTree, declaredSizes, OPT_KEY, optimizerMeta } from './format.js';
import { type ModelFiles, type ModelJson, registerIOHandler, type SaveResult } from './registry.js';

const isFileTarget = (t: unknown): t is string =>
  typeof t === 'string' &&
  !/^[a-z][a-z0-9+.-]*:\/\//i.test(t.replace(/^file:\/\//, '')) &&
  !/^(downloads|indexeddb|memory|https?):\/\//.test(t);

function paths(target: string): { dir: string; json: string } {
  // 'file://./dir' is how TF.js users write a relative folder (tfjs-node strips the scheme); URL parsing would
  // read '.' as a host and throw, so only absolute file URLs go through fileURLToPath.
  const rest = target.startsWith('file://') ? target.slice('file://'.length) : undefined;
  const p = resolve(rest === undefined ? target : rest.startsWith('/') ? fileURLToPath(target) : rest);
  return p.endsWith('.json') ? { dir: dirname(p), json: p } : { dir: p, json: join(p, 'model.json') };
}

/** A model.json larger than this is not a model.json (topologies are kilobytes). */
const MAX_JSON_BYTES = 64 * 2 ** 20;
// O_NOFOLLOW and O_NONBLOCK: a symlink swapped in after the lstat fails to open, a FIFO opens without waiting.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'a folder is in the way',
  ENOTDIR: 'a file is in the way of a folder',
  EEXIST: 'a file is in the way',
};
function fileError(what: string, path: string, e: unknown): FileError {
  const c = code(e);
  return new FileError(`${what} '${path}': ${(c && REASONS[c]) || (e as Error).message}${c ? ` (${c})` : ''}`, path, c);
}

// ------------------------------------------------------------------------------------------------ reading

interface Found {
  path: string;
  stat: Stats;
}

/** A file the model folder names, checked without opening it: a plain name inside the folder, a regular file, no symlink on the way. */
async function find(root: string, name: unknown, json: string, what: string): Promise<Found> {
  if (typeof name !== 'string' || name === '' || name.includes('\0') || isAbsolute(name))
    throw new ModelFormatError(`${json}: bad ${what} path ${JSON.stringify(name)}`);
  const path = resolve(root, name);
  if (!path.startsWith(root + sep))
    throw new ModelFormatError(`${json}: ${what} path ${JSON.stringify(name)} leads out of the model folder`);
  let stat: Stats, real: string;
  try {
    stat = await lstat(path);
    real = await realpath(path);
  } catch (e) {
    throw new ModelFormatError(`${path}: cannot read${what === 'model.json' ? '' : ` ${what}`} (${code(e) ?? (e as Error).message})`);
  }
  if (stat.isSymbolicLink())
    throw new ModelFormatError(`${path}: the ${what} is a symbolic link; model files must be regular files inside the model folder`);
  if (real !== path)
    throw new ModelFormatError(
      `${path}: the ${what} is reached through a symbolic link (it is really ${real}); model files must be regular files inside the model folder`,
    );
  if (!stat.isFile())
    throw new ModelFormatError(
      `${path}: the ${what} is not a regular file (a ${stat.isDirectory() ? 'folder' : stat.isFIFO() ? 'FIFO' : 'device or socket'})`,
    );
  return { path, stat };
}

/** Exactly the bytes lstat counted, from the very file lstat saw. */
async function readExactly({ path, stat }: Found, what: string): Promise<Uint8Array<ArrayBuffer>> {
  const fail = (why: string) => new ModelFormatError(`${path}: ${what} ${why}`);
  let fh;
  try {
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    throw fail(`cannot be opened (${code(e) ?? (e as Error).message})`);
  }
  try {
    const now = await fh.stat();
    if (!now.isFile() || now.ino !== stat.ino || now.dev !== stat.dev) throw fail('was replaced while it was being opened');
    const buf = new Uint8Array(new ArrayBuffer(stat.size));
    let at = 0;
    while (at < buf.length) {
      const { bytesRead } = await fh.read(buf, at, buf.length - at, at);
      if (bytesRead === 0) throw fail(`shrank while it was read (${at} of ${buf.length} bytes)`);
      at += bytesRead;
    }
    if ((await fh.read(new Uint8Array(1), 0, 1, at)).bytesRead > 0) throw fail(`grew while it was read (beyond ${at} bytes)`);
    return buf;
  } finally {
    await fh.close();
  }
}

async function load(source: unknown): Promise<ModelFiles> {
  const { dir, json: given } = paths(source as string);
  let root: string;
  try {
    root = await realpath(dir);
  } catch (e) {
    throw new ModelFormatError(`${given}: cannot read (${code(e) ?? (e as Error).message})`);
  }
  const jsonFile = await find(root, basename(given), given, 'model.json');
  if (jsonFile.stat.size > MAX_JSON_BYTES)
    throw new ModelFormatError(`${given}: ${jsonFile.stat.size} bytes is too large for a model.json (at most ${MAX_JSON_BYTES})`);
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse(new TextDecoder().decode(await readExactly(jsonFile, 'model.json')));
  } catch (e) {
    throw e instanceof ModelFormatError ? e : new ModelFormatError(`${given}: not valid JSON (${(e as Error).message})`);
  }
  if (!modelJson || typeof modelJson !== 'object' || !Array.isArray(modelJson.weightsManifest))
    throw new ModelFormatError(`${given}: not a TF.js layers model.json (no weightsManifest)`);
  checkJsonTree(modelJson, given);
  const sizes = declaredSizes(modelJson, given);
  // Every file is found and measured before any is read.
  const found = new Map<string, Found>();
  const locate = async (name: unknown, what: string) => {
    const f = await find(root, name, given, what);
    const seen = found.get(f.path);
    if (seen && seen.stat.ino !== f.stat.ino) throw new ModelFormatError(`${f.path}: changed while the model was being loaded`);
    found.set(f.path, seen ?? f);
    return f.path;
  };
  const groups: string[][] = [];
  for (const [i, g] of modelJson.weightsManifest.entries()) {
    const names = await Promise.all(g.paths.map((p) => locate(p, 'weight file')));
    const bytes = names.reduce((s, p) => s + found.get(p)!.stat.size, 0);
    if (bytes !== sizes.groups[i])
      throw new ModelFormatError(
        `${given}: the weight files of weightsManifest[${i}] (${g.paths.join(', ')}) hold ${bytes} bytes, its weights need ${sizes.groups[i]} (truncated or mismatched weight file)`,
      );
    groups.push(names);
  }
  const meta = optimizerMeta(modelJson.userDefinedMetadata, given);
  let optimizer: string | undefined;
  if (meta?.path) {
    optimizer = await locate(meta.path, 'optimizer file');
    const bytes = found.get(optimizer)!.stat.size;
    if (bytes !== sizes.optimizerBytes)
      throw new ModelFormatError(
        `${optimizer}: the optimizer file holds ${bytes} bytes, its manifest says ${meta.slots} x ${meta.floatsPerSlot} floats (${sizes.optimizerBytes} bytes)`,
      );
  }
  const data = new Map<string, ArrayBuffer>();
  for (const [path, f] of found) data.set(path, (await readExactly(f, path === optimizer ? 'optimizer file' : 'weight file')).buffer);
  return { modelJson, weights: groups.flat().map((p) => data.get(p)!), optimizerWeights: optimizer ? data.get(optimizer) : undefined };
}

// ------------------------------------------------------------------------------------------------ saving

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
    await rm(tmp, { force: true }).catch(() => {});
    throw fileError('save: cannot write', file, e);
  }
}

/** Makes the renames durable (best effort: directories cannot be opened for sync on every platform). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}

/** The files a model.json in the folder names, or none if it is missing, not a regular file or not a model. */
async function namedFiles(json: string): Promise<string[]> {
  try {
    const st = await lstat(json);
    if (!st.isFile() || st.size > MAX_JSON_BYTES) return [];
    const j = JSON.parse(new TextDecoder().decode(await readExactly({ path: json, stat: st }, 'model.json'))) as ModelJson;
    const files = j.weightsManifest.flatMap((g) => g.paths);
    const opt = (j.userDefinedMetadata?.[OPT_KEY] as { path?: unknown } | undefined)?.path;
    return [...files, opt].filter((f): f is string => typeof f === 'string');
  } catch {
    return [];
  }
}

/** Files some other JSON in the folder still names (a copy such as backup.json): never removed. */
async function namedElsewhere(dir: string, json: string): Promise<Set<string>> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json') && join(dir, f) !== json);
  return new Set((await Promise.all(names.map((f) => namedFiles(join(dir, f))))).flat());
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function save(files: ModelFiles, target: string): Promise<SaveResult> {
  const { dir, json } = paths(target);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw fileError('save: cannot create the folder', dir, e);
  }
  const there = await lstat(json).catch(() => undefined);
  if (there && !there.isFile())
    throw new FileError(
      `save: cannot write '${json}': ${there.isDirectory() ? 'it is a folder' : 'it is not a regular file'}`,
      json,
      there.isDirectory() ? 'EISDIR' : undefined,
    );
  const weights = Array.isArray(files.weights) ? files.weights : [files.weights];
  const stem = basename(json, '.json');
  const names = weights.map((w) => `${stem}.weights-${hash(w)}.bin`);
  const modelJson: ModelJson = structuredClone(files.modelJson);
  modelJson.weightsManifest = [{ paths: names, weights: files.modelJson.weightsManifest.flatMap((g) => g.weights) }];
  const contents = new Map(names.map((n, i) => [n, new Uint8Array(weights[i])]));
  if (files.optimizerWeights) {
    const opt = `${stem}.optimizer-${hash(files.optimizerWeights)}.bin`;
    (modelJson.userDefinedMetadata![OPT_KEY] as { path: string }).path = opt;
    contents.set(opt, new Uint8Array(files.optimizerWeights));
  }
  const previous = await namedFiles(json);
  const created: string[] = [];
  try {
    for (const [name, bytes] of contents) {
      const path = join(dir, name);
      if (!(await exists(path))) created.push(path);
      await atomicWrite(path, bytes);
    }
    await syncDir(dir);
    await atomicWrite(json, JSON.stringify(modelJson));
  } catch (e) {
    // Content-named files that existed before belong to someone else; only the new ones go.
    for (const p of created) await rm(p, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(dir);
  // Only now is the new model in place; files only the old one used can go.
  const keep = await namedElsewhere(dir, json);
  for (const f of previous) {
    if (!contents.has(f) && !keep.has(f) && /^[^/\\]+\.bin$/.test(f)) await rm(join(dir, f), { force: true }).catch(() => {});
  }
  return { ...files, modelJson, location: json };
}

registerIOHandler({ name: 'file', canSave: isFileTarget, save, canLoad: isFileTarget, load });
