// The hierarchical search (the paper's Section 3) as resumable stages (lib/search/stages.ts), each writing to its own
// folder of the run (the layout and its files: lib/io/run-folder.ts):
//   stage1/  supernet over the head distributions (low-level choices fixed) -> EA -> retrain the top few -> best
//            distribution N*
//   stage2/  supernet over the low-level choices with N* fixed -> EA -> retrain the best -> test accuracy
//   baseline/ the DeiT-style model retrained with the same budget, for comparison
// A stage that finished is read back from its folder; one that was killed resumes from its last saved state (the
// supernet's last epoch, the EA's last evaluation, a retraining's last epoch). Every step is handed to a task runner
// (lib/tasks/runner.ts): in this process by default, or to workers, with the same results.
import * as path from 'node:path';
import { loadArchitecture, type Architecture } from '../model/arch';
import { modelCost } from '../model/flops';
import { readSearchState, writeBestArch, writeSearchResult, writeStage1Result } from '../io/run-folder';
import type { ProgressCallback } from '../core/progress';
import type { DatasetSplits } from '../data/datasets';
import type { TrainConfig } from '../train/train';
import { searchFinished, type EvolutionConfig, type EvolutionState } from './evolution';
import type { SearchResult, Stage1Result } from './records';
import { decode, stage1Space, stage2Space, type Budget, type SearchSpace, type Stage2Grid } from './space';
import { searchSupernet } from './stages';
import type { WeightSharing } from './supernet';
import { inlineRunner, type TaskRunner } from '../tasks/runner';
import { inRun, releaseSupernet, taskId, trainedSupernet, type Task } from '../tasks/task';

export interface SearchConfig {
  seed: number;
  /** The hand-designed baseline (a preset or an architecture .json): every candidate shares its model config (width,
   * heads, depth, image size...), and it is retrained for comparison. */
  baseline: string;
  supernet: TrainConfig;
  /** How the supernet's candidates hold weights: 'separate' (each its own; SPOS, the official pattern) or 'sliced'
   * (slices of one largest set per block; AutoFormer). See lib/search/supernet.ts. */
  weightSharing: WeightSharing;
  evolution: EvolutionConfig;
  /** Candidates are scored on at most this many val images, after BN recalibration on this many training batches. */
  scoring: { valImages: number; recalibrationBatches: number; batchSize: number };
  /** FLOPs budget (official count) as a multiple of the baseline's: candidates above it are never sampled or scored. */
  maxFlopsRatio: number;
  /** Stage 1 retrains this many of the EA's best distributions (the paper: 5) and keeps the best by val accuracy. */
  stage1Retrain: number;
  stage2Grid: Stage2Grid;
  retrain: TrainConfig;
}

export const budgetFor = (config: SearchConfig): Budget => ({
  maxFlops: Math.round(modelCost(loadArchitecture(config.baseline)).flops * config.maxFlopsRatio),
});

/** Logs what the pipeline does, one line at a time (the CLI prints them; notebooks can collect them). */
export type SearchLog = (line: string) => void;

/** Where and how a pipeline runs its steps: the run folder's task runner (inline by default) and its loggers. */
export interface PipelineContext {
  data: DatasetSplits;
  config: SearchConfig;
  log: SearchLog;
  progress?: ProgressCallback;
  runner: TaskRunner;
}

/** What a caller gives a pipeline: without a runner, every step runs in this process. */
export type PipelineInput = Omit<PipelineContext, 'runner'> & { runner?: TaskRunner };

const withRunner = (out: string, input: PipelineInput): PipelineContext => ({
  ...input,
  runner: input.runner ?? inlineRunner(out, input),
});

/** A retraining of `arch` in `dir`, as a task. */
export const retrainTask = (c: PipelineContext, dir: string, name: string, arch: Architecture): Task<RetrainSpec> => ({
  id: taskId(c.runner.run, dir),
  spec: { kind: 'retrain', dir: inRun(c.runner.run, dir), name, arch, train: c.config.retrain },
});
type RetrainSpec = Extract<Task['spec'], { kind: 'retrain' }>;

/** Retrains `arch` in `dir` (a step of one task). */
export async function retrainStep(c: PipelineContext, dir: string, name: string, arch: Architecture) {
  const task = retrainTask(c, dir, name, arch);
  return (await c.runner.runStep(task.id, [task]))[0];
}

/**
 * Scores `codes` (into `space`) on the trained supernet of `supernet`, as the EA does, as score tasks split into as
 * many parts as the runner runs at once (one in this process, on the net it keeps in memory; the ids, under `step`,
 * name the split, so a resume with other workers redoes it).
 */
export async function scoreCodes(
  c: PipelineContext,
  space: SearchSpace,
  supernet: string,
  step: string,
  codes: number[][],
): Promise<number[]> {
  const parts = Math.min(codes.length, c.runner.parallelism);
  const tasks = Array.from({ length: parts }, (_, p) => ({
    id: `${step}.p${p + 1}of${parts}`,
    spec: {
      kind: 'score' as const,
      supernet: inRun(c.runner.run, supernet),
      space,
      search: c.config,
      codes: codes.filter((_, i) => i % parts === p),
    },
  }));
  const outputs = await c.runner.runStep(step, tasks);
  return codes.map((_, i) => outputs[i % parts].scores[Math.floor(i / parts)]);
}

/**
 * A supernet over `space` trained in `supernetDir` (one task) and searched by `method` in `searchDir`: scored on the
 * supernet in memory when the runner is this process, else by tasks. Returns the search's final state.
 */
export async function supernetSearch(
  c: PipelineContext,
  space: SearchSpace,
  supernetDir: string,
  searchDir: string,
  method: EvolutionState['method'],
): Promise<EvolutionState> {
  const budget = budgetFor(c.config);
  // A finished search is read back without its supernet: a run continued from a record has the search's state but
  // not the supernet's weights (lib/io/run-folder.ts, finishedFiles).
  const saved = readSearchState(searchDir, method);
  const needed = !(saved && searchFinished(saved));
  const id = taskId(c.runner.run, supernetDir);
  const spec = { kind: 'supernet' as const, dir: inRun(c.runner.run, supernetDir), space, search: c.config, budget };
  if (needed) await c.runner.runStep(id, [{ id, spec }]);
  const unneeded = () => Promise.reject(new Error(`${searchDir}: a finished search scored a candidate`));
  // One generation's candidates at a time (steps `<search>.g<n>`).
  const scoring = !needed
    ? unneeded
    : c.runner.inProcess
      ? trainedSupernet(supernetDir, space, c.config)
      : (candidates: { code: number[]; generation: number }[]) =>
          scoreCodes(
            c,
            space,
            supernetDir,
            taskId(c.runner.run, searchDir, `g${candidates[0].generation + 1}`),
            candidates.map((x) => x.code),
          );
  const state = await searchSupernet(searchDir, method, space, scoring, c.data, c.config, budget, c.log, c.progress);
  if (needed && c.runner.inProcess) releaseSupernet();
  return state;
}

/**
 * The end of stage 1: retrain the EA's best `config.stage1Retrain` distributions (stage1/retrain/rankN, one step of
 * parallel tasks), keep the best by val accuracy (the first on a tie) and write stage1/result.json.
 */
export async function retrainStage1(
  out: string,
  evolution: EvolutionState,
  space: SearchSpace,
  input: PipelineInput,
): Promise<Stage1Result> {
  const c = withRunner(out, input);
  const { config, log } = c;
  const dir = path.join(out, 'stage1', 'retrain');
  const tasks = evolution.topK
    .slice(0, config.stage1Retrain)
    .map((top, rank) =>
      retrainTask(c, path.join(dir, `rank${rank + 1}`), `stage1-rank${rank + 1}`, decode(space, top.code)),
    );
  const retrained = await c.runner.runStep(taskId(c.runner.run, dir), tasks);
  const best = retrained.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
  const result: Stage1Result = {
    distribution: best.arch.blocks.map((g) => g.globalHeads),
    best: best.name,
    retrained: retrained.map(({ name, valAccuracy, flops, params }) => ({ name, valAccuracy, flops, params })),
  };
  writeStage1Result(out, result);
  log(
    `stage 1: head distribution G per block = [${result.distribution}] (${best.name}, val ${(100 * best.valAccuracy).toFixed(2)}%)`,
  );
  return result;
}

/** Stage 1 in `out`: which blocks get how many global heads (supernet, EA, retraining the best few). */
export async function stage1(out: string, input: PipelineInput): Promise<Stage1Result> {
  const c = withRunner(out, input);
  const space = stage1Space(loadArchitecture(c.config.baseline).model);
  const at = (...parts: string[]) => path.join(out, 'stage1', ...parts);
  const evolution = await supernetSearch(c, space, at('supernet'), at('evolution'), 'evolution');
  return retrainStage1(out, evolution, space, c);
}

/**
 * Runs (or resumes) the whole hierarchical search in `out`; with `baseline: false`, without retraining the baseline
 * (a caller that trains it anyway: the ablation tables' DeiT rows).
 */
export async function hierarchicalSearch(
  out: string,
  input: PipelineInput,
  o: { baseline?: boolean } = {},
): Promise<SearchResult> {
  const c = withRunner(out, input);
  const baselineArch = loadArchitecture(c.config.baseline);
  const at = (...parts: string[]) => path.join(out, ...parts);
  const { distribution } = await stage1(out, c);

  // Stage 2: the low-level choices of every block, the distribution fixed; its best retrained beside the baseline.
  const space2 = stage2Space(baselineArch.model, distribution, c.config.stage2Grid);
  const evo2 = await supernetSearch(c, space2, at('stage2', 'supernet'), at('stage2', 'evolution'), 'evolution');
  const [found, baseline] = await c.runner.runStep(taskId(c.runner.run, out, 'retrain'), [
    retrainTask(c, at('stage2', 'retrain'), 'glit-found', decode(space2, evo2.topK[0].code)),
    ...(o.baseline === false ? [] : [retrainTask(c, at('baseline'), baselineArch.name ?? 'baseline', baselineArch)]),
  ]);
  writeBestArch(out, found.arch);
  const result: SearchResult = { distribution, found, ...(baseline && { baseline }) };
  writeSearchResult(out, result);
  return result;
}
