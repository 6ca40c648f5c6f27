// Bytes of a data file from wherever it is: a URL (fetch, in Node and browsers), a File or Blob, bytes
// already in memory, or a file path (Node only: src/data/node-files.ts registers the reader). Every read
// is capped before the bytes are held: a declared size (Content-Length, Blob.size, the file's size) over
// the cap is refused up front, and a body that keeps coming is cut off at the cap. gzip is undone the
// same way, with the size the decompressed header declares checked before the output is allocated.
// Browser-safe.
import { DataError, FileError } from '../errors.js';

export type DataSource = string | URL | Blob | ArrayBuffer | ArrayBufferView;

/** Largest data file read by default: 2 GiB (a typed array's comfortable limit; CIFAR-10 is 30 MB a file). */
export const DEFAULT_MAX_BYTES = 2 ** 31 - 1;

export type PathReader = (path: string, maxBytes: number) => Promise<Uint8Array>;
let pathReader: PathReader | undefined;
/** Node's file reader (paths and file: URLs) plugs in here (src/data/node-files.ts), keeping this module free of Node imports. */
export function setPathReader(r: PathReader): void {
  pathReader = r;
}

const isUrl = (s: string) => /^(https?|blob|data):/i.test(s);

/** Whether an error says the file is not there (so a loader may try another name, e.g. with .gz). */
export const isNotFound = (e: unknown) => e instanceof FileError && (e.code === 'ENOENT' || e.code === 'HTTP 404');

/** The first of `names` (in folder `base`) that exists, read; FileError naming all of them when none does. */
export async function readFirst(base: string | URL, names: string[], maxBytes: number): Promise<{ bytes: Uint8Array; name: string }> {
  for (const n of names) {
    const name = joinSource(base, n);
    try {
      return { bytes: await readSource(name, maxBytes), name };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  const where = joinSource(base, '');
  throw new FileError(`${where}: none of ${names.join(', ')} is there`, where, 'ENOENT');
}

/** A name for messages: the path, the URL, the File's name. */
export function sourceName(src: DataSource): string {
  if (typeof src === 'string') return src;
  if (src instanceof URL) return src.href;
  if (typeof Blob !== 'undefined' && src instanceof Blob) return (src as File).name || 'Blob';
  return 'bytes';
}

/** Joins a folder (path or URL) and a file name. */
export function joinSource(base: string | URL, name: string): string {
  const b = typeof base === 'string' ? base : base.href;
  if (isUrl(b)) return new URL(name, b.endsWith('/') ? b : `${b}/`).href;
  return `${b.replace(/[\\/]+$/, '')}/${name}`;
}

/** The bytes of a source, at most maxBytes of them. */
export async function readSource(src: DataSource, maxBytes = DEFAULT_MAX_BYTES): Promise<Uint8Array> {
  const name = sourceName(src);
  if (src instanceof URL) src = src.href;
  if (typeof src === 'string' && isUrl(src)) return fetchBytes(src, maxBytes);
  if (typeof src === 'string') {
    if (!pathReader) throw new DataError(`${src}: file paths can be read in Node only; in a browser pass a URL, a File or a Blob`);
    return pathReader(src, maxBytes);
  }
  if (typeof Blob !== 'undefined' && src instanceof Blob) {
    if (src.size > maxBytes) throw new DataError(`${name}: ${src.size} bytes is more than the ${maxBytes} allowed`);
    return new Uint8Array(await src.arrayBuffer());
  }
  const bytes =
    src instanceof ArrayBuffer
      ? new Uint8Array(src)
      : ArrayBuffer.isView(src)
        ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength)
        : undefined;
  if (!bytes)
    throw new DataError(`expected a path, URL, File, Blob or bytes as a data source, received ${src === null ? 'null' : typeof src}`);
  if (bytes.length > maxBytes) throw new DataError(`${name}: ${bytes.length} bytes is more than the ${maxBytes} allowed`);
  return bytes;
}

async function fetchBytes(url: string, maxBytes: number): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new FileError(`${url}: cannot fetch (${(e as Error).message})`, url);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new FileError(`${url}: the server answered ${res.status} ${res.statusText}`.trimEnd(), url, `HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length'));
  // With Content-Encoding the header counts compressed bytes; the cap below still holds for the body.
  if (!res.headers.get('content-encoding') && declared > maxBytes) {
    await res.body?.cancel();
    throw new DataError(`${url}: ${declared} bytes is more than the ${maxBytes} allowed`);
  }
  if (!res.body) return new Uint8Array(0);
  try {
    return await collect(res.body.getReader(), url, () => maxBytes, 'bytes');
  } catch (e) {
    throw e instanceof DataError ? e : new DataError(`${url}: the download failed (${(e as Error).message})`);
  }
}

/**
 * Reads a stream into one array. `limit(head)` sees the first bytes (at least `headBytes` of them, or all
 * if the stream is shorter) and returns how many the data may have: the read stops with a DataError as
 * soon as more arrive, so no more than that is ever held. Errors of the stream itself propagate as they are.
 */
async function collect(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  name: string,
  limit: (head: Uint8Array) => number,
  what: string,
  headBytes = 0,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0,
    cap = Infinity;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
      if (cap === Infinity && total >= headBytes) cap = limit(concat(chunks, total));
      if (total > cap) throw new DataError(`${name}: more than the ${cap} ${what} allowed`);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  }
  if (cap === Infinity) limit(concat(chunks, total)); // a stream shorter than the header still gets judged
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  chunks.splice(0, chunks.length, out);
  return out;
}

export const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Undoes gzip with DecompressionStream (Node 18+, browsers). `limit(head)` judges the first `headBytes`
 * decompressed bytes and returns how many the file may have (throwing a DataError if the header is bad);
 * output beyond that stops the decompression.
 */
export async function gunzip(bytes: Uint8Array, name: string, limit: (head: Uint8Array) => number, headBytes: number): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined')
    throw new DataError(`${name}: this engine has no DecompressionStream to undo gzip; decompress the file first`);
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  try {
    return await collect(stream.getReader(), name, limit, 'decompressed bytes', headBytes);
  } catch (e) {
    throw e instanceof DataError ? e : new DataError(`${name}: not a valid gzip file, or a truncated one (${(e as Error).message})`);
  }
}
