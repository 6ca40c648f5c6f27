// The layer registry (tfjs-layers' registerClass): each layer file registers its class under its TF.js
// class name and aliases; model files, the worker and the exports find layers only through it.
import { ValueError } from '../errors.js';
import type { LayerClass } from './layer.js';

const classes = new Map<string, LayerClass>();

export function registerLayer(cls: LayerClass, opts: { aliases?: string[] } = {}): void {
  for (const name of [cls.className, ...(opts.aliases ?? [])]) {
    const have = classes.get(name);
    if (have && have !== cls) throw new ValueError(`registerLayer: '${name}' is already registered to another class`);
    classes.set(name, cls);
  }
}

export function getLayerClass(name: string): LayerClass | undefined {
  return classes.get(name);
}

/** Every registered TF.js class name (aliases excluded), for messages. */
export function layerClassNames(): string[] {
  return [...new Set([...classes.values()].map((c) => c.className))].sort();
}

type Callable<C extends abstract new (...a: never[]) => unknown> = C & ((...a: ConstructorParameters<C>) => InstanceType<C>);

/** Lets a class be used as in TF.js code, with or without `new`: Conv2D({...}) or new Conv2D({...}). */
export function callable<C extends new (...a: never[]) => unknown>(cls: C): Callable<C> {
  return new Proxy(cls, { apply: (target, _this, args) => new target(...(args as never[])) }) as Callable<C>;
}
