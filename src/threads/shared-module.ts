// The shared-memory variant of a build, made from its bytes at run time instead of shipping a third and
// fourth wasm file: the module's own memory (section 5) becomes an import "env"."memory" of a shared memory
// with the same initial size and wasm32's full 65,536 pages as its maximum. The kernels use no atomics and
// allocate nothing, so the code is the same; only where the memory comes from changes.

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const KIND_MEMORY = 2;
const LIMITS_SHARED_MAX = 3;
export const SHARED_MAX_PAGES = 65536;

function readLeb(b: Uint8Array, at: number): [number, number] {
  let v = 0,
    shift = 0,
    byte: number;
  do {
    byte = b[at++];
    v += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [v, at];
}

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

const name = (s: string) => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

interface Section {
  id: number;
  body: Uint8Array;
}

/** The module with its one defined memory turned into an imported shared memory. */
export function sharedMemoryModule(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const sections: Section[] = [];
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at];
    const [size, body] = readLeb(bytes, at + 1);
    sections.push({ id, body: bytes.subarray(body, body + size) });
    at = body + size;
  }
  const mem = sections.findIndex((s) => s.id === SECTION_MEMORY);
  if (mem < 0) throw new Error('shared memory: the module defines no memory');
  const [count, limitsAt] = readLeb(sections[mem].body, 0);
  if (count !== 1) throw new Error(`shared memory: the module defines ${count} memories, expected 1`);
  const [initial] = readLeb(sections[mem].body, limitsAt + 1);
  const entry = [...name('env'), ...name('memory'), KIND_MEMORY, LIMITS_SHARED_MAX, ...leb(initial), ...leb(SHARED_MAX_PAGES)];
  sections.splice(mem, 1);
  const imp = sections.findIndex((s) => s.id === SECTION_IMPORT);
  if (imp >= 0) {
    const [n, rest] = readLeb(sections[imp].body, 0);
    sections[imp].body = Uint8Array.from([...leb(n + 1), ...sections[imp].body.subarray(rest), ...entry]);
  } else {
    // Imports follow the type section (id 1) and any custom sections before it.
    let at = 0;
    while (at < sections.length && (sections[at].id === 0 || sections[at].id === 1)) at++;
    sections.splice(at, 0, { id: SECTION_IMPORT, body: Uint8Array.from([...leb(1), ...entry]) });
  }
  const parts: number[][] = sections.map((s) => [s.id, ...leb(s.body.length)]);
  const total = 8 + sections.reduce((t, s, i) => t + parts[i].length + s.body.length, 0);
  const out = new Uint8Array(new ArrayBuffer(total));
  out.set(bytes.subarray(0, 8));
  let at = 8;
  sections.forEach((s, i) => {
    out.set(parts[i], at);
    out.set(s.body, at + parts[i].length);
    at += parts[i].length + s.body.length;
  });
  return out;
}
