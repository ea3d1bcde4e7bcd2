// A hierarchical-search run folder read back as plain typed data, for tables and figures. lib/search/pipeline.ts writes the
// folder (through `glit search`, or notebooks 03 and 04 calling its stages):
//   config.json                         {command, run: RunSettings, backend, started}
//   stage1/supernet/metrics.jsonl       one line per supernet epoch (steps.jsonl: one per step)
//   stage1/evolution/evolution.json     the EA's state: every generation and evaluation (generations.jsonl repeats it)
//   stage1/evolution/top.json           the EA's top-k with their architectures, once the EA has finished
//   stage1/retrain/rankN/               arch.json, metrics.jsonl (one line per epoch), result.json when done
//   stage1/result.json                  the chosen head distribution
//   stage2/{supernet,evolution}/        as in stage 1; stage2/retrain/ is the one retraining of the found architecture
//   baseline/                           the baseline's retraining
//   best-arch.json, result.json         once the whole pipeline has finished
// Any part may be missing: a run in progress, or killed, reads as far as it got.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArchitecture, type Architecture } from '../model/arch';
import type { Evaluation, EvolutionState, GenerationRecord } from '../search/evolution';
import { readSettings, type RunSettings } from '../config/run-config';
import type { RetrainResult, SearchResult, Stage1Result } from '../search/pipeline';
import type { EvalResult } from '../train/train';

export interface SupernetEpoch {
  epoch: number;
  step: number;
  trainLoss: number;
  lr: number;
  seconds: number;
}

export interface RetrainEpoch {
  epoch: number;
  trainLoss: number;
  val: EvalResult;
  seconds: number;
}

export type TopCandidate = Evaluation & { arch: Architecture };

/** One retraining folder: its architecture as soon as it starts, its epochs as they finish, its result at the end. */
export interface Retraining {
  dir: string;
  arch: Architecture | null;
  epochs: RetrainEpoch[];
  result: RetrainResult | null;
}

/** A supernet and the EA on it: the part both stages share. */
/** One supernet training step (steps.jsonl). */
export interface SupernetStep {
  step: number;
  epoch: number;
  loss: number;
}

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
  if (!['config.json', 'stage1'].some((f) => fs.existsSync(at(f)))) {
    throw new Error(`${dir} is not a run folder of \`glit search\`: it has neither config.json nor stage1/`);
  }
  const retrainDirs = listRanks(at('stage1', 'retrain'));
  return {
    dir,
    settings: readSettings(dir),
    stage1: { ...readStage(at('stage1')), retrained: retrainDirs.map(readRetraining), result: readJson<Stage1Result>(at('stage1', 'result.json')) },
    stage2: { ...readStage(at('stage2')), retrained: fs.existsSync(at('stage2', 'retrain')) ? readRetraining(at('stage2', 'retrain')) : null },
    baseline: fs.existsSync(at('baseline')) ? readRetraining(at('baseline')) : null,
    bestArch: readArchitecture(at('best-arch.json')),
    result: readJson<SearchResult>(at('result.json')),
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
  const evolution = readJson<EvolutionState>(path.join(dir, 'evolution', 'evolution.json'));
  return {
    supernet: readJsonLines<SupernetEpoch>(path.join(dir, 'supernet', 'metrics.jsonl')),
    supernetSteps: [...new Map(readJsonLines<SupernetStep>(path.join(dir, 'supernet', 'steps.jsonl')).map((s) => [s.step, s])).values()].sort((a, b) => a.step - b.step),
    evolution,
    generations: evolution?.history ?? [],
    top: readJson<TopCandidate[]>(path.join(dir, 'evolution', 'top.json')) ?? [],
  };
}

function readRetraining(dir: string): Retraining {
  return {
    dir,
    arch: readArchitecture(path.join(dir, 'arch.json')),
    epochs: readJsonLines<RetrainEpoch>(path.join(dir, 'metrics.jsonl')),
    result: readJson<RetrainResult>(path.join(dir, 'result.json')),
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

function readJson<T>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message})`);
  }
}

const readArchitecture = (file: string): Architecture | null => (fs.existsSync(file) ? parseArchitecture(fs.readFileSync(file, 'utf8'), file) : null);

/** One JSON value per line. A last line without its newline is skipped: a crash mid-append leaves that. */
function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as T];
    } catch (e) {
      throw new Error(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
}
