// Checkpoints that PyTorch can read and write: a model's tensors under the official GLiT state-dict names
// (namedVariables in lib/model/model.ts), in PyTorch's layouts, as a safetensors file whose metadata carries the architecture.
//
// Official weights are .pth pickles ({"model": state_dict} for GLiT and DeiT); convert them once with PyTorch (the
// snippet is in environment.md, "weights"). DeiT's own checkpoints name blocks `blocks.{i}.` where GLiT's code has
// `blocks.{i}.0.`; the snippet renames them.
import * as tf from '@tensorflow/tfjs';
import { architectureToJson, ArchitectureError, parseArchitecture, type Architecture, type ModelConfig } from '../model/arch';
import type { BatchNorm } from '../model/layers';
import { namedVariables, type ModelParams } from '../model/model';
import { readSafetensors, scalarValue, toFloat32, writeSafetensors, type StoredTensor, type TensorToWrite } from './safetensors';

// --- layouts: the one place that knows how our tensors differ from PyTorch's --------------------------------------

/**
 * How a variable is stored here relative to PyTorch: our array seen as `view(ourShape)` (a reshape, no data movement)
 * becomes PyTorch's tensor by permuting its axes with `toTorch`. Names that no row matches have the same layout.
 */
interface Layout {
  pattern: RegExp;
  /** Only for our tensors of this rank, where one name has two layouts (the 1-D and 2-D depthwise conv). */
  rank?: number;
  view: (ours: number[], model: ModelConfig) => number[];
  toTorch: number[];
}

const LAYOUTS: Layout[] = [
  // Patch embedding: ours is a linear map of flattened patches [P*P*inC, C] in (row, col, channel) order; PyTorch's
  // Conv2d weight is [C, inC, P, P].
  { pattern: /^patch_embed\.proj\.weight$/, view: ([, c], m) => [m.patchSize, m.patchSize, m.inChannels, c], toTorch: [3, 2, 0, 1] },
  // Kernel-1 Conv1d of the conv path: ours [in, out] -> [out, in, 1].
  { pattern: /^blocks\.\d+\.0\.attn\.net\.[16]\.weight$/, view: ([i, o]) => [i, o, 1], toTorch: [1, 0, 2] },
  // Depthwise Conv1d: ours [K, channels] -> [channels, 1, K].
  { pattern: /^blocks\.\d+\.0\.attn\.net\.3\.conv\.weight$/, rank: 2, view: ([k, c]) => [k, c, 1], toTorch: [1, 2, 0] },
  // Depthwise Conv2d ('conv2d' local module): ours [k, k, channels] -> [channels, 1, k, k].
  { pattern: /^blocks\.\d+\.0\.attn\.net\.3\.conv\.weight$/, rank: 3, view: ([kh, kw, c]) => [kh, kw, c, 1], toTorch: [2, 3, 0, 1] },
  // Linear (also the window-attention heads' attn.local.*): ours [in, out] -> [out, in].
  { pattern: /^(blocks\.\d+\.0\.(attn\.(local\.)?(qkv|proj)|mlp\.fc[12])|head)\.weight$/, view: (s) => s, toTorch: [1, 0] },
];

function layoutOf(name: string, ourShape: number[], model: ModelConfig): { view: number[]; toTorch: number[] } {
  const row = LAYOUTS.find((l) => l.pattern.test(name) && (l.rank === undefined || l.rank === ourShape.length));
  return row ? { view: row.view(ourShape, model), toTorch: row.toTorch } : { view: ourShape, toTorch: ourShape.map((_, i) => i) };
}

/** The PyTorch shape of the tensor `name` whose shape is `ourShape` here. */
export function torchShape(name: string, ourShape: number[], model: ModelConfig): number[] {
  const { view, toTorch } = layoutOf(name, ourShape, model);
  return toTorch.map((axis) => view[axis]);
}

/** A tensor in our layout (a variable, or its gradient) rearranged into PyTorch's layout for `name`. */
export function toTorchLayout(name: string, t: tf.Tensor, model: ModelConfig): tf.Tensor {
  const { view, toTorch } = layoutOf(name, t.shape, model);
  return tf.tidy(() => tf.transpose(tf.reshape(t, view), toTorch));
}

/** A tensor in PyTorch's layout for `name` rearranged into ours, `ourShape`. */
export function fromTorchLayout(name: string, t: tf.Tensor, ourShape: number[], model: ModelConfig): tf.Tensor {
  const { toTorch } = layoutOf(name, ourShape, model);
  const back = toTorch.map((_, axis) => toTorch.indexOf(axis));
  return tf.tidy(() => tf.reshape(tf.transpose(t, back), ourShape));
}

// --- the state dict: variables plus BatchNorm's counters -------------------------------------------------------------

type Entry = { name: string; variable: tf.Variable } | { name: string; batchNorm: BatchNorm };

/** Every tensor of the state dict in PyTorch's order: num_batches_tracked follows each BatchNorm's running_var. */
function stateEntries(params: ModelParams): Entry[] {
  const norms = params.blocks.flatMap((b) => (b.conv ? [b.conv.norm] : []));
  const entries: Entry[] = [];
  for (const [name, variable] of namedVariables(params)) {
    entries.push({ name, variable });
    if (name.endsWith('.running_var')) {
      entries.push({ name: name.replace(/running_var$/, 'num_batches_tracked'), batchNorm: norms.find((n) => n.runningVar === variable)! });
    }
  }
  return entries;
}

/** The metadata key that holds the architecture JSON (lib/model/arch.ts). */
export const METADATA_ARCHITECTURE = 'architecture';

/**
 * Writes the model's tensors to `path` (atomically) in PyTorch's names and layouts, float32, with num_batches_tracked
 * as int64. The metadata records the architecture (so the file describes itself), plus any `extra` strings.
 */
export async function saveCheckpoint(path: string, params: ModelParams, arch: Architecture, extra: Record<string, string> = {}): Promise<void> {
  const tensors: [string, TensorToWrite][] = [];
  for (const entry of stateEntries(params)) {
    if ('batchNorm' in entry) {
      tensors.push([entry.name, { dtype: 'I64', shape: [], values: [entry.batchNorm.batchesTracked] }]);
      continue;
    }
    const torch = toTorchLayout(entry.name, entry.variable, arch.model);
    tensors.push([entry.name, { dtype: 'F32', shape: torch.shape, values: (await torch.data()) as Float32Array }]);
    torch.dispose();
  }
  // format=pt is what Hugging Face's safetensors.torch expects of PyTorch state dicts.
  writeSafetensors(path, tensors, { format: 'pt', ...extra, [METADATA_ARCHITECTURE]: architectureToJson(arch) });
}

// --- loading -------------------------------------------------------------------------------------------------------

/** A checkpoint file read into memory; `architecture` when its metadata has one. */
export interface Checkpoint {
  source: string;
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
  architecture?: Architecture;
}

export class CheckpointError extends Error {
  constructor(
    message: string,
    readonly report?: LoadReport,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function readCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(path);
  const json = metadata[METADATA_ARCHITECTURE];
  if (json === undefined) return { source: path, tensors, metadata };
  try {
    return { source: path, tensors, metadata, architecture: parseArchitecture(json, `${path} metadata '${METADATA_ARCHITECTURE}'`) };
  } catch (e) {
    if (e instanceof ArchitectureError) throw new CheckpointError(`${e.message}: the file's architecture is unreadable; pass the architecture yourself`);
    throw e;
  }
}

export interface LoadOptions {
  /** Leave model tensors the file lacks at their current values instead of failing. */
  allowMissing?: boolean;
  /** Ignore file tensors the model has no place for instead of failing. */
  allowUnexpected?: boolean;
  /** Names to leave out on both sides, e.g. /^head\./ to fine-tune a checkpoint with a new classifier. */
  exclude?: RegExp;
}

export interface ShapeMismatch {
  name: string;
  /** PyTorch layout, as the model needs it. */
  expected: number[];
  found: number[];
}

export interface LoadReport {
  loaded: string[];
  /** In the model, not in the file. */
  missing: string[];
  /** In the file, not in the model. */
  unexpected: string[];
  mismatched: ShapeMismatch[];
}

const listed = (names: string[], limit = 8): string =>
  names.slice(0, limit).join(', ') + (names.length > limit ? `, ... (${names.length - limit} more)` : '');

/** Likely causes of name mismatches, recognisable from the names alone. */
function hints(report: LoadReport): string[] {
  const out: string[] = [];
  if (report.unexpected.some((n) => n.startsWith('module.'))) out.push("names start with 'module.' (saved from DataParallel): strip that prefix when converting");
  if (report.unexpected.some((n) => /^blocks\.\d+\.(norm1|attn|norm2|mlp)\./.test(n))) {
    out.push("names look like DeiT's 'blocks.{i}.norm1...': GLiT's are 'blocks.{i}.0.norm1...'; convert with the snippet in environment.md (\"weights\")");
  }
  return out;
}

/**
 * Loads a checkpoint (a path or a read Checkpoint) into `params`, converting layouts and dtypes. Everything is checked
 * before anything is assigned: on a mismatch nothing changes and a CheckpointError lists the tensors by name.
 * Wrongly shaped tensors always fail; missing and unexpected ones fail unless the options allow them.
 */
export function loadCheckpoint(params: ModelParams, arch: Architecture, checkpoint: Checkpoint | string, options: LoadOptions = {}): LoadReport {
  const file = typeof checkpoint === 'string' ? readCheckpoint(checkpoint) : checkpoint;
  const keep = (name: string) => !options.exclude?.test(name);
  const entries = stateEntries(params).filter((e) => keep(e.name));
  const report: LoadReport = { loaded: [], missing: [], unexpected: [], mismatched: [] };
  const wanted = new Set(entries.map((e) => e.name));
  report.unexpected = [...file.tensors.keys()].filter((n) => keep(n) && !wanted.has(n));
  const present: { entry: Entry; stored: StoredTensor }[] = [];
  for (const entry of entries) {
    const stored = file.tensors.get(entry.name);
    if (!stored) {
      report.missing.push(entry.name);
      continue;
    }
    const expected = 'variable' in entry ? torchShape(entry.name, entry.variable.shape, arch.model) : [];
    const fits = 'variable' in entry ? stored.shape.join() === expected.join() : stored.shape.reduce((n, d) => n * d, 1) === 1;
    if (fits) present.push({ entry, stored });
    else report.mismatched.push({ name: entry.name, expected, found: stored.shape });
  }

  const problems: string[] = [];
  if (report.mismatched.length > 0) {
    problems.push(`${report.mismatched.length} wrongly shaped (file vs model, PyTorch layout): ` + listed(report.mismatched.map((m) => `${m.name} [${m.found}] vs [${m.expected}]`)));
  }
  if (report.missing.length > 0 && !options.allowMissing) problems.push(`${report.missing.length} missing (in the model, not in the file): ${listed(report.missing)}`);
  if (report.unexpected.length > 0 && !options.allowUnexpected) problems.push(`${report.unexpected.length} unexpected (in the file, not in the model): ${listed(report.unexpected)}`);
  if (problems.length > 0) {
    const stored = file.architecture ? ` (the file was saved for architecture '${file.architecture.name ?? 'unnamed'}')` : '';
    throw new CheckpointError(
      [
        `checkpoint ${file.source} does not fit architecture '${arch.name ?? 'unnamed'}'${stored}:`,
        ...problems.map((p) => `  ${p}`),
        ...hints(report).map((h) => `  hint: ${h}`),
        `  fix: load it with the architecture it was saved for${file.architecture ? ' (its metadata has it)' : ''}; to fine-tune with a different classifier, load with exclude: /^head\\./`,
      ].join('\n'),
      report,
    );
  }

  for (const { entry, stored } of present) {
    if ('batchNorm' in entry) {
      entry.batchNorm.batchesTracked = scalarValue(stored, entry.name);
    } else {
      tf.tidy(() => entry.variable.assign(fromTorchLayout(entry.name, tf.tensor(toFloat32(stored), stored.shape), entry.variable.shape, arch.model)));
    }
    report.loaded.push(entry.name);
  }
  return report;
}
