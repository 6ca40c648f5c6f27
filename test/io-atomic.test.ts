// A save that dies half way leaves the previous model at the path complete and loadable.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

let failRenameOf: string | null = null;
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (failRenameOf && to.endsWith(failRenameOf)) throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
      return fs.rename(from, to);
    },
  };
});

const { Dense, loadModel, Sequential, tensor } = await import('../src/node.js');

describe('atomic save', () => {
  for (const stage of ['model.json', '.bin']) {
    it(`a failure while committing the ${stage} file leaves the old model intact and no temp files`, async () => {
      const d = mkdtempSync(join(tmpdir(), 'simdcnn-atomic-'));
      const make = (seed: number) => new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [4] })], { seed });
      const old = make(1), next = make(2);
      const x = tensor([0.1, 0.2, 0.3, 0.4], [1, 4]);
      await old.save(d);
      failRenameOf = stage;
      await expect(next.save(d)).rejects.toThrow(/simulated crash/);
      failRenameOf = null;
      expect(readdirSync(d).filter((f) => f.includes('.tmp-'))).toEqual([]);
      expect((await loadModel(d)).predict(x).data).toEqual(old.predict(x).data);
    });
  }
});
