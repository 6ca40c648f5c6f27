// The user's classes and their example pictures (SIZE x SIZE RGB bytes each), and how they become the
// training and validation data: a seeded 20% of each class (when it has 5 or more) is held out.
import type { TrainData, TrainSplit } from '../../../src/browser/protocol.js';
import { UserError } from '../store.js';
import { INPUT_SHAPE } from './net.js';

export const MIN_CLASSES = 2;
export const MAX_CLASSES = 5;
export const MAX_EXAMPLES = 400;
const PIXELS = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2];

export interface Example {
  id: number;
  pixels: Uint8Array;
}
export interface OwnClass {
  id: number;
  name: string;
  examples: Example[];
}

const DEFAULT_NAMES = ['Class A', 'Class B', 'Class C', 'Class D', 'Class E'];

export class ClassSet {
  readonly classes: OwnClass[] = [];
  /** Called after every change (add, remove, rename, new examples). */
  onChange: () => void = () => {};
  private nextId = 1;

  get(id: number): OwnClass {
    const c = this.classes.find((k) => k.id === id);
    if (!c) throw new UserError('That class was removed.');
    return c;
  }

  add(name?: string): OwnClass {
    if (this.classes.length >= MAX_CLASSES) throw new UserError(`At most ${MAX_CLASSES} classes: remove one to add another.`);
    const taken = new Set(this.classes.map((c) => c.name));
    const c: OwnClass = {
      id: this.nextId++,
      name: name ?? DEFAULT_NAMES.find((n) => !taken.has(n)) ?? `Class ${this.nextId}`,
      examples: [],
    };
    this.classes.push(c);
    this.onChange();
    return c;
  }

  remove(id: number): void {
    const i = this.classes.findIndex((c) => c.id === id);
    if (i >= 0) this.classes.splice(i, 1);
    this.onChange();
  }

  rename(id: number, name: string): void {
    this.get(id).name = name.trim();
    this.onChange();
  }

  /** Adds a picture's bytes to the class; false when the class is full. */
  addExample(id: number, pixels: Uint8Array, notify = true): boolean {
    if (pixels.length !== PIXELS) throw new Error(`an example has ${PIXELS} bytes, received ${pixels.length}`);
    const c = this.get(id);
    if (c.examples.length >= MAX_EXAMPLES) return false;
    c.examples.push({ id: this.nextId++, pixels });
    if (notify) this.onChange();
    return true;
  }

  removeExample(id: number, exampleId: number): void {
    const c = this.get(id);
    c.examples = c.examples.filter((e) => e.id !== exampleId);
    this.onChange();
  }

  get total(): number {
    return this.classes.reduce((s, c) => s + c.examples.length, 0);
  }

  /** Why these classes cannot be trained yet, or null. */
  problem(): string | null {
    if (this.classes.length < MIN_CLASSES)
      return `Add at least ${MIN_CLASSES} classes to train (you have ${this.classes.length}): a classifier needs something to tell apart.`;
    const names = this.classes.map((c) => c.name);
    if (names.some((n) => !n)) return 'Every class needs a name.';
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) return `Two classes are called “${dup}”: give each class its own name.`;
    const empty = this.classes.filter((c) => c.examples.length === 0);
    if (empty.length)
      return `${empty.map((c) => `“${c.name || 'unnamed'}”`).join(', ')} ${empty.length > 1 ? 'have' : 'has'} no pictures yet: add some from the webcam or by uploading images, or remove ${empty.length > 1 ? 'them' : 'it'}.`;
    return null;
  }

  /** Pixels in [0, 1]; 20% of each class with 5+ examples held out for validation (seeded). */
  trainingData(seed = 1): TrainData & { names: string[] } {
    const problem = this.problem();
    if (problem) throw new UserError(problem);
    let s = seed >>> 0 || 1;
    const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
    const train: { c: number; p: Uint8Array }[] = [];
    const val: { c: number; p: Uint8Array }[] = [];
    this.classes.forEach((k, c) => {
      const order = k.examples.map((e) => e.pixels);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const held = order.length >= 5 ? Math.round(order.length * 0.2) : 0;
      order.forEach((p, i) => (i < held ? val : train).push({ c, p }));
    });
    const split = (list: { c: number; p: Uint8Array }[]): TrainSplit => {
      const x = new Float32Array(list.length * PIXELS);
      const y = new Uint8Array(list.length);
      list.forEach(({ c, p }, i) => {
        y[i] = c;
        for (let j = 0; j < PIXELS; j++) x[i * PIXELS + j] = p[j] / 255;
      });
      return { x, y, shape: [list.length, ...INPUT_SHAPE] };
    };
    return { ...split(train), validation: val.length ? split(val) : undefined, names: this.classes.map((c) => c.name) };
  }
}
