// `glit summary`: parameters and FLOPs of an architecture, per block, computed from its config (no model is built).
import { parseCommandArgs, UsageError, type Command } from './command';
import { loadArchitecture, PRESETS, tokenCount, type Architecture } from '../model/arch';
import { modelCost, type Cost, type ModelCost } from '../model/flops';

const millions = (n: number, digits: number) => `${(n / 1e6).toFixed(digits)}M`;
const billions = (n: number) => `${(n / 1e9).toFixed(3)}G`;
const orDash = (v: number | null) => (v === null ? '-' : String(v));

function table(arch: Architecture, cost: ModelCost): string {
  const { model } = arch;
  const header = ['block', 'G/L', 'ev', 'E', 'K', 'r', 'params', 'FLOPs', 'MACs'];
  const part = (c: Cost) => [millions(c.params, 3), millions(c.flops, 1), millions(c.macs, 1)];
  const noGene = ['', '', '', '', ''];
  const rows = [
    header,
    ['stem', ...noGene, ...part(cost.stem)],
    ...cost.blocks.map(({ index, gene: g, ...c }) => [
      String(index),
      `${g.globalHeads}/${model.heads - g.globalHeads}`,
      orDash(g.qkvRatio),
      orDash(g.convExpansion),
      orDash(g.kernelSize),
      String(g.ffnRatio),
      ...part(c),
    ]),
    ['head', ...noGene, ...part(cost.head)],
    ['total', ...noGene, millions(cost.params, 3), billions(cost.flops), billions(cost.macs)],
  ];
  const widths = header.map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  // Labels left-aligned, numbers right-aligned.
  const lines = rows.map((r) =>
    r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  '),
  );
  return [
    `${arch.name ?? 'architecture'}: ${model.imageSize}x${model.imageSize}x${model.inChannels}, patch ${model.patchSize} (${tokenCount(model)} tokens), ` +
      `width ${model.width}, ${model.heads} heads, ${model.depth} blocks, ${model.numClasses} classes`,
    `local heads: ${model.localModule === 'window-attention' ? `attention in a window of ${model.localWindow} tokens` : model.localModule === 'conv2d' ? 'k x k depthwise conv on the patch grid (K is k)' : '1-D conv over the token sequence'}; ` +
      `${model.classToken ? 'CLS token head' : 'no CLS token, average-pooling head'}; FFN ${model.ffnActivation}`,
    '',
    ...lines,
    '',
    "FLOPs: the official code's count (multiply-accumulates; the GLU's doubled pointwise conv counted once), as the paper reports.",
    'MACs: every multiply-accumulate of the forward pass. Neither counts biases, norms, softmax or activations.',
  ].join('\n');
}

export const summaryCommand: Command = {
  name: 'summary',
  summary: 'print the parameters and FLOPs of an architecture (preset or .json), per block',
  help: `usage: npx glit summary <preset|arch.json> [--json]

Counts parameters, the official FLOPs figure and the true multiply-accumulates from the architecture alone.
  <preset|arch.json>  a preset (${Object.keys(PRESETS).join(', ')}) or an architecture JSON file
  --json              print one JSON object: params, flops, macs, tokens, stem, blocks (per block), head
Examples:
  npx glit summary glit-tiny
  npx glit summary my-arch.json --json`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    if (positionals.length !== 1)
      throw new UsageError(`expected one architecture (preset or .json file), got ${positionals.length}`);
    const arch = loadArchitecture(positionals[0]);
    const cost = modelCost(arch);
    if (values.json) console.log(JSON.stringify({ name: arch.name ?? null, model: arch.model, ...cost }));
    else console.log(table(arch, cost));
  },
};
