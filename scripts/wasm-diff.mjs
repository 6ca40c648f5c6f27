// Writes the patch that turns one wasm build into the other (src/wasm-patch.ts applies it). The two builds differ
// only where relaxed SIMD replaces an instruction sequence, so the patch is ~10 KB where the build is ~120 KB.
// Format: ops until the end. Each op starts with a varint h: h odd = copy h >> 1 bytes from the source, at the
// cursor plus a zigzag varint that follows; h even = h >> 1 literal bytes follow. A copy moves the cursor to its
// end; literals advance it by their length (a replaced run keeps the next copy's offset at 0).

/** The shortest source match worth a copy op; shorter runs are written as literals. */
const MIN_COPY = 8;
/** Source positions kept per 8-byte key: bounds the search on long runs of equal bytes. */
const MAX_CANDIDATES = 64;

function varint(out, v) {
  for (; v >= 128; v = Math.floor(v / 128)) out.push((v % 128) | 128);
  out.push(v);
}

/** A patch (Uint8Array) such that applyPatch(src, patch, dst.length) equals dst. */
export function diff(src, dst) {
  const key = (b, i) => Buffer.from(b.buffer, b.byteOffset + i, MIN_COPY).toString('latin1');
  const index = new Map();
  for (let i = 0; i + MIN_COPY <= src.length; i++) {
    const k = key(src, i);
    const list = index.get(k) ?? index.set(k, []).get(k);
    if (list.length < MAX_CANDIDATES) list.push(i);
  }
  const out = [];
  let literal = [];
  const flush = () => {
    if (literal.length === 0) return;
    varint(out, literal.length * 2);
    out.push(...literal);
    literal = [];
  };
  let cursor = 0;
  for (let i = 0; i < dst.length;) {
    let best = 0;
    let from = -1;
    const candidates = i + MIN_COPY <= dst.length ? [cursor, ...(index.get(key(dst, i)) ?? [])] : [];
    for (const s of candidates) {
      let len = 0;
      while (s + len < src.length && i + len < dst.length && src[s + len] === dst[i + len]) len++;
      if (len > best) [best, from] = [len, s];
    }
    if (best < MIN_COPY) {
      literal.push(dst[i++]);
      cursor++;
      continue;
    }
    flush();
    varint(out, best * 2 + 1);
    const delta = from - cursor;
    varint(out, delta >= 0 ? delta * 2 : -delta * 2 - 1);
    cursor = from + best;
    i += best;
  }
  flush();
  return Uint8Array.from(out);
}
