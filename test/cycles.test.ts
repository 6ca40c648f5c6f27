// No import cycles between simdcnn's modules, checked on the compiled lib/ (type-only imports are gone there,
// as at run time). A cycle makes module order depend on the entry and rollup warns about it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const lib = resolve(import.meta.dirname, '../lib');
const IMPORT = /\b(?:import|export)\s*(?:[\w*{}\s,$]*?\bfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? (e.name === 'cjs' ? [] : jsFiles(p)) : e.name.endsWith('.js') ? [p] : [];
  });
}

/** Every cycle found by depth-first search, as module paths relative to lib/. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

it('findCycles reports a cycle and passes a tree', () => {
  expect(
    findCycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    ),
  ).toEqual([['a', 'b', 'c', 'a']]);
  expect(
    findCycles(
      new Map([
        ['a', ['b', 'c']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
  ).toEqual([]);
});

it('lib/ has no import cycles', () => {
  expect(existsSync(join(lib, 'index.js')), 'lib/ is missing: npm run build').toBe(true);
  const graph = new Map<string, string[]>();
  for (const f of jsFiles(lib)) {
    const deps = [...readFileSync(f, 'utf8').matchAll(IMPORT)].map((m) => relative(lib, resolve(dirname(f), m[1] ?? m[2])));
    graph.set(relative(lib, f), deps);
  }
  expect(graph.size).toBeGreaterThan(20);
  expect(graph.get('engine/model.js')).toContain('backend.js'); // the scan sees real imports
  expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
});
