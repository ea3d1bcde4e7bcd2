// What the search spaces hold, in numbers: their sizes, cost ranges, and the FLOPs and parameters of uniform random
// samples (what a supernet draws from before the budget filter). Notebook 02 tabulates and plots these.
import type { ModelConfig } from '../model/arch';
import { modelCost } from '../model/flops';
import { Rng } from '../core/random';
import {
  costRange,
  fullSpace,
  nlpNasSpace,
  paperFormulaSize,
  sample,
  spaceSize,
  stage1Space,
  stage2Space,
  withinBudget,
  type Budget,
  type CostRange,
  type SearchSpace,
  type SpaceSize,
} from '../search/space';

export interface LabelledSpace {
  /** For tables and legends: the spaces' own names carry the whole distribution. */
  label: string;
  space: SearchSpace;
}

/**
 * The paper's spaces for one model: stage 1, stage 2 on the released code's grid and on the paper's full grid (both
 * for the given head distribution, G per block), the flat space of Table 5 and the NLP-NAS space of Table 4.
 */
export function paperSpaces(model: ModelConfig, distribution: number[]): LabelledSpace[] {
  return [
    { label: 'stage 1 (G per block)', space: stage1Space(model) },
    { label: 'stage 2, official grid', space: stage2Space(model, distribution, 'official') },
    { label: 'stage 2, paper grid', space: stage2Space(model, distribution, 'paper') },
    { label: 'full (flat) space', space: fullSpace(model) },
    { label: 'NLP-NAS (attention only)', space: nlpNasSpace(model) },
  ];
}

/** Official-count FLOPs and parameters of sampled architectures, in draw order. */
export interface CostSamples {
  flops: number[];
  params: number[];
}

/** `count` uniform samples of the space; the stream is forked by the space's name, so each space's draw is its own. */
export function sampleCosts(space: SearchSpace, count: number, seed: number): CostSamples {
  const rng = new Rng(seed).fork(space.name);
  const out: CostSamples = { flops: [], params: [] };
  for (let i = 0; i < count; i++) {
    const cost = modelCost(sample(space, rng));
    out.flops.push(cost.flops);
    out.params.push(cost.params);
  }
  return out;
}

export interface SpaceSummary {
  choicesPerBlock: number[];
  /** Distinct architectures. */
  size: SpaceSize;
  /** The paper's ((N+1)·V1·V2·V3·V4)^M count (see paperFormulaSize). */
  paperSize: SpaceSize;
  range: CostRange;
  /** The share of the samples that meet the budget: about the share of the space a budgeted search can reach. */
  withinBudget: number;
}

export function summariseSpace(space: SearchSpace, samples: CostSamples, budget: Budget): SpaceSummary {
  const within = samples.flops.filter((flops, i) => withinBudget({ flops, params: samples.params[i] }, budget)).length;
  return {
    choicesPerBlock: space.choices.map((c) => c.length),
    size: spaceSize(space),
    paperSize: paperFormulaSize(space),
    range: costRange(space),
    withinBudget: samples.flops.length > 0 ? within / samples.flops.length : NaN,
  };
}

/** A count as people read it: exact below a million, else like 3.6e27. */
export const formatCount = (size: SpaceSize): string =>
  size.log10 < 6 ? size.exact : size.count.toExponential(1).replace('+', '');

/** Choices per block, compactly: "4 in each of 12 blocks", or the list when blocks differ. */
export const formatChoices = (counts: number[]): string =>
  counts.every((c) => c === counts[0]) ? `${counts[0]} in each of ${counts.length} blocks` : counts.join(', ');
