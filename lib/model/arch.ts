import { existsSync } from 'node:fs';
import { readFileChecked } from '../io/read-file';
import { unknownField } from '../core/nearest-name';
import { showValue } from '../core/show-value';

// Architectures as plain data: a model config plus one gene per block. JSON in, JSON out, validated on the way in.
// The paper's GL block (Figure 2) and search space, the official GLiT-Tiny (glit_models.py) and Table 6's local
// modules. Paper symbols: C width, N heads, M depth, G global heads,
// L = N - G local heads, ev qkv ratio, E conv expansion, K conv kernel, r FFN ratio.

/**
 * What the L local heads of a block are (Table 6; lib/model/local-modules.ts): 'conv1d' the paper's conv module over the 1-D token
 * sequence (the default); 'window-attention' self-attention restricted to a window of localWindow tokens of that
 * sequence; 'conv2d' the conv module with a k x k depthwise conv on the patch grid (no CLS token).
 */
export type LocalModule = 'conv1d' | 'window-attention' | 'conv2d';
export const LOCAL_MODULES: readonly LocalModule[] = ['conv1d', 'window-attention', 'conv2d'];

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
  /** The local heads' module (default 'conv1d'). */
  localModule: LocalModule;
  /** w: the window of 'window-attention', in tokens of this model (odd: centred on each token); null otherwise. */
  localWindow: number | null;
  /**
   * true (default): DeiT's CLS token leads the sequence and the classifier reads it. false: no CLS token, the classifier
   * reads the average of the patch tokens after the final LayerNorm (global average pooling); 'conv2d' needs this.
   */
  classToken: boolean;
}

/**
 * One block's choices. Fields a block does not use are null: qkvRatio when G = 0, the conv fields when G = N or when
 * the local heads are window attention.
 */
export interface BlockGene {
  /** G: heads that run self-attention; the other L = N - G heads form the 1-D conv module. */
  globalHeads: number;
  /** ev: attention head dim = (width / heads) * ev. */
  qkvRatio: number | null;
  /** E: the conv path's channel expansion. Null with window attention, whose local heads have no choices. */
  convExpansion: number | null;
  /** K: the depthwise conv kernel (odd): taps over tokens, or with 'conv2d' the side of the k x k kernel on the grid. */
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
export const patchCount = (m: ModelConfig): number => gridSize(m) ** 2;
/** Tokens per image: patches plus the CLS token when the model has one. */
export const tokenCount = (m: ModelConfig): number => patchCount(m) + (m.classToken ? 1 : 0);
/** Channels of a block's input that go to attention (Cg) and to the conv path (Cl). */
export const globalChannels = (m: ModelConfig, g: BlockGene): number => headDim(m) * g.globalHeads;
export const localChannels = (m: ModelConfig, g: BlockGene): number => m.width - globalChannels(m, g);

/**
 * Kernel sizes are given for the paper's 14x14 patch grid; scale them to another grid (same span in rows), kept odd.
 * Table 6's attention windows (14, 28, 49 tokens) scale the same way, so the conv kernel they are compared with keeps its
 * place among them (31 between 28 and 49; at the 7x7 proxy 17 between 15 and 25). An even size becomes the next odd
 * one, centred: the paper's 14 is 15 tokens here.
 */
export function scaleKernel(kernelAt14: number, grid: number): number {
  const k = Math.round((kernelAt14 * grid) / 14);
  return Math.max(1, k % 2 === 1 ? k : k + 1);
}

/**
 * The k x k kernel of a 2-D conv that reaches as many rows up and down as a 1-D conv of `kernel1d` taps over the
 * row-major tokens of a grid x grid patch grid does ((K - 1) / 2 tokens is (K - 1) / (2 grid) rows), at most the grid.
 * Grid-independent for scaled kernels: 17, 31, 45 at 14x14 (9, 17, 23 at 7x7) give 3, 3, 5.
 */
export function conv2dKernel(kernel1d: number, grid: number): number {
  const k = 2 * Math.round((kernel1d - 1) / (2 * grid)) + 1;
  return Math.min(k, grid % 2 === 1 ? grid : grid - 1);
}

/** The kernel a local conv of this model uses for a kernel given at the paper's 14x14 grid (1-D over tokens). */
export function localKernel(m: ModelConfig, kernelAt14: number): number {
  const kernel1d = scaleKernel(kernelAt14, gridSize(m));
  return m.localModule === 'conv2d' ? conv2dKernel(kernel1d, gridSize(m)) : kernel1d;
}

/** The gene with the fields that its head distribution does not use set to null, so equal models compare equal. */
export function canonicalGene(m: ModelConfig, g: BlockGene): BlockGene {
  const hasGlobal = g.globalHeads > 0;
  const hasConv = g.globalHeads < m.heads && m.localModule !== 'window-attention';
  return {
    globalHeads: g.globalHeads,
    qkvRatio: hasGlobal ? g.qkvRatio : null,
    convExpansion: hasConv ? g.convExpansion : null,
    kernelSize: hasConv ? g.kernelSize : null,
    ffnRatio: g.ffnRatio,
  };
}

const ARCHITECTURE_FIELDS = ['name', 'model', 'blocks'] as const;
/** The fields of a model config and of a gene, in their JSON order. */
export const MODEL_FIELDS = [
  'imageSize',
  'inChannels',
  'patchSize',
  'width',
  'heads',
  'depth',
  'numClasses',
  'ffnActivation',
  'localModule',
  'localWindow',
  'classToken',
] as const satisfies readonly (keyof ModelConfig)[];
export const GENE_FIELDS = [
  'globalHeads',
  'qkvRatio',
  'convExpansion',
  'kernelSize',
  'ffnRatio',
] as const satisfies readonly (keyof BlockGene)[];

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Checks a parsed JSON value and returns it as a canonical Architecture; errors name the field and what to do. */
export function validateArchitecture(value: unknown, source = 'architecture'): Architecture {
  const fail = (where: string, what: string): never => {
    throw new ArchitectureError(`${source}: ${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('top level', 'expected an object with "model" and "blocks"');
  const v = value as Record<string, unknown>;
  const known = (where: string, object: Record<string, unknown>, fields: readonly string[]) => {
    for (const key of Object.keys(object)) if (!fields.includes(key)) fail(where, unknownField(key, fields));
  };
  known('top level', v, ARCHITECTURE_FIELDS);
  const m = v.model as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    fail('model', 'missing: expected {imageSize, inChannels, patchSize, width, heads, depth, numClasses}');
  known('model', m!, MODEL_FIELDS);
  for (const key of ['imageSize', 'inChannels', 'patchSize', 'width', 'heads', 'depth', 'numClasses'] as const) {
    if (!positiveInt(m![key])) fail(`model.${key}`, `must be a positive integer, got ${showValue(m![key])}`);
  }
  const ffnActivation = (m!.ffnActivation ?? 'gelu') as ModelConfig['ffnActivation'];
  if (ffnActivation !== 'gelu' && ffnActivation !== 'swish')
    fail('model.ffnActivation', `must be "gelu" or "swish", got ${showValue(ffnActivation)}`);
  const localModule = (m!.localModule ?? 'conv1d') as LocalModule;
  if (!LOCAL_MODULES.includes(localModule))
    fail(
      'model.localModule',
      `must be one of ${LOCAL_MODULES.map((l) => `"${l}"`).join(', ')}, got ${showValue(localModule)}`,
    );
  const classToken = (m!.classToken ?? true) as boolean;
  if (typeof classToken !== 'boolean') fail('model.classToken', `must be true or false, got ${showValue(classToken)}`);
  const model: ModelConfig = {
    imageSize: m!.imageSize as number,
    inChannels: m!.inChannels as number,
    patchSize: m!.patchSize as number,
    width: m!.width as number,
    heads: m!.heads as number,
    depth: m!.depth as number,
    numClasses: m!.numClasses as number,
    ffnActivation,
    localModule,
    localWindow: (m!.localWindow ?? null) as number | null,
    classToken,
  };
  if (model.imageSize % model.patchSize !== 0)
    fail('model.patchSize', `${model.patchSize} does not divide imageSize ${model.imageSize}`);
  if (model.width % model.heads !== 0) fail('model.width', `${model.width} is not divisible by heads ${model.heads}`);
  const w = model.localWindow;
  if (localModule === 'window-attention') {
    const tokens = tokenCount(model);
    if (!positiveInt(w) || w % 2 === 0 || w > tokens) {
      fail(
        'model.localWindow',
        `window attention needs an odd window w (centred on each token) of at most the ${tokens} tokens, got ${showValue(m!.localWindow)}`,
      );
    }
  } else if (w !== null) {
    fail(
      'model.localWindow',
      `only applies to localModule "window-attention" (this model's is "${localModule}"): remove it`,
    );
  }
  if (localModule === 'conv2d' && classToken) {
    fail(
      'model.classToken',
      'localModule "conv2d" convolves the patch grid, which has no place for a CLS token: set classToken to false (the paper\'s 2-D variant pools the patch tokens instead)',
    );
  }
  const grid = gridSize(model);
  if (!Array.isArray(v.blocks)) fail('blocks', 'missing: expected an array with one gene per block');
  const blocks = v.blocks as unknown[];
  if (blocks.length !== model.depth) fail('blocks', `has ${blocks.length} genes but model.depth is ${model.depth}`);
  const genes = blocks.map((b, i): BlockGene => {
    const at = (field: string) => `blocks[${i}].${field}`;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) fail(`blocks[${i}]`, 'expected an object');
    const raw = b as Record<string, unknown>;
    known(`blocks[${i}]`, raw, GENE_FIELDS);
    const g = raw.globalHeads;
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > model.heads)
      fail(at('globalHeads'), `G must be an integer in 0..${model.heads}, got ${showValue(g)}`);
    const gene = {
      globalHeads: g,
      qkvRatio: raw.qkvRatio ?? null,
      convExpansion: raw.convExpansion ?? null,
      kernelSize: raw.kernelSize ?? null,
      ffnRatio: raw.ffnRatio,
    } as BlockGene;
    if (!positive(gene.ffnRatio) || !Number.isInteger(gene.ffnRatio * model.width))
      fail(at('ffnRatio'), `r must be positive with r*width an integer, got ${showValue(raw.ffnRatio)}`);
    if ((g as number) > 0) {
      const ev = gene.qkvRatio;
      if (!positive(ev))
        fail(at('qkvRatio'), `ev is needed when globalHeads > 0 and must be positive, got ${showValue(raw.qkvRatio)}`);
      if (!Number.isInteger(headDim(model) * (ev as number)))
        fail(at('qkvRatio'), `head dim ${headDim(model)} * ev ${ev} is not an integer`);
    }
    if ((g as number) < model.heads && localModule !== 'window-attention') {
      if (!positiveInt(gene.convExpansion))
        fail(
          at('convExpansion'),
          `E is needed when globalHeads < heads and must be a positive integer, got ${showValue(raw.convExpansion)}`,
        );
      const k = gene.kernelSize;
      if (!positiveInt(k))
        fail(
          at('kernelSize'),
          `K is needed when globalHeads < heads and must be a positive integer, got ${showValue(raw.kernelSize)}`,
        );
      if ((k as number) % 2 === 0) fail(at('kernelSize'), `K must be odd for "same" padding, got ${k}`);
      if (localModule === 'conv2d' && (k as number) > grid)
        fail(
          at('kernelSize'),
          `with localModule "conv2d" K is the side of a k x k kernel and must be at most the ${grid}x${grid} patch grid, got ${k}`,
        );
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

/**
 * A conv1d architecture with its local heads swapped for another module (Table 6), keeping the head distribution, ev
 * and r. 'conv2d' drops the CLS token and turns each kernel into conv2dKernel's; 'window-attention' takes `window` in
 * tokens of this model (the paper's 14, 28, 49 scaled with scaleKernel).
 */
export function withLocalModule(
  arch: Architecture,
  localModule: LocalModule,
  window: number | null = null,
): Architecture {
  const m = arch.model;
  const source = `withLocalModule(${arch.name ?? 'architecture'}, ${localModule})`;
  if (m.localModule !== 'conv1d')
    throw new ArchitectureError(
      `${source}: model.localModule is "${m.localModule}": convert from a "conv1d" architecture`,
    );
  const grid = gridSize(m);
  const blocks = arch.blocks.map((b) =>
    localModule === 'conv2d' && b.kernelSize !== null ? { ...b, kernelSize: conv2dKernel(b.kernelSize, grid) } : b,
  );
  const model = { ...m, localModule, localWindow: window, classToken: m.classToken && localModule !== 'conv2d' };
  const name =
    arch.name === undefined ? {} : { name: `${arch.name}-${localModule}${window === null ? '' : `-${window}`}` };
  return validateArchitecture({ ...name, model, blocks }, source);
}

export const architectureToJson = (a: Architecture): string => JSON.stringify(a, null, 2) + '\n';

// --- presets -------------------------------------------------------------------------------------------------------

const PAPER_DEFAULTS = { ffnActivation: 'gelu', localModule: 'conv1d', localWindow: null, classToken: true } as const;
const TINY: ModelConfig = {
  imageSize: 224,
  inChannels: 3,
  patchSize: 16,
  width: 192,
  heads: 3,
  depth: 12,
  numClasses: 1000,
  ...PAPER_DEFAULTS,
};
/** Proxy for the embedded 28x28 grey datasets: patch 4 gives a 7x7 grid (49 tokens + CLS). */
const PROXY: ModelConfig = {
  imageSize: 28,
  inChannels: 1,
  patchSize: 4,
  width: 96,
  heads: 3,
  depth: 6,
  numClasses: 10,
  ...PAPER_DEFAULTS,
};

const attention = (qkvRatio: number, ffnRatio: number): BlockGene => ({
  globalHeads: 3,
  qkvRatio,
  convExpansion: null,
  kernelSize: null,
  ffnRatio,
});
const conv = (convExpansion: number, kernelSize: number, ffnRatio: number): BlockGene => ({
  globalHeads: 0,
  qkvRatio: null,
  convExpansion,
  kernelSize,
  ffnRatio,
});
const mixed = (
  globalHeads: number,
  qkvRatio: number,
  convExpansion: number,
  kernelSize: number,
  ffnRatio: number,
): BlockGene => ({ globalHeads, qkvRatio, convExpansion, kernelSize, ffnRatio });

/** The searched GLiT-Tiny of the official code (glit_models.py; the paper's Figure 5), at the paper's 14x14 grid. */
const GLIT_TINY_BLOCKS: BlockGene[] = [
  attention(0.5, 4),
  conv(2, 31, 4),
  mixed(1, 1, 4, 31, 6),
  attention(1, 4),
  conv(4, 45, 4),
  mixed(1, 1, 4, 31, 6),
  attention(1, 2),
  mixed(1, 1, 4, 31, 2),
  conv(4, 45, 4),
  attention(1, 4),
  conv(4, 31, 4),
  attention(2, 6),
];

function withKernelsFor(model: ModelConfig, blocks: BlockGene[]): BlockGene[] {
  return blocks.map((b) => (b.kernelSize === null ? b : { ...b, kernelSize: localKernel(model, b.kernelSize) }));
}

export const PRESETS: Record<string, () => Architecture> = {
  'deit-tiny': () => ({ name: 'deit-tiny', model: TINY, blocks: Array.from({ length: 12 }, () => attention(1, 4)) }),
  'glit-tiny': () => ({ name: 'glit-tiny', model: TINY, blocks: GLIT_TINY_BLOCKS }),
  /** DeiT-style baseline on the 28x28 proxy: all heads global, ev 1, r 4. */
  'deit-proxy': () => ({
    name: 'deit-proxy',
    model: PROXY,
    blocks: Array.from({ length: PROXY.depth }, () => attention(1, 4)),
  }),
  /** GLiT-Tiny's first six blocks on the 28x28 proxy, kernels scaled from the 14x14 grid to 7x7 (31 -> 17, 45 -> 23). */
  'glit-proxy': () => ({
    name: 'glit-proxy',
    model: PROXY,
    blocks: withKernelsFor(PROXY, GLIT_TINY_BLOCKS.slice(0, PROXY.depth)),
  }),
};

/** A preset by name, with a list of the names when it is not one. */
export function presetArchitecture(name: string): Architecture {
  const make = PRESETS[name];
  if (!make)
    throw new ArchitectureError(
      `unknown architecture preset '${name}': use one of ${Object.keys(PRESETS).join(', ')}, or a path to an architecture .json file`,
    );
  return validateArchitecture(make(), `preset ${name}`);
}

/** A preset name or a path to an architecture JSON file (as written by the search, or by hand). */
export function loadArchitecture(ref: string): Architecture {
  if (PRESETS[ref]) return presetArchitecture(ref);
  if (!existsSync(ref)) {
    throw new ArchitectureError(
      `'${ref}' is neither an architecture preset (${Object.keys(PRESETS).join(', ')}) nor an existing .json file`,
    );
  }
  return parseArchitecture(readFileChecked(ref).toString('utf8'), ref);
}
