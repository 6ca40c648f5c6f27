// Rebuilds the relaxed wasm build from the plain one and a patch (scripts/wasm-diff.mjs has the format), so the
// package embeds one build plus ~10 KB instead of two builds. Every field is checked: a damaged bundle throws,
// never reads outside its inputs or returns short output.

/** out = src patched; throws Error saying what is inconsistent. */
export function applyPatch(src: Uint8Array, patch: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(size));
  let p = 0;
  const varint = () => {
    let v = 0;
    for (let scale = 1; scale < 2 ** 28; scale *= 128) {
      if (p >= patch.length) throw new Error('the patch ends inside an op');
      const b = patch[p++];
      v += (b & 127) * scale;
      if (b < 128) return v;
    }
    throw new Error(`a number longer than 4 bytes at patch byte ${p}`);
  };
  let n = 0;
  let cursor = 0;
  while (p < patch.length) {
    const head = varint();
    const len = Math.floor(head / 2);
    if (n + len > size) throw new Error(`more than the expected ${size} bytes`);
    if (head % 2 === 0) {
      if (p + len > patch.length) throw new Error('the patch ends inside a literal run');
      out.set(patch.subarray(p, p + len), n);
      p += len;
      cursor += len;
    } else {
      const z = varint();
      const from = cursor + (z % 2 ? -(z + 1) / 2 : z / 2);
      if (from < 0 || from + len > src.length) throw new Error(`a copy of bytes ${from}..${from + len} from a ${src.length}-byte source`);
      out.set(src.subarray(from, from + len), n);
      cursor = from + len;
    }
    n += len;
  }
  if (n !== size) throw new Error(`${n} bytes where ${size} were expected`);
  return out;
}
