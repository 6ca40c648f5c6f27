// Model classes by the class_name model files use ('Sequential', 'Model', 'Functional'), so the file
// readers build models without importing the model modules (which import them to save).
import type { Layer } from '../layers/layer.js';
import type { SymbolicTensor } from '../layers/symbolic.js';

/** What a model file describes: a list of layers (Sequential), or the graph's inputs and outputs. */
export interface ModelDescription {
  name?: string;
  seed?: number;
  layers?: Layer[];
  inputs?: SymbolicTensor[];
  outputs?: SymbolicTensor[];
}

const factories = new Map<string, (d: ModelDescription) => unknown>();

export function registerModelClass(names: string[], make: (d: ModelDescription) => unknown): void {
  for (const n of names) factories.set(n, make);
}

export function modelFactory(className: string): ((d: ModelDescription) => unknown) | undefined {
  return factories.get(className);
}
