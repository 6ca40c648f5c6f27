// Issue 10 item 8, saving: a save writes only what it owns and removes only what nothing else names; a failed
// save leaves no orphan weight or temporary file; every failure is a FileError naming the path. Real
// situations where the file system allows them (a file where the folder should be, x.json that is a
// folder); refusals the root user never sees (read-only folder) and a full disk are injected into
// node:fs/promises.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

/** The next open() for writing whose path contains `path` fails with `code` (after writing half, for ENOSPC). */
const fault: { path?: string; code?: string } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (path: string, flags?: string | number) => {
      if (!fault.path || flags !== 'w' || !String(path).includes(fault.path)) return fs.open(path, flags);
      const err = Object.assign(new Error(`${fault.code}: injected, open '${path}'`), { code: fault.code });
      if (fault.code !== 'ENOSPC') throw err;
      const fh = await fs.open(path, flags);
      fh.writeFile = async (data: string | Uint8Array) => {
        await fs.writeFile(path, typeof data === 'string' ? data.slice(0, 10) : data.subarray(0, 10));
        throw err;
      };
      return fh;
    },
  };
});

const { Adam, Dense, FileError, loadModel, Sequential, tensor } = await import('../src/node.js');

const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-save-'));
const x = tensor([0.1, 0.2, 0.3, 0.4], [1, 4]);
const make = (seed: number) => {
  const m = new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [4] })], { seed });
  m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(x, [seed % 3]);
  return m;
};
const listing = (d: string) => readdirSync(d).sort();

async function expectFileError(p: Promise<unknown>, path: string, reason: RegExp) {
  const err = (await p.catch((e) => e)) as InstanceType<typeof FileError>;
  expect(err).toBeInstanceOf(FileError);
  expect(err.path).toBe(path);
  expect(err.message).toContain(`'${path}'`);
  expect(err.message).toMatch(reason);
}

describe('saving', () => {
  it('re-saving into a folder keeps the weight files another JSON there still names (backup.json beside model.json)', async () => {
    const d = dir();
    const old = make(1);
    await old.save(d);
    writeFileSync(join(d, 'backup.json'), readFileSync(join(d, 'model.json')));
    await make(2).save(d);
    const back = await loadModel(join(d, 'backup.json'));
    expect(back.predict(x).data).toEqual(old.predict(x).data);
    // Files that only the replaced model.json named go; those backup.json names stay.
    const named = (j: string) => {
      const o = JSON.parse(readFileSync(join(d, j), 'utf8'));
      return [...o.weightsManifest[0].paths, o.userDefinedMetadata.simdcnnOptimizer.path];
    };
    const second = named('model.json');
    await make(3).save(d);
    expect(listing(d)).toEqual(['backup.json', 'model.json', ...named('backup.json'), ...named('model.json')].sort());
    for (const f of second) expect(listing(d)).not.toContain(f);
  });

  for (const [stage, path] of [
    ['the weights', '.weights-'],
    ['the optimizer state', '.optimizer-'],
    ['model.json', 'model.json'],
  ] as const) {
    it(`a full disk (ENOSPC) while writing ${stage}: FileError naming the file, no orphan .bin or .tmp, the old model intact`, async () => {
      const d = dir();
      const old = make(1);
      await old.save(d);
      const before = listing(d);
      fault.path = path;
      fault.code = 'ENOSPC';
      try {
        const err = await make(2)
          .save(d)
          .catch((e) => e);
        expect(err).toBeInstanceOf(FileError);
        expect(err.code).toBe('ENOSPC');
        expect(err.message).toMatch(
          new RegExp(`^save: cannot write '${d}/.*${path.replace('.', '\\.')}.*': no space left on device \\(ENOSPC\\)$`),
        );
      } finally {
        delete fault.path;
      }
      expect(listing(d)).toEqual(before);
      expect((await loadModel(d)).predict(x).data).toEqual(old.predict(x).data);
    });
  }

  it('a read-only folder (EACCES, EROFS): FileError naming the file, nothing left behind', async () => {
    for (const code of ['EACCES', 'EROFS']) {
      const d = dir();
      fault.path = d;
      fault.code = code;
      try {
        const err = await make(1)
          .save(d)
          .catch((e) => e);
        expect(err).toBeInstanceOf(FileError);
        expect(err.code).toBe(code);
        expect(err.message).toMatch(code === 'EACCES' ? /permission denied \(EACCES\)$/ : /read-only file system \(EROFS\)$/);
        expect(err.path).toMatch(new RegExp(`^${d}/model\\.weights-[0-9a-f]{12}\\.bin$`));
      } finally {
        delete fault.path;
      }
      expect(readdirSync(d)).toEqual([]);
    }
  });

  it('a file where the folder should be, and x.json that is a folder: FileError naming the path, nothing written', async () => {
    const d = dir();
    const file = join(d, 'plain.txt');
    writeFileSync(file, 'not a folder');
    await expectFileError(make(1).save(file), file, /a file is in the way \((EEXIST|ENOTDIR)\)/);
    await expectFileError(make(1).save(join(file, 'model')), join(file, 'model'), /a file is in the way of a folder \(ENOTDIR\)/);
    mkdirSync(join(d, 'x.json'));
    await expectFileError(make(1).save(join(d, 'x.json')), join(d, 'x.json'), /it is a folder/);
    expect(listing(d)).toEqual(['plain.txt', 'x.json']);
    expect(readdirSync(join(d, 'x.json'))).toEqual([]);
  });

  it('saving identical weights twice keeps the shared content-named file, even when the second save fails', async () => {
    const d = dir();
    const m = make(1);
    await m.save(d);
    const before = listing(d);
    fault.path = 'model.json';
    fault.code = 'ENOSPC';
    try {
      await expect(m.save(d)).rejects.toThrow(FileError);
    } finally {
      delete fault.path;
    }
    expect(listing(d)).toEqual(before);
    expect((await loadModel(d)).getWeights()).toEqual(m.getWeights());
  });
});
