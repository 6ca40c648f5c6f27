// The relaxed build ships as a patch against the plain one (scripts/wasm-diff.mjs writes it, src/wasm-patch.ts
// applies it). The embedded strings rebuild both builds byte for byte; the diff round-trips edits of every kind;
// a damaged patch throws an Error, never reads outside its inputs or returns a wrong length.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JS, without types
import { diff } from '../scripts/wasm-diff.mjs';
import { relaxedBytes, relaxedPatchBase64, simdBase64 } from '../src/generated/wasm-bytes.js';
import { applyPatch } from '../src/wasm-patch.js';
import { mulberry32 } from './reference.js';

const makeDiff = diff as (src: Uint8Array, dst: Uint8Array) => Uint8Array;
const rand = mulberry32(11);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const simd = new Uint8Array(readFileSync('build/simdcnn.wasm'));
const relaxed = new Uint8Array(readFileSync('build/simdcnn-relaxed.wasm'));
const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** src with `count` random edits: replaced, inserted and deleted runs of 1-40 bytes. */
function edited(src: Uint8Array, count: number): Uint8Array {
  const b = Array.from(src);
  for (let k = 0; k < count; k++) {
    const len = 1 + Math.floor(rand() * 40);
    const kind = k % 3; // 0 replaces, 1 deletes, 2 inserts
    b.splice(Math.floor(rand() * b.length), kind === 2 ? 0 : len, ...(kind === 1 ? [] : randomBytes(len)));
  }
  return Uint8Array.from(b);
}

describe('wasm patch', () => {
  it('the embedded strings rebuild build/simdcnn.wasm and build/simdcnn-relaxed.wasm byte for byte', () => {
    const plain = new Uint8Array(Buffer.from(simdBase64, 'base64'));
    expect(equal(plain, simd)).toBe(true);
    const patch = new Uint8Array(Buffer.from(relaxedPatchBase64, 'base64'));
    expect(equal(applyPatch(plain, patch, relaxedBytes), relaxed)).toBe(true);
    // The point of the patch: a small fraction of a second build.
    expect(patch.length).toBeLessThan(relaxed.length / 5);
  });

  const cases: [string, Uint8Array, Uint8Array][] = [
    ['both empty', new Uint8Array(0), new Uint8Array(0)],
    ['empty source, 1,009 new bytes', new Uint8Array(0), randomBytes(1009)],
    ['7 bytes to empty', randomBytes(7), new Uint8Array(0)],
    ['unrelated 4,099 and 3,001 bytes', randomBytes(4099), randomBytes(3001)],
    ['65,537 equal bytes to 70,001 equal bytes', new Uint8Array(65_537).fill(3), new Uint8Array(70_001).fill(3)],
    [
      '20,011 random bytes with 60 edits',
      ...(() => {
        const s = randomBytes(20_011);
        return [s, edited(s, 60)] as const;
      })(),
    ],
    ['the wasm build with 200 edits', simd, edited(simd, 200)],
    ['the relaxed build back to the plain one', relaxed, simd],
  ];
  for (const [name, src, dst] of cases)
    it(`${name}: applyPatch(src, diff(src, dst)) equals dst`, () => {
      expect(equal(applyPatch(src, makeDiff(src, dst), dst.length), dst)).toBe(true);
    });

  it('a wrong expected size throws, both ways', () => {
    const patch = makeDiff(simd, relaxed);
    expect(() => applyPatch(simd, patch, relaxed.length - 1)).toThrow(`more than the expected ${relaxed.length - 1} bytes`);
    expect(() => applyPatch(simd, patch, relaxed.length + 1)).toThrow(`${relaxed.length} bytes where ${relaxed.length + 1} were expected`);
  });

  it('the patch truncated at 300 points: each throws', () => {
    const patch = makeDiff(simd, relaxed);
    for (let k = 0; k < 300; k++) {
      const cut = Math.floor((patch.length * k) / 300);
      expect(() => applyPatch(simd, patch.subarray(0, cut), relaxed.length), `cut at ${cut}`).toThrow(Error);
    }
  });

  it('a copy from outside the source throws naming it', () => {
    // One copy op: 5 bytes (head 11) from cursor + 2 (zigzag 4) of a 6-byte source.
    expect(() => applyPatch(new Uint8Array(6), Uint8Array.of(11, 4), 5)).toThrow('a copy of bytes 2..7 from a 6-byte source');
    // Zigzag 3 is -2: before the source's first byte.
    expect(() => applyPatch(new Uint8Array(6), Uint8Array.of(11, 3), 5)).toThrow('a copy of bytes -2..3 from a 6-byte source');
    expect(() => applyPatch(new Uint8Array(6), Uint8Array.of(255, 255, 255, 255, 1), 5)).toThrow('a number longer than 4 bytes');
  });

  it('500 patches with one damaged byte: each throws an Error or returns exactly the expected length', () => {
    const patch = makeDiff(simd, relaxed);
    let thrown = 0;
    for (let k = 0; k < 500; k++) {
      const bad = Uint8Array.from(patch);
      bad[Math.floor(rand() * bad.length)] ^= 1 + Math.floor(rand() * 255);
      try {
        expect(applyPatch(simd, bad, relaxed.length).length).toBe(relaxed.length);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        thrown++;
      }
    }
    // Damage inside a literal run or a copy that stays in range is only caught later, by WebAssembly.validate.
    expect(thrown).toBeGreaterThan(50);
  });
});
