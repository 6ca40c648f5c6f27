// Named training recipes for `simdcnn train --recipe NAME`: a dataset with the net, augmentation, schedule,
// optimizer, batch and epochs that train it well (docs/recipes.md has how each was chosen and what it
// reaches). A recipe only fills in what the user did not give: every flag still overrides it.
import { ValueError } from './errors.js';
import type { TrainOptions } from './train-plan.js';

export type RecipeName = 'mnist-fast' | 'fashion-mnist' | 'cifar10-resnet';
export const RECIPE_NAMES: readonly RecipeName[] = ['mnist-fast', 'fashion-mnist', 'cifar10-resnet'];

export interface Recipe {
  /** The training options the recipe sets. */
  options: TrainOptions;
  /** Test accuracy printed this often, in epochs (the CLI's --eval-every). */
  evalEvery: number;
}

export const RECIPES: Record<RecipeName, Recipe> = {
  // bncnn (~105k parameters), small shifts, Adam under one cycle to 0.01, batch 32: 99.0% after 1 epoch,
  // 99.3% after 1.5, 99.44-99.48% after 2 over three seeds (docs/recipes.md).
  'mnist-fast': {
    options: {
      dataset: 'mnist',
      net: 'bncnn',
      augment: ['translate'],
      optimizer: 'adam',
      lr: 0.01,
      schedule: 'onecycle',
      batchSize: 32,
      epochs: 2,
      labelSmoothing: 0.1,
    },
    evalEvery: 0.5,
  },
  'fashion-mnist': {
    options: {
      dataset: 'fashion-mnist',
      net: 'bncnn',
      augment: ['flip', 'translate'],
      optimizer: 'adam',
      lr: 0.005,
      schedule: 'onecycle',
      batchSize: 64,
      epochs: 15,
      labelSmoothing: 0.1,
    },
    evalEvery: 1,
  },
  // ResNet-20 with flips and pad-4-and-crop, AdamW (weight decay 0.004) under one cycle.
  'cifar10-resnet': {
    options: {
      dataset: 'cifar10',
      net: 'resnet20',
      augment: ['flip', 'crop'],
      optimizer: 'adamw',
      lr: 0.003,
      schedule: 'onecycle',
      batchSize: 128,
      epochs: 30,
      labelSmoothing: 0.1,
    },
    evalEvery: 1,
  },
};

/** The user's options over the recipe's: a flag given wins, the recipe fills in the rest. */
export function applyRecipe(name: RecipeName, given: TrainOptions): TrainOptions {
  const r = RECIPES[name];
  if (!r) throw new ValueError(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, received '${name}'`);
  if (given.data !== undefined)
    throw new ValueError(`--recipe ${name} trains on --dataset ${r.options.dataset}, not on an image folder (--data)`);
  if (given.dataset !== undefined && given.dataset !== r.options.dataset)
    throw new ValueError(`--recipe ${name} is for --dataset ${r.options.dataset}, received --dataset ${given.dataset}`);
  const out: TrainOptions = { ...r.options };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
