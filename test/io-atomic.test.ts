// A save that dies half way (while reading the weights, while writing a file, while committing one) leaves
// the previous model at the path complete and loadable, and no temporary files behind.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const fault: { rename?: string; write?: string } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (fault.rename && to.endsWith(fault.rename)) throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
      return fs.rename(from, to);
    },
    // A disk that fills up half way through a file.
    open: async (path: string, flags?: string) => {
      const fh = await fs.open(path, flags);
      if (!fault.write || flags !== 'w' || !path.includes(fault.write)) return fh;
      const write = fh.writeFile.bind(fh);
      fh.writeFile = async (data: string | Uint8Array) => {
        await write(typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1));
        throw Object.assign(new Error('simulated ENOSPC'), { code: 'ENOSPC' });
      };
      return fh;
    },
  };
});

const { Adam, Dense, FileError, loadModel, Sequential, tensor } = await import('../src/node.js');

const make = (seed: number) => {
  const m = new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [4] })], { seed });
  m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(tensor([0.1, 0.2, 0.3, 0.4], [1, 4]), [seed % 3]);
  return m;
};
const x = tensor([0.1, 0.2, 0.3, 0.4], [1, 4]);

async function expectOldModelIntact(d: string, old: InstanceType<typeof Sequential>, filesBefore: string[], jsonBefore: string) {
  expect(readdirSync(d).filter((f) => f.includes('.tmp-'))).toEqual([]);
  expect(readFileSync(join(d, 'model.json'), 'utf8')).toBe(jsonBefore);
  for (const f of filesBefore) expect(readdirSync(d)).toContain(f);
  const back = await loadModel(d);
  expect(back.predict(x).data).toEqual(old.predict(x).data);
  expect(back.getWeights()).toEqual(old.getWeights());
  expect(back.optimizer!.iterations).toBe(1);
}

describe('atomic save', () => {
  const stages: [string, () => void][] = [
    [
      'committing model.json',
      () => {
        fault.rename = 'model.json';
      },
    ],
    [
      'committing the weights',
      () => {
        fault.rename = '.bin';
      },
    ],
    [
      'writing model.json (disk full)',
      () => {
        fault.write = 'model.json';
      },
    ],
    [
      'writing the weights (disk full)',
      () => {
        fault.write = '.weights-';
      },
    ],
    [
      'writing the optimizer state (disk full)',
      () => {
        fault.write = '.optimizer-';
      },
    ],
  ];
  for (const [stage, arm] of stages) {
    it(`a failure while ${stage} leaves the old model intact and no temp files`, async () => {
      const d = mkdtempSync(join(tmpdir(), 'simdcnn-atomic-'));
      const old = make(1),
        next = make(2);
      await old.save(d);
      const before = readdirSync(d),
        json = readFileSync(join(d, 'model.json'), 'utf8');
      arm();
      try {
        const err = await next.save(d).catch((e) => e);
        expect(err).toBeInstanceOf(FileError);
        expect(err.message).toMatch(
          /^save: cannot write '.*(model\.json|\.bin)': (simulated crash \(EIO\)|no space left on device \(ENOSPC\))$/,
        );
      } finally {
        delete fault.rename;
        delete fault.write;
      }
      await expectOldModelIntact(d, old, before, json);
    });
  }

  it('a failure while reading the weights out of the model writes nothing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'simdcnn-atomic-'));
    const old = make(1),
      next = make(2);
    await old.save(d);
    const before = readdirSync(d),
      json = readFileSync(join(d, 'model.json'), 'utf8');
    vi.spyOn(next, 'getWeights').mockImplementation(() => {
      throw new Error('simulated failure in getWeights');
    });
    await expect(next.save(d)).rejects.toThrow(/simulated/);
    expect(readdirSync(d).sort()).toEqual(before.sort());
    await expectOldModelIntact(d, old, before, json);
  });
});
