// Issue 10 item 7: `simdcnn predict` checks sizes before it spends anything: the image's width and height
// from the PNG header before decoding (default 4096x4096, --max-image-size raises it), the model's declared
// input likewise before any activation exists; a zero-width PNG says so.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AvgPool2D, Conv2D, DataError, Dense, Flatten, Sequential, ValueError } from '../src/node.js';
import { checkImageSize, DEFAULT_IMAGE_LIMIT, parseImageLimit, pngSize } from '../src/image.js';

// The built CLI (npm test builds first): a tsx start-up per case would cost seconds.
const cli = resolve(import.meta.dirname, '../lib/cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-cli-limits-'));

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A PNG whose header claims width x height (8-bit grey) with `rows` rows of real pixel data. */
function png(width: number, height: number, rows = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const idat = deflateSync(Buffer.alloc(rows * (width + 1)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('image and model size limits', () => {
  it('pngSize reads the header; checkImageSize and parseImageLimit enforce and parse the limit', () => {
    expect(pngSize(png(30000, 30000), 'bomb.png')).toEqual({ width: 30000, height: 30000 });
    expect(png(30000, 30000).length).toBeLessThan(70);
    expect(() => checkImageSize({ width: 30000, height: 30000 }, DEFAULT_IMAGE_LIMIT, 'bomb.png', '--max-image-size')).toThrow(
      /bomb\.png is 30000x30000 pixels, more than the 4096x4096 allowed/,
    );
    expect(() => checkImageSize({ width: 4096, height: 4097 }, DEFAULT_IMAGE_LIMIT, 'x', 'f')).toThrow(DataError);
    checkImageSize({ width: 4096, height: 4096 }, DEFAULT_IMAGE_LIMIT, 'x', 'f');
    expect(() => pngSize(png(0, 28), 'zero.png')).toThrow(
      /zero\.png: the PNG is 0x28 pixels; an image needs a width and a height of at least 1/,
    );
    expect(() => pngSize(Buffer.from('hello world, not a png file'), 'x')).toThrow(/no PNG signature/);
    expect(parseImageLimit('8192', 'f')).toEqual({ width: 8192, height: 8192 });
    expect(parseImageLimit('640x480', 'f')).toEqual({ width: 640, height: 480 });
    for (const bad of ['0', '-5', 'big', '10x', '1e9x2']) expect(() => parseImageLimit(bad, '--max-image-size')).toThrow(ValueError);
  });

  it('simdcnn predict: a 69-byte PNG claiming 30000x30000, a zero-width PNG, a FIFO, and a model declaring a 30000x30000 input are refused before decoding or predicting', async () => {
    const d = dir();
    const small = new Sequential(
      [new Conv2D({ filters: 2, kernelSize: 3, inputShape: [28, 28, 1] }), new Flatten(), new Dense({ units: 10, activation: 'softmax' })],
      { seed: 0 },
    );
    await small.save(join(d, 'small'));
    const huge = new Sequential(
      [
        new Conv2D({ filters: 2, kernelSize: 1, inputShape: [30000, 30000, 1] }),
        new AvgPool2D({ poolSize: 30000 }),
        new Flatten(),
        new Dense({ units: 10, activation: 'softmax' }),
      ],
      { seed: 0 },
    );
    await huge.save(join(d, 'huge'));
    writeFileSync(join(d, 'bomb.png'), png(30000, 30000));
    writeFileSync(join(d, 'zero.png'), png(0, 28));
    writeFileSync(join(d, 'ok.png'), png(28, 28, 28));
    execFileSync('mkfifo', [join(d, 'fifo.png')]);
    const cases: [string[], RegExp][] = [
      [
        ['predict', '--model', join(d, 'small'), join(d, 'bomb.png')],
        /bomb\.png is 30000x30000 pixels, more than the 4096x4096 allowed; raise the limit with --max-image-size/,
      ],
      [
        ['predict', '--model', join(d, 'small'), join(d, 'bomb.png'), '--max-image-size', '40000x20000'],
        /bomb\.png is 30000x30000 pixels, more than the 40000x20000 allowed/,
      ],
      [['predict', '--model', join(d, 'small'), join(d, 'zero.png')], /zero\.png: the PNG is 0x28 pixels/],
      [['predict', '--model', join(d, 'small'), join(d, 'fifo.png')], /fifo\.png: not a regular file/],
      [
        ['predict', '--model', join(d, 'huge'), join(d, 'ok.png')],
        /the model's input \(.*huge\) is 30000x30000 pixels, more than the 4096x4096 allowed/,
      ],
      [
        ['predict', '--model', join(d, 'small'), join(d, 'ok.png'), '--max-image-size', 'big'],
        /--max-image-size must be N or WIDTHxHEIGHT/,
      ],
    ];
    for (const [args, msg] of cases) {
      const r = run(args);
      expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const ok = run(['predict', '--model', join(d, 'small'), join(d, 'ok.png')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok\.png: \d \(probability/);
    small.dispose();
    huge.dispose();
  }, 120_000);
});
