// Weight initialisers with Keras's names and formulas (uniform variants; fans as Keras computes them), and
// their TF.js config form both ways.
import type { Rng } from './random.js';
import { ValueError } from './errors.js';

export type InitializerName = 'glorotUniform' | 'heUniform' | 'lecunUniform' | 'zeros' | 'ones';
export const INITIALIZERS: readonly InitializerName[] = ['glorotUniform', 'heUniform', 'lecunUniform', 'zeros', 'ones'];

/** An initialiser as TF.js's getConfig writes it (camelCase; the file form is its snake_case). */
export interface InitializerConfig {
  className: string;
  config: Record<string, unknown>;
}

/**
 * A name ('glorotUniform') or a TF.js initialiser config -> ours. Configs simdcnn cannot reproduce (normal
 * distributions, orthogonal, ...) fall back to `fallback`: they only matter before weights are loaded.
 */
export function checkInitializer(v: unknown, layer: string, option: string, fallback: InitializerName): InitializerName {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') {
    if (!(INITIALIZERS as readonly string[]).includes(v))
      throw new ValueError(`${layer}: ${option} '${v}' is not supported; expected one of ${INITIALIZERS.join(', ')}`);
    return v as InitializerName;
  }
  if (typeof v !== 'object' || typeof (v as InitializerConfig).className !== 'string') {
    throw new ValueError(`${layer}: ${option} must be an initialiser name or {className, config}, received ${JSON.stringify(v)}`);
  }
  const { className, config = {} } = v as InitializerConfig;
  switch (className) {
    case 'Zeros':
      return 'zeros';
    case 'Ones':
      return 'ones';
    case 'GlorotUniform':
      return 'glorotUniform';
    case 'HeUniform':
      return 'heUniform';
    case 'LecunUniform':
    case 'LeCunUniform':
      return 'lecunUniform';
    case 'VarianceScaling':
      if (config.distribution === 'uniform' && config.mode === 'fanIn')
        return config.scale === 2 ? 'heUniform' : config.scale === 1 ? 'lecunUniform' : fallback;
      return config.distribution === 'uniform' && config.mode === 'fanAvg' && config.scale === 1 ? 'glorotUniform' : fallback;
    default:
      return fallback;
  }
}

/** Ours -> TF.js's config, in the form both tfjs-layers and Keras read (tfjs has no 'LecunUniform', Keras no 'LeCunUniform'). */
export function initializerConfig(name: InitializerName): InitializerConfig {
  switch (name) {
    case 'zeros':
      return { className: 'Zeros', config: {} };
    case 'ones':
      return { className: 'Ones', config: {} };
    case 'heUniform':
      return { className: 'HeUniform', config: { seed: null } };
    case 'lecunUniform':
      return { className: 'VarianceScaling', config: { scale: 1, mode: 'fanIn', distribution: 'uniform', seed: null } };
    default:
      return { className: 'GlorotUniform', config: { seed: null } };
  }
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
