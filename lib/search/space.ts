// Search spaces as plain data: a base model config plus, per block, the list of candidate genes. Sampling, mutation,
// crossover and encoding are pure functions of a space and a seeded Rng, so the evolutionary search can store and
// resume its state as JSON. The paper's search space and the two stages of its search.
import {
  canonicalGene,
  GENE_FIELDS,
  MODEL_FIELDS,
  localKernel,
  validateArchitecture,
  type Architecture,
  type BlockGene,
  type ModelConfig,
} from '../model/arch';
import { modelCost, type Cost } from '../model/flops';
import type { Rng } from '../core/random';

export interface SearchSpace {
  /** Names the space in errors and in saved search states (a resumed search must use the same space). */
  name: string;
  model: ModelConfig;
  /** choices[m]: the distinct canonical genes block m may take; an architecture's code is one index per block. */
  choices: BlockGene[][];
}

// Candidate values of the paper's search space for its Tiny model.
/** ev: attention qkv ratio (head dim 64*ev). */
export const QKV_RATIOS = [0.5, 1, 2];
/** E: conv expansion. */
export const CONV_EXPANSIONS = [1, 2, 4];
/** K: conv kernel over tokens, for the paper's 14x14 patch grid; made the model's with localKernel (scaled, or 2-D). */
export const KERNEL_SIZES = [17, 31, 45];
/** r: FFN ratio. */
export const FFN_RATIOS = [2, 4, 6];

/** The low-level choices of a block (kernel at the 14x14 grid): fixed in stage 1, searched in stage 2. */
export interface LowLevelChoice {
  qkvRatio: number;
  convExpansion: number;
  kernelSize: number;
  ffnRatio: number;
}

/** Stage 1's fixed low-level choices (ev = 1, E = 2 as the code's default, K = 31, r = 4). */
export const STAGE1_FIXED: LowLevelChoice = { qkvRatio: 1, convExpansion: 2, kernelSize: 31, ffnRatio: 4 };

/** What the released code's 9-option stage-2 grid holds fixed: r for all-local blocks, ev and K for mixed blocks. */
export const OFFICIAL_GRID_FIXED = { localFfnRatio: 4, mixedQkvRatio: 1, mixedKernelSize: 31 };

export type Stage2Grid = 'paper' | 'official';

/**
 * A space from per-block candidate lists: every gene is validated against the model and made canonical, and
 * duplicates are dropped (genes that differ only in unused fields, or kernels that coincide once scaled to a small grid).
 */
export function defineSpace(name: string, model: ModelConfig, choices: BlockGene[][]): SearchSpace {
  if (choices.length !== model.depth) {
    throw new Error(`space '${name}': ${choices.length} blocks of choices but model.depth is ${model.depth}`);
  }
  const single = { ...model, depth: 1 };
  const distinct = choices.map((genes, m) => {
    if (genes.length === 0) throw new Error(`space '${name}': block ${m} has no choices`);
    const byKey = new Map<string, BlockGene>();
    genes.forEach((gene, j) => {
      const [canonical] = validateArchitecture(
        { model: single, blocks: [gene] },
        `space '${name}' block ${m} choice ${j}`,
      ).blocks;
      const key = geneKey(canonical);
      if (!byKey.has(key)) byKey.set(key, canonical);
    });
    return [...byKey.values()];
  });
  return { name, model: { ...model }, choices: distinct };
}

// --- builders ------------------------------------------------------------------------------------------------------

const product = <A, B>(as: readonly A[], bs: readonly B[]): [A, B][] =>
  as.flatMap((a) => bs.map((b): [A, B] => [a, b]));
const headCounts = (model: ModelConfig): number[] => Array.from({ length: model.heads + 1 }, (_, g) => g);
const kernels = (model: ModelConfig): number[] => KERNEL_SIZES.map((k) => localKernel(model, k));

/** Stage 1: block m chooses its number of global heads G in 0..N; the low-level choices are fixed. */
export function stage1Space(model: ModelConfig, fixed: LowLevelChoice = STAGE1_FIXED): SearchSpace {
  const kernelSize = localKernel(model, fixed.kernelSize);
  const genes = headCounts(model).map((globalHeads): BlockGene => ({ ...fixed, globalHeads, kernelSize }));
  return defineSpace(
    'stage1',
    model,
    Array.from({ length: model.depth }, () => genes),
  );
}

/**
 * Every combination of the paper's low-level values that a block with G global heads uses: ev if G > 0, E and K if
 * G < N, and r always.
 */
function paperGenes(model: ModelConfig, globalHeads: number): BlockGene[] {
  const evs: (number | null)[] = globalHeads > 0 ? QKV_RATIOS : [null];
  const local: [number | null, number | null][] =
    globalHeads < model.heads ? product(CONV_EXPANSIONS, kernels(model)) : [[null, null]];
  return product(product(evs, local), FFN_RATIOS).map(([[qkvRatio, [convExpansion, kernelSize]], ffnRatio]) => ({
    globalHeads,
    qkvRatio,
    convExpansion,
    kernelSize,
    ffnRatio,
  }));
}

/** The released code's 9 options for a block with G global heads (the option indices of glit_models.py). */
function officialGenes(model: ModelConfig, globalHeads: number): BlockGene[] {
  const f = OFFICIAL_GRID_FIXED;
  if (globalHeads === model.heads) {
    return product(QKV_RATIOS, FFN_RATIOS).map(([qkvRatio, ffnRatio]) => ({
      globalHeads,
      qkvRatio,
      convExpansion: null,
      kernelSize: null,
      ffnRatio,
    }));
  }
  if (globalHeads === 0) {
    return product(kernels(model), CONV_EXPANSIONS).map(([kernelSize, convExpansion]) => ({
      globalHeads,
      qkvRatio: null,
      convExpansion,
      kernelSize,
      ffnRatio: f.localFfnRatio,
    }));
  }
  const kernelSize = localKernel(model, f.mixedKernelSize);
  return product(CONV_EXPANSIONS, FFN_RATIOS).map(([convExpansion, ffnRatio]) => ({
    globalHeads,
    qkvRatio: f.mixedQkvRatio,
    convExpansion,
    kernelSize,
    ffnRatio,
  }));
}

/**
 * Stage 2: the head distribution (G per block, from stage 1) is fixed and each block searches its low-level choices.
 * 'official' (the hierarchical method's default) is the released code's 9-option grid; 'paper' is
 * every applicable combination (9, 27 or 81 options per block).
 */
export function stage2Space(model: ModelConfig, distribution: number[], grid: Stage2Grid = 'official'): SearchSpace {
  if (distribution.length !== model.depth) {
    throw new Error(
      `stage2Space: the distribution has ${distribution.length} entries but model.depth is ${model.depth}`,
    );
  }
  distribution.forEach((g, m) => {
    if (!Number.isInteger(g) || g < 0 || g > model.heads)
      throw new Error(`stage2Space: block ${m}: G must be an integer in 0..${model.heads}, got ${g}`);
  });
  const genes = grid === 'official' ? officialGenes : paperGenes;
  return defineSpace(
    `stage2-${grid}[${distribution.join(',')}]`,
    model,
    distribution.map((g) => genes(model, g)),
  );
}

/**
 * Table 1's rows: the same head distribution, G global heads and N - G local ones, in every block, with fixed
 * low-level choices (kernel at the 14x14 grid; stage 1's by default: G = N with them is the DeiT-style baseline).
 */
export function uniformArchitecture(
  model: ModelConfig,
  globalHeads: number,
  lowLevel: LowLevelChoice = STAGE1_FIXED,
): Architecture {
  const gene: BlockGene = { ...lowLevel, globalHeads, kernelSize: localKernel(model, lowLevel.kernelSize) };
  const name = `uniform-${globalHeads}-${model.heads - globalHeads}`;
  return validateArchitecture(
    { name, model, blocks: Array.from({ length: model.depth }, () => gene) },
    `uniformArchitecture(G = ${globalHeads})`,
  );
}

/** The flat space for SPOS on the whole space (Table 5): every G with every applicable low-level value. */
export function fullSpace(model: ModelConfig): SearchSpace {
  const genes = headCounts(model).flatMap((g) => paperGenes(model, g));
  return defineSpace(
    'full',
    model,
    Array.from({ length: model.depth }, () => genes),
  );
}

/** The NLP-NAS style space (Table 4): plain attention blocks (G = N) searching only ev and r. */
export function nlpNasSpace(model: ModelConfig): SearchSpace {
  const genes = paperGenes(model, model.heads);
  return defineSpace(
    'nlp-nas',
    model,
    Array.from({ length: model.depth }, () => genes),
  );
}

// --- keys, encoding ------------------------------------------------------------------------------------------------

const field = (v: number | null): string => (v === null ? '-' : String(v));
/** G/ev/E/K/r with '-' for unused fields, e.g. "3/0.5/-/-/4" or "0/-/2/31/4". */
const geneKey = (g: BlockGene): string =>
  `${g.globalHeads}/${field(g.qkvRatio)}/${field(g.convExpansion)}/${field(g.kernelSize)}/${g.ffnRatio}`;

/**
 * A readable string, equal for two architectures of one model config exactly when they build the same model (genes
 * are made canonical first): blocks' "G/ev/E/K/r" separated by spaces. The search de-duplicates and keys scores by it.
 */
export const archKey = (arch: Architecture): string =>
  arch.blocks.map((g) => geneKey(canonicalGene(arch.model, g))).join(' ');

/** The index of each block's gene among the space's choices; errors name the block that is not in the space. */
export function encode(space: SearchSpace, arch: Architecture): number[] {
  const canonical = validateArchitecture(arch, `encode (space '${space.name}')`);
  for (const f of MODEL_FIELDS) {
    if (canonical.model[f] !== space.model[f]) {
      throw new Error(
        `architecture is not in space '${space.name}': model.${f} is ${canonical.model[f]}, the space's is ${space.model[f]}`,
      );
    }
  }
  return canonical.blocks.map((gene, m) => {
    const index = space.choices[m].findIndex((c) => GENE_FIELDS.every((f) => c[f] === gene[f]));
    if (index < 0) {
      throw new Error(
        `architecture is not in space '${space.name}': block ${m} gene ${geneKey(gene)} (G/ev/E/K/r) is not one of its ${space.choices[m].length} choices`,
      );
    }
    return index;
  });
}

/** The architecture with choice code[m] in block m (copies, so callers may edit it without touching the space). */
export function decode(space: SearchSpace, code: readonly number[]): Architecture {
  if (code.length !== space.choices.length) {
    throw new Error(
      `decode (space '${space.name}'): the code has ${code.length} entries but the space has ${space.choices.length} blocks`,
    );
  }
  const blocks = code.map((j, m) => {
    const gene = space.choices[m][j];
    if (!Number.isInteger(j) || gene === undefined) {
      throw new Error(
        `decode (space '${space.name}'): block ${m}: index ${j} is not in 0..${space.choices[m].length - 1}`,
      );
    }
    return { ...gene };
  });
  return { model: { ...space.model }, blocks };
}

// --- sampling and variation ----------------------------------------------------------------------------------------
// On codes (what the search stores) and, through encode/decode, on architectures.

/** Every block's choice uniformly at random. */
export const sampleCode = (space: SearchSpace, rng: Rng): number[] => space.choices.map((c) => rng.int(c.length));

/** Each block, with the given probability, takes a uniformly random choice (possibly its current one, as in SPOS). */
export const mutateCode = (space: SearchSpace, code: readonly number[], rng: Rng, probability: number): number[] =>
  code.map((j, m) => (rng.uniform() < probability ? rng.int(space.choices[m].length) : j));

/** Uniform crossover: each block's choice from one parent or the other with equal probability. */
export const crossoverCode = (a: readonly number[], b: readonly number[], rng: Rng): number[] =>
  a.map((j, m) => (rng.uniform() < 0.5 ? j : b[m]));

export const sample = (space: SearchSpace, rng: Rng): Architecture => decode(space, sampleCode(space, rng));

export const mutate = (space: SearchSpace, arch: Architecture, rng: Rng, probability: number): Architecture =>
  decode(space, mutateCode(space, encode(space, arch), rng, probability));

export const crossover = (space: SearchSpace, a: Architecture, b: Architecture, rng: Rng): Architecture =>
  decode(space, crossoverCode(encode(space, a), encode(space, b), rng));

// --- size ----------------------------------------------------------------------------------------------------------

export interface SpaceSize {
  /** As a float (exact below 2^53). */
  count: number;
  /** Exact, in decimal. */
  exact: string;
  log10: number;
}

function sizeOf(perBlock: number[]): SpaceSize {
  const exact = perBlock.reduce((n, c) => n * BigInt(c), BigInt(1));
  return { count: Number(exact), exact: exact.toString(), log10: perBlock.reduce((s, c) => s + Math.log10(c), 0) };
}

/** Distinct architectures: the product of the blocks' choice counts (each choice is a different model). */
export const spaceSize = (space: SearchSpace): SpaceSize => sizeOf(space.choices.map((c) => c.length));

/**
 * The paper's count ((N+1)*V1*V2*V3*V4)^M, generalised: per block, the product of the number of values each field
 * takes among its choices. It counts a block's unused fields as if they changed the model (E and K of an all-global
 * block, ev of an all-local one), so it exceeds spaceSize when a block's choices differ in G: for the full Tiny space it
 * is 324^12 ~ 1.3e30 where the distinct count is (27 + 81 + 81 + 9)^12 = 198^12 ~ 3.6e27. Equal to spaceSize otherwise.
 */
export function paperFormulaSize(space: SearchSpace): SpaceSize {
  const values = (genes: BlockGene[], f: (typeof GENE_FIELDS)[number]) =>
    Math.max(1, new Set(genes.map((g) => g[f]).filter((v) => v !== null)).size);
  return sizeOf(space.choices.map((genes) => GENE_FIELDS.reduce((n, f) => n * values(genes, f), 1)));
}

// --- cost budget ---------------------------------------------------------------------------------------------------

/** A constraint on candidates. FLOPs are the official count (modelCost's flops, what the paper reports). */
export interface Budget {
  maxFlops?: number;
  minFlops?: number;
  maxParams?: number;
}

export const withinBudget = (cost: Pick<Cost, 'flops' | 'params'>, budget: Budget): boolean =>
  (budget.maxFlops === undefined || cost.flops <= budget.maxFlops) &&
  (budget.minFlops === undefined || cost.flops >= budget.minFlops) &&
  (budget.maxParams === undefined || cost.params <= budget.maxParams);

export interface CostRange {
  flops: [number, number];
  params: [number, number];
}

/**
 * The smallest and largest FLOPs and parameters of the space's architectures: a block's cost depends on its gene
 * alone, so the extremes are sums of per-block extremes (each gene costed on a one-block copy of the model).
 */
export function costRange(space: SearchSpace): CostRange {
  const single = { ...space.model, depth: 1 };
  const { stem, head } = modelCost({ model: single, blocks: [space.choices[0][0]] });
  const blockCosts = space.choices.map((genes) =>
    genes.map((gene) => modelCost({ model: single, blocks: [gene] }).blocks[0]),
  );
  const range = (pick: (c: Cost) => number): [number, number] => {
    const sum = (extreme: (...v: number[]) => number) =>
      pick(stem) + pick(head) + blockCosts.reduce((n, costs) => n + extreme(...costs.map(pick)), 0);
    return [sum(Math.min), sum(Math.max)];
  };
  return { flops: range((c) => c.flops), params: range((c) => c.params) };
}

const millions = (n: number): string => `${(n / 1e6).toFixed(2)}M`;

/** Throws, naming the space's feasible range, when no architecture of the space can meet the budget. */
export function checkBudget(space: SearchSpace, budget: Budget): void {
  const { flops, params } = costRange(space);
  const fail = (what: string): never => {
    throw new Error(
      `budget ${JSON.stringify(budget)} is infeasible in space '${space.name}': ${what} ` +
        `(the space spans ${millions(flops[0])}..${millions(flops[1])} FLOPs, official count, and ${millions(params[0])}..${millions(params[1])} params)`,
    );
  };
  if (budget.minFlops !== undefined && budget.maxFlops !== undefined && budget.minFlops > budget.maxFlops)
    fail('minFlops > maxFlops');
  if (budget.maxFlops !== undefined && budget.maxFlops < flops[0])
    fail(`maxFlops ${millions(budget.maxFlops)} is below the smallest architecture`);
  if (budget.minFlops !== undefined && budget.minFlops > flops[1])
    fail(`minFlops ${millions(budget.minFlops)} is above the largest architecture`);
  if (budget.maxParams !== undefined && budget.maxParams < params[0])
    fail(`maxParams ${millions(budget.maxParams)} is below the smallest architecture`);
}

/**
 * Uniform samples until one meets the budget: uniform over the architectures within it. Cheap enough to call every
 * training step; the space's range is only computed to explain a failure.
 */
export function sampleWithin(space: SearchSpace, rng: Rng, budget: Budget, maxTries = 10000): Architecture {
  for (let i = 0; i < maxTries; i++) {
    const arch = sample(space, rng);
    if (withinBudget(modelCost(arch), budget)) return arch;
  }
  checkBudget(space, budget);
  const { flops } = costRange(space);
  throw new Error(
    `sampleWithin: no architecture of space '${space.name}' met ${JSON.stringify(budget)} in ${maxTries} samples; ` +
      `the budget is feasible (the space spans ${millions(flops[0])}..${millions(flops[1])} FLOPs) but holds a tiny fraction of the space: widen it or raise maxTries`,
  );
}

/** The forms a space spec takes, for --help. */
export const SPACE_SPEC_HELP = 'stage1 | stage2:<G per block, e.g. 3,0,1,3,0,1>[:paper] | full | nlp-nas';

/** A space from its command-line name: `stage1`, `stage2:3,0,1,3,0,1` (official grid; `:paper` for the full grid), `full`, `nlp-nas`. */
export function spaceFromSpec(spec: string, model: ModelConfig): SearchSpace {
  const [kind, distribution, grid] = spec.split(':');
  if (kind === 'stage1' && distribution === undefined) return stage1Space(model);
  if (kind === 'full' && distribution === undefined) return fullSpace(model);
  if (kind === 'nlp-nas' && distribution === undefined) return nlpNasSpace(model);
  if (
    kind === 'stage2' &&
    distribution !== undefined &&
    (grid === undefined || grid === 'paper' || grid === 'official')
  ) {
    const heads = distribution.split(',').map(Number);
    if (heads.length !== model.depth || heads.some((g) => !Number.isInteger(g) || g < 0 || g > model.heads)) {
      throw new Error(
        `space '${spec}': the distribution needs ${model.depth} integers in 0..${model.heads} (G per block), got '${distribution}'`,
      );
    }
    return stage2Space(model, heads, (grid ?? 'official') as Stage2Grid);
  }
  throw new Error(`space '${spec}' is not a space: use ${SPACE_SPEC_HELP}`);
}
