// Data files from the file system, read as hostile: opened without blocking (a FIFO cannot hang the
// read), checked to be a regular file by fstat on the very descriptor that is read, size-capped before a
// byte is held, read to exactly the size fstat gave. Inside image folders symbolic links are not followed
// at all (noFollow); a path the user names directly may be a link to a regular file. Node only.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DataError, FileError } from '../errors.js';
import { setPathReader } from './source.js';

const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

const kind = (s: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }) =>
  s.isDirectory() ? 'a folder' : s.isFIFO() ? 'a FIFO' : s.isSocket() ? 'a socket' : 'a device';

export interface ReadOptions {
  /** Refuse a symbolic link instead of following it. */
  noFollow?: boolean;
  /** Read at most this many bytes from the start (a header); the file may be longer. */
  prefix?: number;
}

/** The bytes of a regular file, at most maxBytes (DataError beyond); FileError when it cannot be opened. */
export async function readDataFile(path: string, maxBytes: number, opts: ReadOptions = {}): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, FLAGS | (opts.noFollow ? NO_FOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new DataError(`${path}: a symbolic link; links inside a data folder are not followed`);
    throw new FileError(`${path}: cannot open (${code ?? (e as Error).message})`, path, code);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DataError(`${path}: not a regular file (${kind(st)})`);
    const want = opts.prefix === undefined ? st.size : Math.min(st.size, opts.prefix);
    if (opts.prefix === undefined && st.size > maxBytes)
      throw new DataError(`${path}: ${st.size} bytes is more than the ${maxBytes} allowed`);
    const buf = new Uint8Array(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < want) throw new DataError(`${path}: the file shrank while it was read (${got} of ${want} bytes)`);
    return buf;
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(`${path}: cannot read (${code ?? (e as Error).message})`, path, code);
  } finally {
    await fh.close();
  }
}

setPathReader((path, maxBytes) => readDataFile(path.startsWith('file:') ? fileURLToPath(path) : path, maxBytes));
