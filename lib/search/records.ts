// What a search run records, as plain JSON types: the lines of its metrics files and the results its stages write.
// A leaf module (types only), so that readers (notebooks, figures, verdicts) need not import the pipeline.
import type { Architecture } from '../model/arch';
import type { Evaluation } from './evolution';
import type { EvalResult } from '../train/train';

/** One supernet training step (steps.jsonl). */
export interface SupernetStep {
  step: number;
  epoch: number;
  loss: number;
}

/** One line of a supernet's metrics.jsonl; `epoch` counts the epochs finished (1 after the first). */
export interface SupernetEpoch {
  epoch: number;
  step: number;
  trainLoss: number;
  lr: number;
  seconds: number;
}

/**
 * One line of a retraining's metrics.jsonl; `epoch` counts the epochs finished (1 after the first). Folders written by
 * `glit train` before it became a retraining count from 0 and also hold `step` and `lr`.
 */
export interface RetrainEpoch {
  epoch: number;
  trainLoss: number;
  val: EvalResult;
  seconds: number;
}

/** A retraining's result.json: the architecture trained from scratch and its accuracies. */
export interface RetrainResult {
  name: string;
  arch: Architecture;
  params: number;
  flops: number;
  macs: number;
  valAccuracy: number;
  testAccuracy: number;
  seconds: number;
  backend: string;
  device: string;
  /** Val accuracy after each epoch (absent in results written before it was kept). */
  valCurve?: number[];
}

/** An EA's top.json: its best candidates, with their architectures. */
export type TopCandidate = Evaluation & { arch: Architecture };

/** stage1/result.json: the head distribution stage 1 chose, and the retrainings it chose from. */
export interface Stage1Result {
  /** G (global heads) per block. */
  distribution: number[];
  /** The retraining it came from, e.g. 'stage1-rank2'. */
  best: string;
  retrained: { name: string; valAccuracy: number; flops: number; params: number }[];
}

/** A hierarchical search's result.json. */
export interface SearchResult {
  distribution: number[];
  found: RetrainResult;
  /** The baseline retrained with the same recipe; absent where the caller trains it itself (glit reproduce). */
  baseline?: RetrainResult;
}
