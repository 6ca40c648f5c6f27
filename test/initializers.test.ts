// Initializers as in TF.js: every string identifier gives TF.js's config (glorot/he/lecun written as
// VarianceScaling), values follow TF.js's formulas (bounds, moments; compared with TF.js's own draws of
// the same shapes), orthogonal is orthogonal, seeds fix values, configs move both ways, bad ones throw.
import { beforeAll, describe, expect, it } from 'vitest';
import { Conv2D, Dense, Flatten, initializers, loadModel, type ModelArtifacts, Sequential, ValueError } from '../src/node.js';
import { tf, tfjsArtifacts, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const NAMES = [
  'zeros',
  'ones',
  'glorotUniform',
  'glorotNormal',
  'heUniform',
  'heNormal',
  'leCunUniform',
  'leCunNormal',
  'truncatedNormal',
  'randomNormal',
  'randomUniform',
  'varianceScaling',
  'orthogonal',
] as const;

/** The kernel a Dense(units) of `inUnits` inputs gets with this initializer (model seed `seed`). */
function denseKernel(init: unknown, inUnits: number, units: number, seed = 1): Float32Array {
  const m = new Sequential([new Dense({ units, inputShape: [inUnits], kernelInitializer: init as never })], { seed });
  const w = m.getWeights()[0];
  m.dispose();
  return w;
}
const moments = (w: ArrayLike<number>) => {
  let s = 0,
    q = 0,
    mx = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i];
    q += w[i] * w[i];
    mx = Math.max(mx, Math.abs(w[i]));
  }
  const mean = s / w.length;
  return { mean, std: Math.sqrt(q / w.length - mean * mean), max: mx };
};

describe('initializer configs as TF.js writes them', () => {
  for (const name of NAMES) {
    it(`'${name}' on Dense and Conv2D: TF.js's getConfig`, () => {
      expect(new Dense({ units: 3, kernelInitializer: name }).getConfig().kernelInitializer).toEqual(
        tf.layers.dense({ units: 3, kernelInitializer: name }).getConfig().kernelInitializer,
      );
      expect(new Conv2D({ filters: 2, kernelSize: 3, biasInitializer: name }).getConfig().biasInitializer).toEqual(
        tf.layers.conv2d({ filters: 2, kernelSize: 3, biasInitializer: name }).getConfig().biasInitializer,
      );
    });
  }
  it('options: constant value, truncatedNormal mean/stddev/seed, orthogonal gain, varianceScaling: as TF.js', () => {
    const pairs: [unknown, unknown][] = [
      [initializers.constant({ value: 0.25 }), tf.initializers.constant({ value: 0.25 })],
      [initializers.truncatedNormal({ mean: 1, stddev: 0.5, seed: 7 }), tf.initializers.truncatedNormal({ mean: 1, stddev: 0.5, seed: 7 })],
      [initializers.orthogonal({ gain: 2 }), tf.initializers.orthogonal({ gain: 2 })],
      [initializers.heNormal({ seed: 3 }), tf.initializers.heNormal({ seed: 3 })],
      [
        initializers.varianceScaling({ scale: 3, mode: 'fanOut', distribution: 'uniform' }),
        tf.initializers.varianceScaling({ scale: 3, mode: 'fanOut', distribution: 'uniform' }),
      ],
    ];
    for (const [ours, theirs] of pairs)
      expect(new Dense({ units: 3, kernelInitializer: ours as never }).getConfig().kernelInitializer).toEqual(
        tf.layers.dense({ units: 3, kernelInitializer: theirs as never }).getConfig().kernelInitializer,
      );
  });
});

describe('initializer values', () => {
  // Dense [200, 300]: fanIn 200, fanOut 300, fanAvg 250. Conv [3,3,16,32]: fanIn 144, fanOut 288.
  const cases: [string, number, 'uniform' | 'normal'][] = [
    ['glorotUniform', 1 / 250, 'uniform'],
    ['glorotNormal', 1 / 250, 'normal'],
    ['heUniform', 2 / 200, 'uniform'],
    ['heNormal', 2 / 200, 'normal'],
    ['leCunUniform', 1 / 200, 'uniform'],
    ['leCunNormal', 1 / 200, 'normal'],
  ];
  for (const [name, scale, dist] of cases) {
    it(`${name} w=[200,300]: TF.js's bounds and spread (truncated at 2 stddev), as TF.js's own draw`, () => {
      const w = denseKernel(name, 200, 300);
      const theirs = tf.layers.dense({ units: 300, inputShape: [200], kernelInitializer: name });
      tf.sequential({ layers: [theirs] });
      const t = moments(theirs.getWeights()[0].dataSync());
      const m = moments(w);
      const bound = dist === 'uniform' ? Math.sqrt(3 * scale) : 2 * Math.sqrt(scale);
      expect(m.max).toBeLessThanOrEqual(bound * (1 + 1e-6));
      expect(m.max).toBeGreaterThan(bound * 0.97);
      expect(Math.abs(m.mean)).toBeLessThan(0.02 * bound);
      // Uniform: limit / sqrt(3). TF.js's truncated normal at 2 stddev: 0.8796 stddev.
      expect(m.std / (dist === 'uniform' ? bound / Math.sqrt(3) : 0.8796 * Math.sqrt(scale))).toBeCloseTo(1, 1);
      expect(Math.abs(m.std / t.std - 1)).toBeLessThan(0.02);
    });
  }

  it('randomUniform, randomNormal, truncatedNormal with their options; zeros, ones, constant', () => {
    const u = moments(denseKernel(initializers.randomUniform({ minval: 1, maxval: 3 }), 100, 100));
    expect(u.mean).toBeCloseTo(2, 1);
    expect(u.max).toBeLessThanOrEqual(3);
    const n = moments(denseKernel(initializers.randomNormal({ mean: 0, stddev: 2 }), 100, 100));
    expect(n.std).toBeCloseTo(2, 1);
    expect(n.max).toBeGreaterThan(4.5); // untruncated: 60k draws reach past 2.25 stddev
    const tn = moments(denseKernel(initializers.truncatedNormal({ stddev: 2 }), 100, 100));
    expect(tn.max).toBeLessThanOrEqual(4);
    expect(tn.std / 2).toBeCloseTo(0.8796, 1);
    expect(Array.from(new Set(denseKernel('zeros', 3, 5)))).toEqual([0]);
    expect(Array.from(new Set(denseKernel('ones', 3, 5)))).toEqual([1]);
    expect(Array.from(new Set(denseKernel(initializers.constant({ value: -0.5 }), 3, 5)))).toEqual([-0.5]);
  });

  for (const [rows, cols] of [
    [7, 5],
    [5, 7],
    [13, 13],
  ]) {
    it(`orthogonal w=[${rows},${cols}] gain 1.5: orthonormal ${rows >= cols ? 'columns' : 'rows'} times the gain`, () => {
      const w = denseKernel(initializers.orthogonal({ gain: 1.5 }), rows, cols);
      const n = Math.min(rows, cols);
      for (let a = 0; a < n; a++)
        for (let b = 0; b < n; b++) {
          let d = 0;
          for (let k = 0; k < Math.max(rows, cols); k++)
            d += rows >= cols ? w[k * cols + a] * w[k * cols + b] : w[a * cols + k] * w[b * cols + k];
          expect(Math.abs(d - (a === b ? 2.25 : 0))).toBeLessThan(1e-5);
        }
    });
  }
  it('orthogonal conv kernel [3,3,4,5]: the [36, 5] reshape has orthonormal columns; orthogonal on a bias throws', () => {
    const m = new Sequential([new Conv2D({ filters: 5, kernelSize: 3, inputShape: [6, 6, 4], kernelInitializer: 'orthogonal' })]);
    const w = m.getWeights()[0];
    for (let a = 0; a < 5; a++) {
      let d = 0;
      for (let k = 0; k < 36; k++) d += w[k * 5 + a] * w[k * 5 + a];
      expect(d).toBeCloseTo(1, 5);
    }
    m.dispose();
    const b = new Sequential([new Dense({ units: 3, inputShape: [2], name: 'd', biasInitializer: 'orthogonal' })]);
    expect(() => b.build()).toThrow(/d\/bias: the Orthogonal initializer needs a weight of rank 2 or more, received \[3\]/);
  });

  it("seeds: the model's seed fixes every weight; an initializer's own seed fixes its weight whatever the model's", () => {
    expect(denseKernel('heNormal', 9, 7, 4)).toEqual(denseKernel('heNormal', 9, 7, 4));
    expect(denseKernel('heNormal', 9, 7, 4)).not.toEqual(denseKernel('heNormal', 9, 7, 5));
    const seeded = initializers.glorotNormal({ seed: 42 });
    expect(denseKernel(seeded, 9, 7, 4)).toEqual(denseKernel(seeded, 9, 7, 5));
    expect(denseKernel(seeded, 9, 7)).not.toEqual(denseKernel(initializers.glorotNormal({ seed: 43 }), 9, 7));
  });
});

describe('initializer configs both ways and errors', () => {
  it('every initializer: simdcnn -> TF.js -> simdcnn keeps the configs', async () => {
    const m = new Sequential(
      [
        new Conv2D({
          filters: 4,
          kernelSize: 3,
          inputShape: [5, 5, 2],
          kernelInitializer: 'heNormal',
          biasInitializer: initializers.constant({ value: 0.1 }),
        }),
        new Flatten(),
        new Dense({ units: 3, kernelInitializer: initializers.truncatedNormal({ stddev: 0.1, seed: 5 }), biasInitializer: 'ones' }),
        new Dense({ units: 3, kernelInitializer: initializers.orthogonal({ gain: 0.5 }) }),
      ],
      { seed: 2 },
    );
    const theirs = await toTfjs(await m.save());
    const back = await loadModel((await tfjsArtifacts(theirs)) as ModelArtifacts);
    // TF.js reads them as it writes them (an unset seed may come back as null in both libraries).
    const strip = (v: unknown) => {
      const { className, config } = v as { className: string; config: Record<string, unknown> };
      const { seed, ...rest } = config;
      return { className, config: seed == null ? rest : { ...rest, seed } };
    };
    m.layers.forEach((l, i) => {
      for (const k of ['kernelInitializer', 'biasInitializer']) {
        if (!(k in l.getConfig())) continue;
        expect(strip(theirs.layers[i].getConfig()[k]), `${l.name} ${k}`).toEqual(strip(l.getConfig()[k]));
        expect(strip(back.layers[i].getConfig()[k]), `${l.name} ${k}`).toEqual(strip(l.getConfig()[k]));
      }
    });
    m.dispose();
    back.dispose();
  });

  it("Keras's class names and snake_case values read: GlorotNormal, LecunUniform, VarianceScaling truncated_normal", () => {
    const cfg = (init: unknown) => new Dense({ units: 2, kernelInitializer: init as never }).getConfig().kernelInitializer;
    expect(cfg({ className: 'GlorotNormal', config: { seed: null } })).toEqual(cfg('glorotNormal'));
    expect(cfg({ className: 'LecunUniform', config: {} })).toEqual(cfg('leCunUniform'));
    expect(cfg('lecunNormal')).toEqual(cfg('leCunNormal'));
    expect(cfg({ className: 'VarianceScaling', config: { scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' } })).toEqual({
      className: 'VarianceScaling',
      config: { scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' },
    });
    // Keras's truncated_normal corrects the stddev for the truncation: sqrt(2 / 200) overall.
    const k = moments(
      denseKernel({ className: 'VarianceScaling', config: { scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' } }, 200, 300),
    );
    expect(k.std / Math.sqrt(2 / 200)).toBeCloseTo(1, 1);
  });

  it('bad initializers throw naming the layer and option', () => {
    const bad = (init: unknown) => () => new Dense({ units: 2, name: 'd', kernelInitializer: init as never });
    expect(bad('glorot')).toThrow(ValueError);
    expect(bad('glorot')).toThrow(/d: kernelInitializer 'glorot' is not supported/);
    expect(bad({ className: 'Constant', config: {} })).toThrow(/d: kernelInitializer: Constant needs a value/);
    expect(bad({ className: 'VarianceScaling', config: { mode: 'fan_sum' } })).toThrow(/mode "fan_sum" is not one of/);
    expect(bad({ className: 'VarianceScaling', config: { scale: -1 } })).toThrow(/scale must be a positive number/);
    expect(bad({ className: 'Magic', config: {} })).toThrow(/initializer class 'Magic' is not supported/);
    expect(bad(initializers.randomNormal({ stddev: NaN }))).toThrow(/stddev must be a finite number/);
  });
});
