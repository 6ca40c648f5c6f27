// Issue 10 items 2-3 and the loader half of 8: a hostile model folder. Every route is a ModelFormatError
// that names the file, refused before the offending file is opened (fs open calls are recorded), with
// nothing left allocated: files named thousands of times, sparse giants, symlinks to /dev/zero or to
// secrets elsewhere, FIFOs, symlinked sub-directories, absurd optimizer metadata, deeply nested JSON.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const opened: string[] = [];
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (path: string, flags?: string | number) => {
      opened.push(String(path));
      return fs.open(path, flags);
    },
  };
});

const { Adam, currentBackend, Dense, loadModel, ModelFormatError, Sequential, tensor, ValueError } = await import('../src/node.js');

const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-hostile-'));
const x = tensor([0.1, 0.2, 0.3, 0.4], [1, 4]);

/** A small trained model saved to a fresh folder; returns the folder, its model.json and the weight file's name. */
async function saved(optimizer = true) {
  const d = dir();
  const m = new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [4] })], { seed: 1 });
  if (optimizer) {
    m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(x, [1]);
  }
  await m.save(d);
  const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
  const p = m.predict(x).data;
  m.dispose();
  return { d, json, bin: json.weightsManifest[0].paths[0] as string, p };
}
const rewrite = (d: string, json: unknown) => writeFileSync(join(d, 'model.json'), JSON.stringify(json));

/** loadModel must refuse with a ModelFormatError matching msg, open none of `never`, and keep nothing allocated. */
async function refused(source: Parameters<typeof loadModel>[0], msg: RegExp, never: string[] = []) {
  const before = currentBackend().allocatedBytes;
  opened.length = 0;
  const err = await loadModel(source).catch((e) => e);
  expect(err).toBeInstanceOf(ModelFormatError);
  expect(err.message).toMatch(msg);
  for (const f of never)
    expect(
      opened.filter((o) => o.includes(f)),
      `${f} must not be opened`,
    ).toEqual([]);
  expect(currentBackend().allocatedBytes).toBe(before);
}

describe('loadModel on a hostile folder', () => {
  it('a 1 KB model.json naming one 8 MB weights file 2,000 times is refused from the sizes alone (the file is never opened)', async () => {
    const s = await saved();
    writeFileSync(join(s.d, 'big.bin'), Buffer.alloc(8 * 2 ** 20));
    s.json.weightsManifest[0].paths = Array(2000).fill('big.bin');
    rewrite(s.d, s.json);
    await refused(s.d, /hold 16777216000 bytes, its weights need 60 \(truncated or mismatched/, ['big.bin']);
    // The same list handed over in memory (e.g. from IndexedDB) is refused before any concatenation.
    const big = new ArrayBuffer(8 * 2 ** 20);
    await refused({ modelJson: s.json, weights: Array(2000).fill(big) }, /describes 60 bytes but the weight data holds 16777216000/);
  });

  it('a file named twice in the manifest is read once', async () => {
    const d = dir();
    const m = new Sequential([new Dense({ units: 4, inputShape: [1] })], { seed: 0 }); // kernel [1,4] and bias [4]: 16 bytes each
    m.setWeights([
      [1, 2, 3, 4],
      [1, 2, 3, 4],
    ]);
    await m.save(d);
    const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    writeFileSync(join(d, 'half.bin'), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    json.weightsManifest[0].paths = ['half.bin', 'half.bin'];
    rewrite(d, json);
    opened.length = 0;
    const back = await loadModel(d);
    expect(back.getWeights()).toEqual([new Float32Array([1, 2, 3, 4]), new Float32Array([1, 2, 3, 4])]);
    expect(opened.filter((o) => o.endsWith('half.bin'))).toHaveLength(1);
    back.dispose();
    m.dispose();
  });

  it('a sparse 1.9 GB weights file is refused from its size, before a byte is read', async () => {
    const s = await saved();
    const fd = openSync(join(s.d, s.bin), 'r+');
    execFileSync('truncate', ['-s', String(1.9e9), join(s.d, s.bin)]);
    closeSync(fd);
    const rss = process.memoryUsage().rss;
    await refused(s.d, /hold 1900000000 bytes, its weights need 60/, [s.bin]);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 2 ** 20);
  });

  it('a weights file that is a symlink to /dev/zero is refused without opening it (no endless read)', async () => {
    const s = await saved();
    symlinkSync('/dev/zero', join(s.d, 'zero.bin'));
    s.json.weightsManifest[0].paths = ['zero.bin'];
    rewrite(s.d, s.json);
    await refused(s.d, /zero\.bin: the weight file is a symbolic link/, ['zero.bin']);
  });

  it('a weights file or model.json that is a FIFO is refused before opening (no hang)', async () => {
    const s = await saved();
    execFileSync('mkfifo', [join(s.d, 'fifo.bin')]);
    s.json.weightsManifest[0].paths = ['fifo.bin'];
    rewrite(s.d, s.json);
    await refused(s.d, /fifo\.bin: the weight file is not a regular file \(a FIFO\)/, ['fifo.bin']);
    const d = dir();
    execFileSync('mkfifo', [join(d, 'model.json')]);
    await refused(d, /model\.json: the model\.json is not a regular file \(a FIFO\)/, ['model.json']);
    const z = dir();
    symlinkSync('/dev/zero', join(z, 'model.json'));
    await refused(z, /model\.json: the model\.json is a symbolic link/, ['model.json']);
  });

  it('a weights file symlinked to a secrets file elsewhere is refused (its bytes never become weights)', async () => {
    const s = await saved();
    const secrets = join(dir(), 'secrets.txt');
    writeFileSync(secrets, 'x'.repeat(60)); // exactly the size the weights need
    symlinkSync(secrets, join(s.d, 'w.bin'));
    s.json.weightsManifest[0].paths = ['w.bin'];
    rewrite(s.d, s.json);
    await refused(s.d, /w\.bin: the weight file is a symbolic link/, ['secrets', 'w.bin']);
  });

  it('a weights file behind a symlinked sub-directory is refused; one in a real sub-directory loads', async () => {
    const s = await saved(false);
    const outside = dir();
    writeFileSync(join(outside, 'w.bin'), readFileSync(join(s.d, s.bin)));
    symlinkSync(outside, join(s.d, 'sub'));
    s.json.weightsManifest[0].paths = ['sub/w.bin'];
    rewrite(s.d, s.json);
    await refused(s.d, /sub\/w\.bin: the weight file is reached through a symbolic link \(it is really .*w\.bin\)/, ['w.bin']);
    mkdirSync(join(s.d, 'real'));
    writeFileSync(join(s.d, 'real', 'w.bin'), readFileSync(join(s.d, s.bin)));
    s.json.weightsManifest[0].paths = ['real/w.bin'];
    rewrite(s.d, s.json);
    const back = await loadModel(s.d);
    expect(back.predict(x).data).toEqual(s.p);
    back.dispose();
    for (const bad of ['../w.bin', '/etc/passwd', 'real/../../w.bin', '', 7]) {
      s.json.weightsManifest[0].paths = [bad];
      rewrite(s.d, s.json);
      await refused(s.d, /bad weight file path|leads out of the model folder/);
    }
  });

  it('optimizer metadata: slots 5e7 with floatsPerSlot 0, slots 2^32, negative or fractional integers, a layout that does not match the model: ModelFormatError, nothing read', async () => {
    const s = await saved();
    const meta = s.json.userDefinedMetadata.simdcnnOptimizer;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ slots: 5e7, floatsPerSlot: 0 }, /slots must be an integer in \[0, 3\], received 50000000/],
      [{ slots: 2 ** 32 }, /slots must be an integer in \[0, 3\], received 4294967296/],
      [{ slots: -1 }, /slots must be an integer/],
      [{ floatsPerSlot: 1.5 }, /floatsPerSlot must be an integer/],
      [{ floatsPerSlot: 2 ** 40 }, /floatsPerSlot must be an integer in \[0, 1073741824\]/],
      [{ iterations: -3 }, /iterations must be an integer/],
      [{ iterations: '7' }, /iterations must be an integer/],
      [{ floatsPerSlot: 64 }, /floatsPerSlot 64 does not match the model's parameter layout \(32 floats\)/],
      [{ slots: 0 }, /do not describe one state file/],
      [{ className: 5 }, /className must be a string/],
      [{ config: { learningRate: 'fast' } }, /config must map names to finite numbers/],
      [{ path: 12 }, /path must be a file name or null/],
    ];
    for (const [change, msg] of cases) {
      rewrite(s.d, { ...s.json, userDefinedMetadata: { ...s.json.userDefinedMetadata, simdcnnOptimizer: { ...meta, ...change } } });
      await refused(s.d, msg, ['.bin']);
    }
    // The same checks for model files handed over in memory.
    const files = {
      modelJson: { ...s.json, userDefinedMetadata: { simdcnnOptimizer: { ...meta, slots: 5e7, floatsPerSlot: 0 } } },
      weights: readFileSync(join(s.d, s.bin)),
    };
    await refused(files, /slots must be an integer in \[0, 3\]/);
  });

  it('TF.js optimizer weights larger than any optimizer of this architecture keeps are refused before reading', async () => {
    const s = await saved(false);
    s.json.weightsManifest[0].weights.push({ name: 'dense/kernel/m', shape: [100000, 1000], dtype: 'float32', group: 'optimizer' });
    rewrite(s.d, s.json);
    await refused(s.d, /lists 400000000 bytes of optimizer weights; a model with 15 parameters has at most 184/, ['.bin']);
  });

  it('deeply nested or circular JSON is a ModelFormatError, not a RangeError, from files and from memory', async () => {
    const s = await saved();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    writeFileSync(join(s.d, 'model.json'), `{"modelTopology": ${deep}, "weightsManifest": []}`);
    await refused(s.d, /nested more than 64 levels deep/);
    writeFileSync(
      join(s.d, 'model.json'),
      JSON.stringify({ ...s.json, userDefinedMetadata: { note: 0 } }).replace('"note":0', `"note":${deep}`),
    );
    await refused(s.d, /nested more than 64 levels deep/);
    const loop: Record<string, unknown> = { class_name: 'Sequential' };
    loop.config = loop;
    await refused(
      { modelJson: { ...s.json, modelTopology: loop }, weights: new ArrayBuffer(60) },
      /nested more than 64 levels deep \(or refers to itself\)/,
    );
    await refused({ modelTopology: loop, weightSpecs: [], weightData: new ArrayBuffer(0) }, /refers to itself/);
  });

  it("loadModel('') and save('') are refused; nothing is written to the current folder", async () => {
    await expect(loadModel('')).rejects.toThrow(ValueError);
    const m = new Sequential([new Dense({ units: 2, inputShape: [2] })]);
    await expect(m.save('')).rejects.toThrow(/save: target must be a path or URL string, received ''/);
    await expect(m.save('  ')).rejects.toThrow(ValueError);
    m.dispose();
  });
});
