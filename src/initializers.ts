// Weight initialisers as TF.js has them: its string identifiers, its classes and their config (the form
// getConfig writes: glorot/he/lecun are VarianceScaling), read back from TF.js and Keras files, and the
// values drawn with TF.js's formulas (VarianceScaling's 'normal' is TF.js's truncated normal with stddev
// sqrt(scale), without Keras's 0.88 correction, which Keras's 'truncated_normal' keeps) from the model's
// seeded generator, or from the initialiser's own seed when its config gives one.
import { ValueError } from './errors.js';
import { Rng } from './random.js';

export type InitializerName =
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heUniform'
  | 'heNormal'
  | 'lecunUniform'
  | 'lecunNormal'
  | 'leCunUniform'
  | 'leCunNormal'
  | 'truncatedNormal'
  | 'randomNormal'
  | 'randomUniform'
  | 'varianceScaling'
  | 'orthogonal'
  | 'identity'
  | 'zeros'
  | 'ones'
  | 'constant';

/** An initialiser as TF.js's getConfig writes it (camelCase; the file form is its snake_case). */
export interface InitializerConfig {
  className: string;
  config: Record<string, unknown>;
}

/** What layers keep and WeightSpec carries: the initialiser in TF.js's config form, every option filled in. */
export type Initializer = InitializerConfig;

type Fill = (out: Float32Array, c: Record<string, unknown>, fanIn: number, fanOut: number, rng: Rng, shape: number[]) => void;

interface Kind {
  className: string;
  /** TF.js's string identifiers (and Keras's snake_case ones) for it. */
  names: string[];
  /** Class names files may carry for it (Keras 2/3 spellings). */
  aliases?: string[];
  /** The full config from a partial one (defaults as TF.js sets them); throws on bad values. */
  config(c: Record<string, unknown>, where: string): Record<string, unknown>;
  fill: Fill;
}

const num = (c: Record<string, unknown>, k: string, d: number, where: string): number => {
  const v = c[k] ?? d;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ValueError(`${where}: ${k} must be a finite number, received ${JSON.stringify(v)}`);
  return v;
};
/** { seed } when the config has one (TF.js writes no seed key unless one was given; the glorot family writes null). */
const seedOf = (c: Record<string, unknown>, where: string): { seed?: number | null } => {
  const s = c.seed;
  if (s === undefined) return {};
  if (s !== null && (typeof s !== 'number' || !Number.isFinite(s)))
    throw new ValueError(`${where}: seed must be a number or null, received ${JSON.stringify(s)}`);
  return { seed: s as number | null };
};

/** A standard normal draw (Box-Muller on two uniforms; the first uniform kept away from 0). */
function normal(rng: Rng): number {
  const u = 1 - rng.uniform(),
    v = rng.uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
/** TF.js's truncated normal: draws beyond two standard deviations are drawn again. */
function truncated(rng: Rng): number {
  for (;;) {
    const z = normal(rng);
    if (Math.abs(z) <= 2) return z;
  }
}

const uniformFill = (out: Float32Array, lo: number, hi: number, rng: Rng) => {
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * rng.uniform();
};

const MODES = ['fanIn', 'fanOut', 'fanAvg'];
const DISTRIBUTIONS = ['normal', 'uniform', 'truncatedNormal', 'untruncatedNormal'];

function varianceConfig(c: Record<string, unknown>, where: string): Record<string, unknown> {
  const scale = num(c, 'scale', 1, where);
  if (!(scale > 0)) throw new ValueError(`${where}: scale must be a positive number, received ${scale}`);
  const mode = c.mode ?? 'fanIn',
    distribution = c.distribution ?? 'normal';
  if (!MODES.includes(mode as string)) throw new ValueError(`${where}: mode ${JSON.stringify(mode)} is not one of ${MODES.join(', ')}`);
  if (!DISTRIBUTIONS.includes(distribution as string))
    throw new ValueError(`${where}: distribution ${JSON.stringify(distribution)} is not one of ${DISTRIBUTIONS.join(', ')}`);
  return { scale, mode, distribution, ...seedOf(c, where) };
}

const varianceFill: Fill = (out, c, fanIn, fanOut, rng) => {
  const fan = c.mode === 'fanIn' ? fanIn : c.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
  const scale = (c.scale as number) / Math.max(1, fan);
  if (c.distribution === 'uniform') {
    const limit = Math.sqrt(3 * scale);
    for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
    return;
  }
  // Keras's truncated_normal corrects for the truncation (the stddev of a standard normal cut at 2).
  const stddev = Math.sqrt(scale) / (c.distribution === 'truncatedNormal' ? 0.8796256610342398 : 1);
  const draw = c.distribution === 'untruncatedNormal' ? normal : truncated;
  for (let i = 0; i < out.length; i++) out[i] = stddev * draw(rng);
};

/** Orthogonal (Saxe et al.): Q of the QR of a normal matrix, columns signed by R's diagonal, times gain. */
const orthogonalFill: Fill = (out, c, _i, _o, rng, shape) => {
  if (shape.length < 2) throw new ValueError(`the Orthogonal initializer needs a weight of rank 2 or more, received [${shape}]`);
  const cols = shape[shape.length - 1],
    rows = out.length / cols;
  const m = Math.max(rows, cols),
    n = Math.min(rows, cols);
  // Modified Gram-Schmidt on the n columns of an m x n normal matrix, in float64.
  const q = Array.from({ length: n }, () => Float64Array.from({ length: m }, () => normal(rng)));
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += q[k][i] * q[j][i];
      for (let i = 0; i < m; i++) q[j][i] -= d * q[k][i];
    }
    let s = 0;
    for (let i = 0; i < m; i++) s += q[j][i] * q[j][i];
    const inv = 1 / Math.sqrt(s); // R's diagonal is positive here, so Q needs no sign flips
    for (let i = 0; i < m; i++) q[j][i] *= inv;
  }
  const gain = c.gain as number;
  // rows >= cols: out[r][k] = Q[r][k]; otherwise Q transposed.
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[r * cols + k] = gain * (rows >= cols ? q[k][r] : q[r][k]);
};

const randomConfig = (c: Record<string, unknown>, where: string, stddev: number) => {
  const s = num(c, 'stddev', stddev, where);
  if (!(s >= 0)) throw new ValueError(`${where}: stddev must be >= 0, received ${s}`);
  return { mean: num(c, 'mean', 0, where), stddev: s, ...seedOf(c, where) };
};
const normalFill =
  (draw: (r: Rng) => number): Fill =>
  (out, c, _i, _o, rng) => {
    for (let i = 0; i < out.length; i++) out[i] = (c.mean as number) + (c.stddev as number) * draw(rng);
  };

const variance = (className: string, names: string[], scale: number, mode: string, distribution: string, aliases?: string[]): Kind => ({
  className,
  names,
  aliases,
  config: (c, where) => ({ className: 'VarianceScaling', ...varianceConfig({ scale, mode, distribution, seed: c.seed ?? null }, where) }),
  fill: varianceFill,
});

const KINDS: Kind[] = [
  { className: 'Zeros', names: ['zeros'], config: () => ({}), fill: (out) => out.fill(0) },
  { className: 'Ones', names: ['ones'], config: () => ({}), fill: (out) => out.fill(1) },
  {
    className: 'Constant',
    names: ['constant'],
    config: (c, where) => {
      if (c.value === undefined)
        throw new ValueError(`${where}: Constant needs a value, e.g. {className: 'Constant', config: {value: 0.1}}`);
      return { value: num(c, 'value', 0, where) };
    },
    fill: (out, c) => out.fill(c.value as number),
  },
  {
    className: 'RandomUniform',
    names: ['randomUniform', 'random_uniform'],
    config: (c, where) => ({ minval: num(c, 'minval', -0.05, where), maxval: num(c, 'maxval', 0.05, where), ...seedOf(c, where) }),
    fill: (out, c, _i, _o, rng) => uniformFill(out, c.minval as number, c.maxval as number, rng),
  },
  {
    className: 'RandomNormal',
    names: ['randomNormal', 'random_normal'],
    config: (c, where) => randomConfig(c, where, 0.05),
    fill: normalFill(normal),
  },
  {
    className: 'TruncatedNormal',
    names: ['truncatedNormal', 'truncated_normal'],
    config: (c, where) => randomConfig(c, where, 0.05),
    fill: normalFill(truncated),
  },
  { className: 'VarianceScaling', names: ['varianceScaling', 'variance_scaling'], config: varianceConfig, fill: varianceFill },
  variance('GlorotUniform', ['glorotUniform', 'glorot_uniform'], 1, 'fanAvg', 'uniform'),
  variance('GlorotNormal', ['glorotNormal', 'glorot_normal'], 1, 'fanAvg', 'normal'),
  variance('HeUniform', ['heUniform', 'he_uniform'], 2, 'fanIn', 'uniform'),
  variance('HeNormal', ['heNormal', 'he_normal'], 2, 'fanIn', 'normal'),
  variance('LeCunUniform', ['leCunUniform', 'lecunUniform', 'lecun_uniform'], 1, 'fanIn', 'uniform', ['LecunUniform']),
  variance('LeCunNormal', ['leCunNormal', 'lecunNormal', 'lecun_normal'], 1, 'fanIn', 'normal', ['LecunNormal']),
  {
    className: 'Orthogonal',
    names: ['orthogonal'],
    config: (c, where) => ({ gain: num(c, 'gain', 1, where), ...seedOf(c, where) }),
    fill: orthogonalFill,
  },
  {
    className: 'Identity',
    names: ['identity'],
    config: (c, where) => ({ gain: num(c, 'gain', 1, where) }),
    fill: (out, c, _i, _o, _r, shape) => {
      if (shape.length !== 2 || shape[0] !== shape[1])
        throw new ValueError(`the Identity initializer needs a square 2-D weight, received [${shape}]`);
      out.fill(0);
      for (let i = 0; i < shape[0]; i++) out[i * shape[0] + i] = c.gain as number;
    },
  },
];

const NAMES = KINDS.map((k) => k.names[0]);
const byName = (v: string) => KINDS.find((k) => k.names.includes(v));
const byClass = (v: string) => KINDS.find((k) => k.className === v || k.aliases?.includes(v));

/** The kind a normalised initialiser runs (VarianceScaling for the glorot/he/lecun family). */
const kindOf = (init: Initializer) => byClass(init.className)!;

/** An initialiser from a name ('heNormal') or a TF.js/Keras config -> the full TF.js config; throws naming the layer. */
export function checkInitializer(v: unknown, layer: string, option: string, fallback: InitializerName): Initializer {
  const where = `${layer}: ${option}`;
  if (v === undefined || v === null) return checkInitializer(fallback, layer, option, fallback);
  let kind: Kind | undefined, config: Record<string, unknown>;
  if (typeof v === 'string') {
    kind = byName(v) ?? byClass(v);
    if (!kind) throw new ValueError(`${where} '${v}' is not supported; expected one of ${NAMES.join(', ')}`);
    config = {};
  } else if (typeof v === 'object' && typeof (v as InitializerConfig).className === 'string') {
    const c = v as InitializerConfig;
    kind = byClass(c.className);
    if (!kind)
      throw new ValueError(
        `${where}: initializer class '${c.className}' is not supported; expected one of ${KINDS.map((k) => k.className).join(', ')}`,
      );
    config = c.config ?? {};
    if (typeof config !== 'object') throw new ValueError(`${where}: config must be an object, received ${JSON.stringify(config)}`);
  } else {
    throw new ValueError(`${where} must be an initializer name or {className, config}, received ${JSON.stringify(v)}`);
  }
  const full = kind.config(config, where);
  const { className = kind.className, ...rest } = full as { className?: string };
  return { className, config: rest };
}

/** The TF.js config of an initialiser (a copy). */
export const initializerConfig = (init: Initializer): InitializerConfig => ({ className: init.className, config: { ...init.config } });

/** Fills `out` (weight `name` of `shape`) as the initialiser does; its own seed, when set, instead of rng. */
export function initialize(
  out: Float32Array,
  init: Initializer,
  fanIn: number,
  fanOut: number,
  rng: Rng,
  shape: number[],
  name: string,
): void {
  const seed = init.config.seed;
  try {
    kindOf(init).fill(out, init.config, fanIn, fanOut, typeof seed === 'number' ? new Rng(seed) : rng, shape);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${name}: ${e.message}`);
    throw e;
  }
}

/** TF.js's tf.initializers: initializers.heNormal({seed: 1}), initializers.constant({value: 0.1}), ... as configs a layer option takes. */
export const initializers = Object.fromEntries(
  KINDS.map((k) => [
    k.names[0],
    (config: Record<string, unknown> = {}): InitializerConfig => ({ className: k.className, config: { ...config } }),
  ]),
) as Record<Exclude<InitializerName, 'lecunUniform' | 'lecunNormal'>, (config?: Record<string, unknown>) => InitializerConfig>;
