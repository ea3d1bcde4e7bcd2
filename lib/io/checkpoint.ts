// Checkpoints that PyTorch can read and write: a model's tensors under the official GLiT state-dict names
// (namedVariables in lib/model/model.ts), in PyTorch's layouts, as a safetensors file whose metadata carries the architecture.
//
// Official weights are .pth pickles ({"model": state_dict} for GLiT and DeiT); convert them once with PyTorch (the
// snippet is in environment.md, "weights"). DeiT's own checkpoints name blocks `blocks.{i}.` where GLiT's code has
// `blocks.{i}.0.`; the snippet renames them.
import * as tf from '@tensorflow/tfjs';
import {
  architectureToJson,
  ArchitectureError,
  parseArchitecture,
  type Architecture,
  type ModelConfig,
} from '../model/arch';
import { blockBatchNorms } from '../model/block';
import { layerOfWeight, weightLayout, type Layout } from '../model/block-tensors';
import type { BatchNorm } from '../model/layers';
import { namedVariables, type ModelParams } from '../model/model';
import {
  readSafetensors,
  scalarValue,
  toFloat32,
  writeSafetensors,
  type StoredTensor,
  type TensorToWrite,
} from './safetensors';

// --- layouts: how our tensors differ from PyTorch's ---------------------------------------------------------------

/**
 * The layout of the tensor `name` whose shape here is `ourShape`: a block's weights by their layer's kind
 * (lib/model/block-tensors.ts); the patch embedding, ours a linear map of flattened patches [P*P*inC, C] in (row, col,
 * channel) order, PyTorch's a Conv2d weight [C, inC, P, P]; the classifier a linear. Other tensors have PyTorch's.
 */
function layoutOf(name: string, ourShape: number[], model: ModelConfig): Layout {
  if (name === 'patch_embed.proj.weight')
    return { view: [model.patchSize, model.patchSize, model.inChannels, ourShape[1]], toTorch: [3, 2, 0, 1] };
  const inBlock = /^blocks\.\d+\.0\.(.+)$/.exec(name);
  const kind =
    name === 'head.weight' ? 'linear' : inBlock ? layerOfWeight(model.localModule, inBlock[1])?.kind : undefined;
  return kind ? weightLayout(kind, ourShape) : { view: ourShape, toTorch: ourShape.map((_, i) => i) };
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
  const norms = params.blocks.flatMap(blockBatchNorms);
  const entries: Entry[] = [];
  for (const [name, variable] of namedVariables(params)) {
    entries.push({ name, variable });
    if (name.endsWith('.running_var')) {
      entries.push({
        name: name.replace(/running_var$/, 'num_batches_tracked'),
        batchNorm: norms.find((n) => n.runningVar === variable)!,
      });
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
export async function saveCheckpoint(
  path: string,
  params: ModelParams,
  arch: Architecture,
  extra: Record<string, string> = {},
): Promise<void> {
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
    return {
      source: path,
      tensors,
      metadata,
      architecture: parseArchitecture(json, `${path} metadata '${METADATA_ARCHITECTURE}'`),
    };
  } catch (e) {
    if (e instanceof ArchitectureError)
      throw new CheckpointError(`${e.message}: the file's architecture is unreadable; pass the architecture yourself`);
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
  if (report.unexpected.some((n) => n.startsWith('module.')))
    out.push("names start with 'module.' (saved from DataParallel): strip that prefix when converting");
  if (report.unexpected.some((n) => /^blocks\.\d+\.(norm1|attn|norm2|mlp)\./.test(n))) {
    out.push(
      "names look like DeiT's 'blocks.{i}.norm1...': GLiT's are 'blocks.{i}.0.norm1...'; convert with the snippet in environment.md (\"weights\")",
    );
  }
  return out;
}

/**
 * Loads a checkpoint (a path or a read Checkpoint) into `params`, converting layouts and dtypes. Everything is checked
 * before anything is assigned: on a mismatch nothing changes and a CheckpointError lists the tensors by name.
 * Wrongly shaped tensors always fail; missing and unexpected ones fail unless the options allow them.
 */
export function loadCheckpoint(
  params: ModelParams,
  arch: Architecture,
  checkpoint: Checkpoint | string,
  options: LoadOptions = {},
): LoadReport {
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
    const fits =
      'variable' in entry ? stored.shape.join() === expected.join() : stored.shape.reduce((n, d) => n * d, 1) === 1;
    if (fits) present.push({ entry, stored });
    else report.mismatched.push({ name: entry.name, expected, found: stored.shape });
  }

  const problems: string[] = [];
  if (report.mismatched.length > 0) {
    problems.push(
      `${report.mismatched.length} wrongly shaped (file vs model, PyTorch layout): ` +
        listed(report.mismatched.map((m) => `${m.name} [${m.found}] vs [${m.expected}]`)),
    );
  }
  if (report.missing.length > 0 && !options.allowMissing)
    problems.push(`${report.missing.length} missing (in the model, not in the file): ${listed(report.missing)}`);
  if (report.unexpected.length > 0 && !options.allowUnexpected)
    problems.push(
      `${report.unexpected.length} unexpected (in the file, not in the model): ${listed(report.unexpected)}`,
    );
  if (problems.length > 0) {
    const stored = file.architecture
      ? ` (the file was saved for architecture '${file.architecture.name ?? 'unnamed'}')`
      : '';
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
      tf.tidy(() =>
        entry.variable.assign(
          fromTorchLayout(entry.name, tf.tensor(toFloat32(stored), stored.shape), entry.variable.shape, arch.model),
        ),
      );
    }
    report.loaded.push(entry.name);
  }
  return report;
}
