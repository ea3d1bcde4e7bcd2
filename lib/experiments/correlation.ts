// The paper's argument for a hierarchical search, measured: on a huge space, SPOS's supernet ranks candidates poorly
// (their accuracy with inherited weights predicts their stand-alone accuracy badly), and a smaller space (stage 1's
// head distributions) ranks them better (Section 1 and the motivation of Section 3.3; Table 5 compares the methods
// only by their end result). Per space: a supernet trained as the search trains it, candidates sampled stratified over
// FLOPs, each scored on the supernet exactly as the EA scores it and trained stand-alone with one budget; then Kendall's
// tau, Spearman's rho (bootstrap intervals) and the top-5 overlap. Every step is a task (lib/tasks): finished
// supernets, scores and trainings are read back on a rerun.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadArchitecture } from '../model/arch';
import { modelCost } from '../model/flops';
import { backendInfo } from '../kernels/backend';
import { writeJsonAtomic } from '../io/atomic-files';
import { readJsonFile } from '../io/read-file';
import { Rng } from '../core/random';
import { budgetFor, retrainStep, scoreCodes, type PipelineContext, type SearchConfig } from '../search/pipeline';
import type { SplitLimit } from '../data/datasets';
import type { RetrainResult } from '../search/records';
import type { TableSettings } from './records';
import { readRecord, tableSettings, writeRecord } from './table-record';
import {
  archKey,
  decode,
  encode,
  fullSpace,
  sampleWithin,
  stage1Space,
  stage2Space,
  type SearchSpace,
} from '../search/space';
import type { WeightSharing } from '../search/supernet';
import { inRun, releaseSupernet, taskId } from '../tasks/task';
import { eachUnit } from '../tasks/runner';
import { bootstrap, kendallTau, spearmanRho, topKOverlap, type Interval } from './ranking';
import { commit } from './reproduce';

export const CORRELATION_SPACES = ['stage1', 'full', 'full-sliced', 'stage2'] as const;
export type CorrelationSpace = (typeof CORRELATION_SPACES)[number];

const SPACES: Record<
  CorrelationSpace,
  { label: string; sharing: WeightSharing; space: (c: SearchConfig) => SearchSpace }
> = {
  stage1: { label: "stage 1's head distributions", sharing: 'separate', space: (c) => stage1Space(model(c)) },
  full: {
    label: 'the flat full space (SPOS, separate weights)',
    sharing: 'separate',
    space: (c) => fullSpace(model(c)),
  },
  'full-sliced': { label: 'the flat full space, sliced weights', sharing: 'sliced', space: (c) => fullSpace(model(c)) },
  // The distribution fixed at G = 1 global head in every block: Table 1's best row in the paper.
  stage2: {
    label: "stage 2's details, G = 1 in every block",
    sharing: 'separate',
    space: (c) => stage2Space(model(c), Array(model(c).depth).fill(1), c.stage2Grid),
  },
};
const model = (c: SearchConfig) => loadArchitecture(c.baseline).model;

/** The top-k overlap the study reports. */
export const TOP_K = 5;

export interface CorrelationCandidate {
  key: string;
  code: number[];
  flops: number;
  params: number;
  /** Val accuracy with the supernet's weights after BatchNorm recalibration (the EA's fitness). */
  supernetScore: number;
  /** After training stand-alone from scratch with the study's budget. */
  valAccuracy: number;
  testAccuracy: number;
}

export interface SpaceCorrelation {
  space: CorrelationSpace;
  label: string;
  weightSharing: WeightSharing;
  candidates: CorrelationCandidate[];
  /** Supernet score against stand-alone val accuracy. */
  kendall: Interval;
  spearman: Interval;
  /** How many of the supernet's top k (5, or all when fewer) are among the stand-alone top k. */
  top: { k: number; overlap: number };
}

export interface CorrelationResult {
  scale: string;
  dataset: string;
  seed: number;
  /** Candidates per space. */
  archs: number;
  /** The stand-alone budget: the scale's retraining recipe. */
  standalone: { epochs: number; batchSize: number; trainImages: number };
  backend: string;
  device: string;
  commit: string;
  date: string;
  spaces: SpaceCorrelation[];
  /** In a record (--record): what decides its numbers, and the spaces still being studied, as far as they got. */
  settings?: CorrelationSettings;
  partial?: Partial<Record<CorrelationSpace, StudyProgress>>;
  /** How and where a recording was made, in words (kept when a record is updated). */
  how?: string;
}

/** What decides a study's numbers: a table's settings, the seed (it picks the sample) and candidates per space. */
export type CorrelationSettings = TableSettings & { seed: number; archs: number };

/** A space's study as far as it got: its sample scored on the supernet, and the candidates trained so far. */
export interface StudyProgress {
  codes: number[][];
  scores: number[];
  trained: (Standalone | null)[];
}
type Standalone = Pick<RetrainResult, 'flops' | 'params' | 'valAccuracy' | 'testAccuracy' | 'valCurve'> & {
  commit: string;
  date: string;
  /** The device and kernels of the run that trained it; absent in records made before it was kept. */
  device?: string;
};

/**
 * `count` distinct candidates of `space` within the budget, stratified over FLOPs: many are drawn, sorted by FLOPs
 * and cut into `count` equal strata, and one is picked at random from each, so that small and large models are both
 * in the study rather than mostly the space's typical size.
 */
export function stratifiedSample(space: SearchSpace, config: SearchConfig, count: number, rng: Rng): number[][] {
  const budget = budgetFor(config);
  const pool = new Map<string, { code: number[]; flops: number }>();
  for (let tries = 0; tries < count * 20 && pool.size < count * 10; tries++) {
    const arch = sampleWithin(space, rng, budget);
    pool.set(archKey(arch), { code: encode(space, arch), flops: modelCost(arch).flops });
  }
  if (pool.size < count)
    throw new Error(`space '${space.name}' has only ${pool.size} distinct candidates within the budget; ask for fewer`);
  const sorted = [...pool.values()].sort((a, b) => a.flops - b.flops);
  return Array.from({ length: count }, (_, s) => {
    const [from, to] = [Math.floor((s * sorted.length) / count), Math.floor(((s + 1) * sorted.length) / count)];
    return sorted[from + rng.int(to - from)].code;
  });
}

/**
 * One space's study in `dir`: supernet, sample, supernet scores, stand-alone trainings, statistics. What `prior` holds
 * (a record's progress) is not redone; `progress` hears of each part as it is made.
 */
async function studySpace(
  c: PipelineContext,
  dir: string,
  which: CorrelationSpace,
  archs: number,
  prior: StudyProgress | undefined,
  progress: (p: StudyProgress) => void,
): Promise<SpaceCorrelation> {
  const { label, sharing } = SPACES[which];
  const config = { ...c.config, weightSharing: sharing };
  const ctx = { ...c, config };
  const space = SPACES[which].space(config);
  const run = c.runner.run;
  const sampleFile = path.join(dir, 'candidates.json');
  const saved =
    prior ?? (fs.existsSync(sampleFile) ? (readJsonFile(sampleFile) as { codes: number[][]; scores: number[] }) : null);
  let sample = saved;
  if (!sample) {
    const supernetDir = path.join(dir, 'supernet');
    const supernetId = taskId(run, supernetDir);
    const spec = {
      kind: 'supernet' as const,
      dir: inRun(run, supernetDir),
      space,
      search: config,
      budget: budgetFor(config),
    };
    await c.runner.runStep(supernetId, [{ id: supernetId, spec }]);
    const codes = stratifiedSample(space, config, archs, new Rng(config.seed).fork(`correlation ${which}`));
    const scores = await scoreCodes(ctx, space, supernetDir, taskId(run, dir, 'scores'), codes);
    if (c.runner.inProcess) releaseSupernet();
    sample = { codes, scores };
    writeJsonAtomic(sampleFile, sample);
  }
  const { codes, scores } = sample;
  const state: StudyProgress = { codes, scores, trained: codes.map((_, k) => prior?.trained[k] ?? null) };
  progress(state);

  const at = commit();
  const train = async (k: number): Promise<Standalone> => {
    const recorded = state.trained[k];
    if (recorded) return recorded;
    const name = `${which}-a${k + 1}`;
    const r = await retrainStep(ctx, path.join(dir, 'standalone', `a${k + 1}`), name, decode(space, codes[k]));
    const { flops, params, valAccuracy, testAccuracy, valCurve } = r;
    state.trained[k] = {
      flops,
      params,
      valAccuracy,
      testAccuracy,
      valCurve,
      commit: at,
      date: new Date().toISOString(),
      device: backendInfo().device,
    };
    progress(state);
    return state.trained[k]!;
  };
  const trained = await eachUnit(
    c.runner,
    codes.map((_, k) => k),
    train,
  );
  const candidates = codes.map((code, k) => ({
    key: archKey(decode(space, code)),
    code,
    flops: trained[k].flops,
    params: trained[k].params,
    supernetScore: scores[k],
    valAccuracy: trained[k].valAccuracy,
    testAccuracy: trained[k].testAccuracy,
  }));
  const [x, y] = [candidates.map((a) => a.supernetScore), candidates.map((a) => a.valAccuracy)];
  const seed = config.seed;
  c.log(`correlation ${which}: Kendall's tau ${kendallTau(x, y).toFixed(3)} over ${archs} candidates`);
  return {
    space: which,
    label,
    weightSharing: sharing,
    candidates,
    kendall: bootstrap(x, y, kendallTau, { seed }),
    spearman: bootstrap(x, y, spearmanRho, { seed }),
    top: { k: Math.min(TOP_K, archs), overlap: topKOverlap(x, y, Math.min(TOP_K, archs)) },
  };
}

/**
 * The ranking-correlation study in `out`/correlation/<space>/ for each of `spaces` (at once with workers), writing
 * `out`/correlation.json after each space.
 */
export async function rankingCorrelation(
  out: string,
  c: PipelineContext,
  o: {
    spaces: readonly CorrelationSpace[];
    archs: number;
    scale: string;
    dataset: string;
    /** The images per split the data was loaded with (part of a record's settings). */
    limit?: SplitLimit;
    /** A study's record (lib/experiments/table-record.ts): what it holds is read, not redone; each new part added. */
    record?: string;
    /** How and where the run is made, in words, for the record (else the record's own is kept). */
    how?: string;
  },
): Promise<CorrelationResult> {
  if (!Number.isInteger(o.archs) || o.archs < 4)
    throw new Error(`--archs must be an integer of at least 4, got ${o.archs}`);
  const settings = correlationSettings(o.scale, o.dataset, o.limit, c.config, o.archs);
  const recorded = o.record ? readCorrelationRecord(o.record, settings) : undefined;
  const { backend, device } = backendInfo();
  const result: CorrelationResult = {
    scale: o.scale,
    dataset: o.dataset,
    seed: c.config.seed,
    archs: o.archs,
    standalone: {
      epochs: c.config.retrain.epochs,
      batchSize: c.config.retrain.batchSize,
      trainImages: c.data.train.count,
    },
    backend,
    device,
    commit: commit(),
    date: new Date().toISOString(),
    spaces: [],
  };
  // The record's finished spaces (all of them, also those not asked for now: kept) and its spaces in progress.
  const done = new Map<CorrelationSpace, SpaceCorrelation>((recorded?.spaces ?? []).map((s) => [s.space, s]));
  const partial = new Map(Object.entries(recorded?.partial ?? {})) as Map<CorrelationSpace, StudyProgress>;
  const save = () => {
    result.spaces = o.spaces.flatMap((s) => done.get(s) ?? []);
    writeJsonAtomic(path.join(out, 'correlation.json'), result);
    if (!o.record) return;
    const spaces = [...CORRELATION_SPACES].flatMap((s) => done.get(s) ?? []);
    writeRecord(
      o.record,
      { ...result, spaces, settings, partial: Object.fromEntries(partial) },
      o.how ?? recorded?.how,
    );
  };
  const study = async (which: CorrelationSpace) => {
    if (done.has(which)) return;
    const dir = path.join(out, 'correlation', which);
    const got = await studySpace(c, dir, which, o.archs, partial.get(which), (p) => {
      partial.set(which, p);
      save();
    });
    partial.delete(which);
    done.set(which, got);
    save();
  };
  await eachUnit(c.runner, [...o.spaces], study);
  save();
  return result;
}

export const correlationSettings = (
  scale: string,
  dataset: string,
  limit: SplitLimit | undefined,
  config: SearchConfig,
  archs: number,
): CorrelationSettings => ({ ...tableSettings(scale, dataset, limit, config), seed: config.seed, archs });

export const readCorrelationRecord = (file: string, settings: CorrelationSettings) =>
  readRecord<CorrelationResult>(
    file,
    'the correlation study',
    (r) => Array.isArray(r.spaces) && 'archs' in r,
    settings,
  );

export type CorrelationVerdict = 'supported' | 'contradicted' | 'inconclusive at this scale';

/**
 * The claim that stage 1's smaller space ranks better than the flat full space: supported when stage 1's tau interval
 * lies wholly above the full space's, contradicted when wholly below, else inconclusive.
 */
export function judgeCorrelation(r: CorrelationResult): { verdict: CorrelationVerdict; reason: string } | null {
  const [small, flat] = [r.spaces.find((s) => s.space === 'stage1'), r.spaces.find((s) => s.space === 'full')];
  if (!small || !flat) return null;
  const show = (s: SpaceCorrelation) =>
    `${s.space} tau ${s.kendall.estimate.toFixed(2)} [${s.kendall.low.toFixed(2)}, ${s.kendall.high.toFixed(2)}]`;
  const both = `${show(small)} against ${show(flat)}`;
  if (small.kendall.low > flat.kendall.high)
    return { verdict: 'supported', reason: `${both}: the intervals do not overlap` };
  if (small.kendall.high < flat.kendall.low)
    return { verdict: 'contradicted', reason: `${both}: the flat space ranks better` };
  return { verdict: 'inconclusive at this scale', reason: `${both}: the intervals overlap` };
}
