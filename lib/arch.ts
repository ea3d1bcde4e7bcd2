import { existsSync, readFileSync } from 'node:fs';

// Architectures as plain data: a model config plus one gene per block. JSON in, JSON out, validated on the way in.
// Spec sections 1, 2 and 4. Paper symbols: C width, N heads, M depth, G global heads, L = N - G local heads,
// ev qkv ratio, E conv expansion, K conv kernel, r FFN ratio.

export interface ModelConfig {
  imageSize: number;
  inChannels: number;
  patchSize: number;
  /** C: token width. */
  width: number;
  /** N: heads per block (global + local). Each head is width / heads channels of the block input. */
  heads: number;
  /** M: number of blocks. */
  depth: number;
  numClasses: number;
  /** FFN activation: the official code uses exact GELU; the paper's text says Swish. */
  ffnActivation: 'gelu' | 'swish';
}

/** One block's choices. Fields a block does not use are null: qkvRatio when G = 0, the conv fields when G = N. */
export interface BlockGene {
  /** G: heads that run self-attention; the other L = N - G heads form the 1-D conv module. */
  globalHeads: number;
  /** ev: attention head dim = (width / heads) * ev. */
  qkvRatio: number | null;
  /** E: the conv path's channel expansion. */
  convExpansion: number | null;
  /** K: the depthwise conv kernel, over tokens (odd). */
  kernelSize: number | null;
  /** r: FFN hidden width = r * width. */
  ffnRatio: number;
}

export interface Architecture {
  name?: string;
  model: ModelConfig;
  blocks: BlockGene[];
}

export class ArchitectureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchitectureError';
  }
}

export const headDim = (m: ModelConfig): number => m.width / m.heads;
export const gridSize = (m: ModelConfig): number => m.imageSize / m.patchSize;
/** Tokens per image: patches plus the CLS token. */
export const tokenCount = (m: ModelConfig): number => gridSize(m) ** 2 + 1;
/** Channels of a block's input that go to attention (Cg) and to the conv path (Cl). */
export const globalChannels = (m: ModelConfig, g: BlockGene): number => headDim(m) * g.globalHeads;
export const localChannels = (m: ModelConfig, g: BlockGene): number => m.width - globalChannels(m, g);

/** Kernel sizes are given for the paper's 14x14 patch grid; scale them to another grid (same span in rows), kept odd. */
export function scaleKernel(kernelAt14: number, grid: number): number {
  const k = Math.round((kernelAt14 * grid) / 14);
  return Math.max(1, k % 2 === 1 ? k : k + 1);
}

/** The gene with the fields that its head distribution does not use set to null, so equal models compare equal. */
export function canonicalGene(m: ModelConfig, g: BlockGene): BlockGene {
  const hasGlobal = g.globalHeads > 0;
  const hasLocal = g.globalHeads < m.heads;
  return {
    globalHeads: g.globalHeads,
    qkvRatio: hasGlobal ? g.qkvRatio : null,
    convExpansion: hasLocal ? g.convExpansion : null,
    kernelSize: hasLocal ? g.kernelSize : null,
    ffnRatio: g.ffnRatio,
  };
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Checks a parsed JSON value and returns it as a canonical Architecture; errors name the field and what to do. */
export function validateArchitecture(value: unknown, source = 'architecture'): Architecture {
  const fail = (where: string, what: string): never => {
    throw new ArchitectureError(`${source}: ${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail('top level', 'expected an object with "model" and "blocks"');
  const v = value as Record<string, unknown>;
  const m = v.model as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null) fail('model', 'missing: expected {imageSize, inChannels, patchSize, width, heads, depth, numClasses}');
  for (const key of ['imageSize', 'inChannels', 'patchSize', 'width', 'heads', 'depth', 'numClasses'] as const) {
    if (!positiveInt(m![key])) fail(`model.${key}`, `must be a positive integer, got ${JSON.stringify(m![key])}`);
  }
  const ffnActivation = (m!.ffnActivation ?? 'gelu') as ModelConfig['ffnActivation'];
  if (ffnActivation !== 'gelu' && ffnActivation !== 'swish') fail('model.ffnActivation', `must be "gelu" or "swish", got ${JSON.stringify(ffnActivation)}`);
  const model: ModelConfig = {
    imageSize: m!.imageSize as number,
    inChannels: m!.inChannels as number,
    patchSize: m!.patchSize as number,
    width: m!.width as number,
    heads: m!.heads as number,
    depth: m!.depth as number,
    numClasses: m!.numClasses as number,
    ffnActivation,
  };
  if (model.imageSize % model.patchSize !== 0) fail('model.patchSize', `${model.patchSize} does not divide imageSize ${model.imageSize}`);
  if (model.width % model.heads !== 0) fail('model.width', `${model.width} is not divisible by heads ${model.heads}`);
  if (!Array.isArray(v.blocks)) fail('blocks', 'missing: expected an array with one gene per block');
  const blocks = v.blocks as unknown[];
  if (blocks.length !== model.depth) fail('blocks', `has ${blocks.length} genes but model.depth is ${model.depth}`);
  const genes = blocks.map((b, i): BlockGene => {
    const at = (field: string) => `blocks[${i}].${field}`;
    if (typeof b !== 'object' || b === null) fail(`blocks[${i}]`, 'expected an object');
    const raw = b as Record<string, unknown>;
    const g = raw.globalHeads;
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > model.heads) fail(at('globalHeads'), `G must be an integer in 0..${model.heads}, got ${JSON.stringify(g)}`);
    const gene = { globalHeads: g, qkvRatio: raw.qkvRatio ?? null, convExpansion: raw.convExpansion ?? null, kernelSize: raw.kernelSize ?? null, ffnRatio: raw.ffnRatio } as BlockGene;
    if (!positive(gene.ffnRatio) || !Number.isInteger(gene.ffnRatio * model.width)) fail(at('ffnRatio'), `r must be positive with r*width an integer, got ${JSON.stringify(raw.ffnRatio)}`);
    if ((g as number) > 0) {
      const ev = gene.qkvRatio;
      if (!positive(ev)) fail(at('qkvRatio'), `ev is needed when globalHeads > 0 and must be positive, got ${JSON.stringify(raw.qkvRatio)}`);
      if (!Number.isInteger(headDim(model) * (ev as number))) fail(at('qkvRatio'), `head dim ${headDim(model)} * ev ${ev} is not an integer`);
    }
    if ((g as number) < model.heads) {
      if (!positiveInt(gene.convExpansion)) fail(at('convExpansion'), `E is needed when globalHeads < heads and must be a positive integer, got ${JSON.stringify(raw.convExpansion)}`);
      const k = gene.kernelSize;
      if (!positiveInt(k)) fail(at('kernelSize'), `K is needed when globalHeads < heads and must be a positive integer, got ${JSON.stringify(raw.kernelSize)}`);
      if ((k as number) % 2 === 0) fail(at('kernelSize'), `K must be odd for "same" padding, got ${k}`);
    }
    return canonicalGene(model, gene);
  });
  return { ...(typeof v.name === 'string' ? { name: v.name } : {}), model, blocks: genes };
}

export function parseArchitecture(json: string, source = 'architecture'): Architecture {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new ArchitectureError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  return validateArchitecture(value, source);
}

export const architectureToJson = (a: Architecture): string => JSON.stringify(a, null, 2) + '\n';

// --- presets -------------------------------------------------------------------------------------------------------

const TINY: ModelConfig = { imageSize: 224, inChannels: 3, patchSize: 16, width: 192, heads: 3, depth: 12, numClasses: 1000, ffnActivation: 'gelu' };
/** Proxy for the embedded 28x28 grey datasets: patch 4 gives a 7x7 grid (49 tokens + CLS). */
const PROXY: ModelConfig = { imageSize: 28, inChannels: 1, patchSize: 4, width: 96, heads: 3, depth: 6, numClasses: 10, ffnActivation: 'gelu' };

const attention = (qkvRatio: number, ffnRatio: number): BlockGene => ({ globalHeads: 3, qkvRatio, convExpansion: null, kernelSize: null, ffnRatio });
const conv = (convExpansion: number, kernelSize: number, ffnRatio: number): BlockGene => ({ globalHeads: 0, qkvRatio: null, convExpansion, kernelSize, ffnRatio });
const mixed = (globalHeads: number, qkvRatio: number, convExpansion: number, kernelSize: number, ffnRatio: number): BlockGene => ({ globalHeads, qkvRatio, convExpansion, kernelSize, ffnRatio });

/** The searched GLiT-Tiny of the official code (spec section 4), at the paper's 14x14 grid. */
const GLIT_TINY_BLOCKS: BlockGene[] = [
  attention(0.5, 4), conv(2, 31, 4), mixed(1, 1, 4, 31, 6), attention(1, 4), conv(4, 45, 4), mixed(1, 1, 4, 31, 6),
  attention(1, 2), mixed(1, 1, 4, 31, 2), conv(4, 45, 4), attention(1, 4), conv(4, 31, 4), attention(2, 6),
];

function withKernelsFor(model: ModelConfig, blocks: BlockGene[]): BlockGene[] {
  const grid = gridSize(model);
  return blocks.map((b) => (b.kernelSize === null ? b : { ...b, kernelSize: scaleKernel(b.kernelSize, grid) }));
}

export const PRESETS: Record<string, () => Architecture> = {
  'deit-tiny': () => ({ name: 'deit-tiny', model: TINY, blocks: Array.from({ length: 12 }, () => attention(1, 4)) }),
  'glit-tiny': () => ({ name: 'glit-tiny', model: TINY, blocks: GLIT_TINY_BLOCKS }),
  /** DeiT-style baseline on the 28x28 proxy: all heads global, ev 1, r 4. */
  'deit-proxy': () => ({ name: 'deit-proxy', model: PROXY, blocks: Array.from({ length: PROXY.depth }, () => attention(1, 4)) }),
  /** GLiT-Tiny's first six blocks on the 28x28 proxy, kernels scaled from the 14x14 grid to 7x7 (31 -> 17, 45 -> 23). */
  'glit-proxy': () => ({ name: 'glit-proxy', model: PROXY, blocks: withKernelsFor(PROXY, GLIT_TINY_BLOCKS.slice(0, PROXY.depth)) }),
};

/** A preset by name, with a list of the names when it is not one. */
export function presetArchitecture(name: string): Architecture {
  const make = PRESETS[name];
  if (!make) throw new ArchitectureError(`unknown architecture preset '${name}': use one of ${Object.keys(PRESETS).join(', ')}, or a path to an architecture .json file`);
  return validateArchitecture(make(), `preset ${name}`);
}

/** A preset name or a path to an architecture JSON file (as written by the search, or by hand). */
export function loadArchitecture(ref: string): Architecture {
  if (PRESETS[ref]) return presetArchitecture(ref);
  if (!existsSync(ref)) {
    throw new ArchitectureError(`'${ref}' is neither an architecture preset (${Object.keys(PRESETS).join(', ')}) nor an existing .json file`);
  }
  return parseArchitecture(readFileSync(ref, 'utf8'), ref);
}
