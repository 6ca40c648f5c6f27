// Weight initialisers with Keras's names and formulas (uniform variants; fans as Keras computes them).
import type { Rng } from './random.js';
import { ValueError } from './errors.js';

export type InitializerName = 'glorotUniform' | 'heUniform' | 'lecunUniform' | 'zeros' | 'ones';
export const INITIALIZERS: readonly InitializerName[] = ['glorotUniform', 'heUniform', 'lecunUniform', 'zeros', 'ones'];

export function checkInitializer(name: string, layer: string, option: string): InitializerName {
  if (!(INITIALIZERS as readonly string[]).includes(name)) {
    throw new ValueError(`${layer}: ${option} '${name}' is not supported; expected one of ${INITIALIZERS.join(', ')}`);
  }
  return name as InitializerName;
}

export function initialize(out: Float32Array, name: InitializerName, fanIn: number, fanOut: number, rng: Rng): void {
  if (name === 'zeros' || name === 'ones') {
    out.fill(name === 'ones' ? 1 : 0);
    return;
  }
  const scale = name === 'glorotUniform' ? 2 / (fanIn + fanOut) : name === 'heUniform' ? 2 / fanIn : 1 / fanIn;
  const limit = Math.sqrt(3 * scale);
  for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
}
