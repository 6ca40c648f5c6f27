// model.summary() in TF.js's layout (tfjs-layers' printSummary: the same columns, widths and counts),
// followed by the memory the model plans: weights, gradients, optimizer state and activations.
import type { Layer } from '../layers/layer.js';
import type { Node } from '../layers/symbolic.js';
import type { Graph } from './graph.js';
import { isTrainable, type ParamLayout } from './plan.js';

/** summary(printFn) or TF.js's summary(lineLength, positions, printFn). */
export type SummaryArgs =
  [printFn?: (line: string) => void] | [lineLength?: number, positions?: number[], printFn?: (line: string) => void];

export interface SummaryView {
  graph: Graph;
  layers: Layer[];
  params: ParamLayout;
  memory: {
    weights: number;
    gradients: number;
    optimizer?: { name: string; bytes: number };
    batch: number;
    training: number;
    inference: number;
  };
}

/** TF.js's test: one node per depth, none with several inputs, no layer used twice. */
function sequentialLike(g: Graph): boolean {
  if (g.nodesByDepth.some((d) => d.length > 1 || (d.length === 1 && d[0].inputs.length > 1))) return false;
  const nodes = new Set(g.nodes);
  return g.layers.every((l) => l.inboundNodes.filter((n) => nodes.has(n)).length <= 1);
}

function row(fields: string[], positions: number[]): string {
  let line = '';
  fields.forEach((f, i) => {
    if (i > 0) line = `${line.slice(0, -1)} `;
    line = (line + f).slice(0, positions[i]);
    line += ' '.repeat(positions[i] - line.length);
  });
  return line;
}

const nodeInputShapes = (n: Node) => JSON.stringify(n.inputs.length ? n.inputs.map((t) => t.shape) : [n.output.shape]);

function outputShape(l: Layer): string {
  const shapes = new Set(l.inboundNodes.map((n) => JSON.stringify(n.output.shape)));
  return shapes.size === 1 ? [...shapes][0] : 'multiple';
}

const kib = (b: number) => (b < 1024 ? `${b} B` : b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

export function printSummary(v: SummaryView, ...args: SummaryArgs): string {
  const [lineLength, positions, printFn] =
    typeof args[0] === 'function' ? [undefined, undefined, args[0]] : (args as [number?, number[]?, ((l: string) => void)?]);
  const seq = sequentialLike(v.graph);
  const width = lineLength ?? (seq ? 90 : 115);
  let pos = positions ?? (seq ? [0.32, 0.61, 0.89, 1] : [0.24, 0.48, 0.7, 0.8, 1]);
  if (pos[pos.length - 1] <= 1) pos = pos.map((p) => Math.floor(width * p));
  const header = ['Layer (type)', 'Input Shape', 'Output shape', 'Param #'];
  if (!seq) header.push('Receives inputs');
  const lines = ['_'.repeat(width), row(header, pos), '='.repeat(width)];
  const inModel = new Set(v.graph.nodes);
  v.layers.forEach((l, i) => {
    const fields = [`${l.name} (${l.className})`, l.inboundNodes.map(nodeInputShapes).join(','), outputShape(l), String(l.countParams())];
    if (seq) lines.push(row(fields, pos));
    else {
      const links = l.inboundNodes
        .filter((n) => inModel.has(n))
        .flatMap((n) => n.inputs.map((t) => `${t.node.layer.name}[${t.node.index}][${t.index}]`));
      lines.push(row([...fields, links[0] ?? ''], pos));
      for (const link of links.slice(1)) lines.push(row(['', '', '', '', link], pos));
    }
    lines.push((i === v.layers.length - 1 ? '=' : '_').repeat(width));
  });
  const trainable = v.params.entries.filter(isTrainable).reduce((s, e) => s + e.size, 0);
  const total = v.params.entries.reduce((s, e) => s + e.size, 0);
  const m = v.memory;
  lines.push(`Total params: ${total}`, `Trainable params: ${trainable}`, `Non-trainable params: ${total - trainable}`, '_'.repeat(width));
  lines.push(
    `Planned memory: weights ${kib(m.weights)}, gradients ${kib(m.gradients)}, optimizer state ${m.optimizer ? `${kib(m.optimizer.bytes)} (${m.optimizer.name})` : '- (not compiled)'}`,
  );
  lines.push(`  activations at batch ${m.batch}: ${kib(m.training)} for training, ${kib(m.inference)} for inference`);
  const print = printFn ?? ((line: string) => console.log(line));
  for (const line of lines) print(line);
  return lines.join('\n');
}
