// A block's tensors, described once: for each layer its official name, where it sits in BlockParams, its kind (which
// gives the initialiser and the PyTorch layout) and the extents of its axes, in the block's dimensions (which give its
// shape and its slice in a weight-sharing supernet). initBlock, the state-dict names (lib/model/model.ts), the PyTorch
// shapes and counts (lib/model/flops.ts), the layouts (lib/io/checkpoint.ts) and the slices (lib/search/slicing.ts)
// are all read off this list. Names follow the official code (github.com/bychen515/GLiT: mix_attention.py); the
// Table 6 local modules have no official code and are named in the same pattern.
import { globalChannels, localChannels, type BlockGene, type LocalModule, type ModelConfig } from './arch';
import {
  initBatchNorm,
  initDepthwiseConv,
  initDepthwiseConv2d,
  initLinear,
  initNorm,
  initPointwiseConv,
  type Affine,
  type BatchNorm,
} from './layers';
import type { Rng } from '../core/random';

/** The sizes a block's tensors are made of (0 where the block has no such path). */
export interface BlockDims {
  /** C. */
  width: number;
  /** r * C. */
  hidden: number;
  /** Cg: the G global heads' channels. */
  globalChannels: number;
  /** Cg * ev: the attention's q (and k, v) width. */
  attentionWidth: number;
  /** Cl: the L local heads' channels. */
  localChannels: number;
  /** E * Cl: the conv module's inner width. */
  convWidth: number;
  /** K. */
  kernel: number;
}

export function blockDims(model: ModelConfig, gene: BlockGene): BlockDims {
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  return {
    width: model.width,
    hidden: Math.round(gene.ffnRatio * model.width),
    globalChannels: cg,
    attentionWidth: cg * (gene.qkvRatio ?? 0),
    localChannels: cl,
    convWidth: cl * (gene.convExpansion ?? 0),
    kernel: cl > 0 ? (gene.kernelSize ?? 0) : 0,
  };
}

/** Per dimension the largest of `all`: the weights every one of them is a slice of. */
export function largestDims(all: BlockDims[]): BlockDims {
  const dims = { ...all[0] };
  for (const d of all) for (const k of Object.keys(d) as (keyof BlockDims)[]) dims[k] = Math.max(dims[k], d[k]);
  return dims;
}

export type LayerKind = 'linear' | 'pointwise' | 'depthwise1d' | 'depthwise2d' | 'layerNorm' | 'batchNorm';

/**
 * An axis of a layer: its size, and which end of the block's channels it reads or writes. A candidate of a sliced
 * supernet takes the first or the last `size` of the largest weights' axis: attention the first Cg block channels,
 * the local heads the last Cl, every inner width its first part.
 */
interface Extent {
  size: keyof BlockDims;
  at: 'first' | 'last';
}

/** The sub-modules of BlockParams; 'local' is the L local heads' module, whichever model.localModule it is. */
export type BlockPart = 'norm1' | 'attention' | 'local' | 'norm2' | 'mlp';

export interface BlockLayer {
  /** Official state-dict name inside the block: `blocks.{i}.0.{name}.weight`. */
  name: string;
  part: BlockPart;
  /** Its field in the part's record; none for the LayerNorms, which are the part. */
  field?: string;
  kind: LayerKind;
  /** Input channels of a linear or pointwise conv (the rows of our [in, out] weight). */
  in?: Extent;
  /** Output channels, per section: q, k, v are 3 sections of qkv, the GLU's halves 2 of the first pointwise conv. */
  out: Extent;
  sections?: number;
}

const first = (size: keyof BlockDims): Extent => ({ size, at: 'first' });
const last = (size: keyof BlockDims): Extent => ({ size, at: 'last' });
/** A linear or pointwise conv layer: `input` channels to `sections` x `out`. */
function affine(
  kind: 'linear' | 'pointwise',
  name: string,
  part: BlockPart,
  field: string,
  input: Extent,
  out: Extent,
  sections = 1,
): BlockLayer {
  return { name, part, field, kind, in: input, out, sections };
}

const NORM1: BlockLayer = { name: 'norm1', part: 'norm1', kind: 'layerNorm', out: first('width') };
const ATTENTION: BlockLayer[] = [
  affine('linear', 'attn.qkv', 'attention', 'qkv', first('globalChannels'), first('attentionWidth'), 3),
  affine('linear', 'attn.proj', 'attention', 'proj', first('attentionWidth'), first('globalChannels')),
];
/** The conv module, `attn.net`: indices are positions in the official nn.Sequential (0, 2, 5, 7 have no weights). */
const convModule = (depthwise: 'depthwise1d' | 'depthwise2d'): BlockLayer[] => [
  affine('pointwise', 'attn.net.1', 'local', 'expand', last('localChannels'), first('convWidth'), 2),
  { name: 'attn.net.3.conv', part: 'local', field: 'depthwise', kind: depthwise, out: first('convWidth') },
  { name: 'attn.net.4', part: 'local', field: 'norm', kind: 'batchNorm', out: first('convWidth') },
  affine('pointwise', 'attn.net.6', 'local', 'project', first('convWidth'), last('localChannels')),
];
const LOCAL: Record<LocalModule, BlockLayer[]> = {
  conv1d: convModule('depthwise1d'),
  conv2d: convModule('depthwise2d'),
  // A child `local` of the GL module, beside the global heads' qkv and proj; head dim C/N, so Cl -> 3 * Cl.
  'window-attention': [
    affine('linear', 'attn.local.qkv', 'local', 'qkv', last('localChannels'), last('localChannels'), 3),
    affine('linear', 'attn.local.proj', 'local', 'proj', last('localChannels'), last('localChannels')),
  ],
};
const NORM2: BlockLayer = { name: 'norm2', part: 'norm2', kind: 'layerNorm', out: first('width') };
const MLP: BlockLayer[] = [
  affine('linear', 'mlp.fc1', 'mlp', 'fc1', first('width'), first('hidden')),
  affine('linear', 'mlp.fc2', 'mlp', 'fc2', first('hidden'), first('width')),
];

/** Every layer a block with this local module can have, in PyTorch state-dict order (the local ones only if given). */
export const blockLayers = (local?: LocalModule): BlockLayer[] => [
  NORM1,
  ...ATTENTION,
  ...(local ? LOCAL[local] : []),
  NORM2,
  ...MLP,
];

/** The layers a block of these dims has: attention when Cg > 0, the local module when Cl > 0. */
export function presentLayers(local: LocalModule, dims: BlockDims): BlockLayer[] {
  const channels: Partial<Record<BlockPart, number>> = { attention: dims.globalChannels, local: dims.localChannels };
  return blockLayers(local).filter((l) => (channels[l.part] ?? 1) > 0);
}

/** The order the layers draw their initial values in (seeded models and recorded results depend on it). */
const INIT_ORDER: BlockPart[] = ['norm1', 'norm2', 'mlp', 'attention', 'local'];

/** Our shape of the layer's weight: linears [in, out], depthwise convs [K, channels] or [k, k, channels], norms [C]. */
function weightShape(layer: BlockLayer, dims: BlockDims): number[] {
  const out = dims[layer.out.size] * (layer.sections ?? 1);
  switch (layer.kind) {
    case 'linear':
    case 'pointwise':
      return [dims[layer.in!.size], out];
    case 'depthwise1d':
      return [dims.kernel, out];
    case 'depthwise2d':
      return [dims.kernel, dims.kernel, out];
    case 'layerNorm':
    case 'batchNorm':
      return [out];
  }
}

/** DeiT's init for linears, PyTorch's defaults for the convs; norms start as the identity. */
function initLayer(layer: BlockLayer, dims: BlockDims, rng: Rng): Affine | BatchNorm {
  const shape = weightShape(layer, dims);
  switch (layer.kind) {
    case 'linear':
      return initLinear(shape[0], shape[1], rng);
    case 'pointwise':
      return initPointwiseConv(shape[0], shape[1], rng);
    case 'depthwise1d':
      return initDepthwiseConv(shape[1], shape[0], rng);
    case 'depthwise2d':
      return initDepthwiseConv2d(shape[2], shape[0], rng);
    case 'layerNorm':
      return initNorm(shape[0]);
    case 'batchNorm':
      return initBatchNorm(shape[0]);
  }
}

/** The layer's record in a block's params, if the block has it. */
export function layerIn<T>(block: object, layer: BlockLayer): T | undefined {
  const part = (block as Record<string, Record<string, T> | undefined>)[layer.part];
  return layer.field === undefined ? (part as T | undefined) : part?.[layer.field];
}

/**
 * A block's params record built layer by layer from `make` (in `layers`' order), the local module's record tagged with
 * its kind. Layers for which `make` returns undefined are left out.
 */
export function assembleBlock(local: LocalModule, layers: BlockLayer[], make: (l: BlockLayer) => unknown): object {
  const block: Record<string, unknown> = {};
  for (const layer of layers) {
    const value = make(layer);
    if (value === undefined) continue;
    if (layer.field === undefined) block[layer.part] = value;
    else {
      const part = (block[layer.part] ??= layer.part === 'local' ? { kind: local } : {}) as Record<string, unknown>;
      part[layer.field] = value;
    }
  }
  return block;
}

/** New variables for the layers of a block of these dims, drawn in INIT_ORDER; `skip` leaves layers out. */
export function initLayers(local: LocalModule, dims: BlockDims, rng: Rng, skip = (_: BlockLayer) => false): object {
  const layers = presentLayers(local, dims).filter((l) => !skip(l));
  const ordered = INIT_ORDER.flatMap((part) => layers.filter((l) => l.part === part));
  return assembleBlock(local, ordered, (l) => initLayer(l, dims, rng));
}

// --- PyTorch's layouts ---------------------------------------------------------------------------------------------

/**
 * How a weight is stored here relative to PyTorch: our array seen as `view` (a reshape, no data movement) becomes
 * PyTorch's tensor by permuting its axes with `toTorch`.
 */
export interface Layout {
  view: number[];
  toTorch: number[];
}

/** The layout of a weight of this kind whose shape here is `ours` (biases and norms have PyTorch's). */
export function weightLayout(kind: LayerKind, ours: number[]): Layout {
  switch (kind) {
    case 'linear': // [in, out] -> [out, in]
      return { view: ours, toTorch: [1, 0] };
    case 'pointwise': // kernel-1 Conv1d: [in, out] -> [out, in, 1]
      return { view: [...ours, 1], toTorch: [1, 0, 2] };
    case 'depthwise1d': // [K, channels] -> [channels, 1, K]
      return { view: [...ours, 1], toTorch: [1, 2, 0] };
    case 'depthwise2d': // [k, k, channels] -> [channels, 1, k, k]
      return { view: [...ours, 1], toTorch: [2, 3, 0, 1] };
    case 'layerNorm':
    case 'batchNorm':
      return { view: ours, toTorch: ours.map((_, i) => i) };
  }
}

/** The block layer whose weight is `name` inside a block (`attn.qkv.weight`), for this local module. */
export const layerOfWeight = (local: LocalModule, name: string): BlockLayer | undefined =>
  blockLayers(local).find((l) => `${l.name}.weight` === name);

/** One tensor of the state dict: trainable parameters, or BatchNorm running statistics (buffers). */
export interface TensorShape {
  name: string;
  /** PyTorch layout: Linear [out, in], Conv1d [out, in/groups, K], Conv2d [out, in/groups, k, k]; [] is a scalar. */
  shape: number[];
  kind: 'param' | 'buffer';
}

/** The layer's state-dict tensors under `at` with their PyTorch shapes; a BatchNorm's buffers follow its parameters. */
export function layerTensors(at: string, layer: BlockLayer, dims: BlockDims): TensorShape[] {
  const ours = weightShape(layer, dims);
  const { view, toTorch } = weightLayout(layer.kind, ours);
  const channels = ours[ours.length - 1];
  const name = `${at}.${layer.name}`;
  const tensors: TensorShape[] = [
    { name: `${name}.weight`, shape: toTorch.map((axis) => view[axis]), kind: 'param' },
    { name: `${name}.bias`, shape: [channels], kind: 'param' },
  ];
  if (layer.kind !== 'batchNorm') return tensors;
  return [
    ...tensors,
    { name: `${name}.running_mean`, shape: [channels], kind: 'buffer' },
    { name: `${name}.running_var`, shape: [channels], kind: 'buffer' },
    { name: `${name}.num_batches_tracked`, shape: [], kind: 'buffer' },
  ];
}
