// A hierarchical-search run folder read back whole, as plain typed data for tables and figures (the layout and the
// readers of each part: lib/io/run-folder.ts). Any part may be missing: a run in progress, or killed, reads as far
// as it got.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Architecture } from '../model/arch';
import type { Evaluation, EvolutionState, GenerationRecord } from '../search/evolution';
import type { RunSettings } from '../config/run-settings';
import type { SearchResult, Stage1Result, SupernetEpoch, SupernetStep, TopCandidate } from '../search/records';
import {
  readBestArch,
  readRetraining,
  readSearchResult,
  readSearchState,
  readSettings,
  readStage1Result,
  readSupernet,
  readTop,
  runFiles,
  type Retraining,
} from '../io/run-folder';

/** A supernet and the EA on it: the part both stages share. */
export interface StageRecord {
  supernet: SupernetEpoch[];
  /** Every step's loss; a step redone after a resume appears once, with its latest value. */
  supernetSteps: SupernetStep[];
  /** The EA's saved state, null before its first evaluation. */
  evolution: EvolutionState | null;
  /** evolution.history: the completed generations. */
  generations: GenerationRecord[];
  /** Empty until the EA has finished. */
  top: TopCandidate[];
}

export interface Stage1Record extends StageRecord {
  /** By rank (rank1 first). */
  retrained: Retraining[];
  result: Stage1Result | null;
}

export interface Stage2Record extends StageRecord {
  retrained: Retraining | null;
}

export interface SearchRun {
  dir: string;
  /** config.json's settings; null for a folder made without the CLI's config.json (e.g. by hierarchicalSearch alone). */
  settings: RunSettings | null;
  stage1: Stage1Record;
  stage2: Stage2Record;
  baseline: Retraining | null;
  bestArch: Architecture | null;
  result: SearchResult | null;
}

/** Reads a run folder; throws when `dir` does not exist or holds nothing of a search run. */
export function readRun(dir: string): SearchRun {
  if (!fs.existsSync(dir)) throw new Error(`${dir} does not exist: expected a run folder of \`glit search\``);
  const at = (...parts: string[]) => path.join(dir, ...parts);
  if (!fs.existsSync(runFiles(dir).config) && !fs.existsSync(at('stage1'))) {
    throw new Error(`${dir} is not a run folder of \`glit search\`: it has neither config.json nor stage1/`);
  }
  const retrainingIn = (sub: string) => (fs.existsSync(at(sub)) ? readRetraining(at(sub)) : null);
  return {
    dir,
    settings: readSettings(dir),
    stage1: {
      ...readStage(at('stage1')),
      retrained: listRanks(at('stage1', 'retrain')).map(readRetraining),
      result: readStage1Result(dir),
    },
    stage2: { ...readStage(at('stage2')), retrained: retrainingIn(path.join('stage2', 'retrain')) },
    baseline: retrainingIn('baseline'),
    bestArch: readBestArch(dir),
    result: readSearchResult(dir),
  };
}

/**
 * Every evaluated candidate of an EA, in order: the completed generations, then the scored part of the generation in
 * progress (a run still searching shows its latest scores too).
 */
export function evaluations(state: EvolutionState | null): Evaluation[] {
  if (!state) return [];
  const pending = (state.pending ?? []).filter((c): c is Evaluation => c.score !== null);
  return [...state.history.flatMap((g) => g.population), ...pending];
}

function readStage(dir: string): StageRecord {
  const evolution = readSearchState(path.join(dir, 'evolution'), 'evolution');
  const supernet = readSupernet(path.join(dir, 'supernet'));
  return {
    supernet: supernet.epochs,
    supernetSteps: supernet.steps,
    evolution,
    generations: evolution?.history ?? [],
    top: readTop(path.join(dir, 'evolution'), 'evolution'),
  };
}

/** stage1/retrain/rank1, rank2, ... in rank order (rank10 after rank9). */
function listRanks(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, rank: /^rank(\d+)$/.exec(name)?.[1] }))
    .filter((e) => e.rank !== undefined)
    .sort((a, b) => Number(a.rank) - Number(b.rank))
    .map((e) => path.join(dir, e.name));
}
