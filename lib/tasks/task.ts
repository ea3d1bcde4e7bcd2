// The units a run's parallel steps are made of, as plain JSON specs (folders relative to the run folder, so a run
// folder can be mounted anywhere), and how one is run in whatever process takes it. Each is idempotent: its stage
// reads a finished result back and resumes a killed one from its last saved state (lib/search/stages.ts), so a task
// taken again after its worker died ends exactly as if it had run once.
import * as path from 'node:path';
import type { Architecture } from '../model/arch';
import type { DatasetSplits } from '../data/datasets';
import type { ProgressCallback } from '../core/progress';
import type { TrainConfig } from '../train/train';
import type { SearchConfig, SearchLog } from '../search/pipeline';
import type { RetrainResult } from '../search/records';
import { decode, type Budget, type SearchSpace } from '../search/space';
import { loadSupernet, retrain, scoringSet, trainSupernet } from '../search/stages';
import { disposeSupernet, scorePath, type Supernet } from '../search/supernet';
import type { ResnetConfig } from '../model/resnet';
import { trainResnetProxy, type ResnetResult } from '../experiments/resnet-proxy';

export type TaskSpec =
  /** Train (or finish training) the supernet of `dir` over `space`. */
  | { kind: 'supernet'; dir: string; space: SearchSpace; search: SearchConfig; budget: Budget }
  /** Score candidates (codes into `space`) on the trained supernet of `supernet`, as the EA does. */
  | { kind: 'score'; supernet: string; space: SearchSpace; search: SearchConfig; codes: number[][] }
  /** Retrain `arch` from scratch in `dir`. */
  | { kind: 'retrain'; dir: string; name: string; arch: Architecture; train: TrainConfig }
  /** Train the ResNet `config` from scratch in `dir` (Table 3's convolutional baseline). */
  | { kind: 'resnet'; dir: string; config: ResnetConfig; train: TrainConfig };

export type TaskOutput<S extends TaskSpec> = S extends { kind: 'supernet' }
  ? { epochs: number }
  : S extends { kind: 'score' }
    ? { scores: number[] }
    : S extends { kind: 'resnet' }
      ? ResnetResult
      : RetrainResult;

export interface Task<S extends TaskSpec = TaskSpec> {
  /** Unique in the run: the unit's folder relative to the run, '.' for '/', e.g. `stage1.retrain.rank2`. */
  id: string;
  spec: S;
}

/** What a task runs with in the process that takes it. */
export interface TaskContext {
  /** The run folder the spec's folders are relative to. */
  run: string;
  data: DatasetSplits;
  log: SearchLog;
  progress?: ProgressCallback;
}

/** A task's id from its unit's folder in the run (and a suffix, for several tasks of one folder). */
export function taskId(run: string, dir: string, ...suffix: string[]): string {
  const relative = path.relative(run, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`${dir} is not inside the run ${run}`);
  return [...relative.split(path.sep).filter(Boolean), ...suffix].join('.') || 'run';
}

/** `dir` relative to the run, as specs hold folders. */
export const inRun = (run: string, dir: string) => path.relative(run, dir) || '.';

/**
 * The last supernet this process trained or loaded, kept for the scoring that follows: in one process (the inline
 * executor, a notebook) the search scores on the net just trained; a worker loads it once for all its score tasks.
 */
let cached: { dir: string; net: Supernet } | undefined;

function keep(dir: string, net: Supernet): Supernet {
  if (cached && cached.net !== net) disposeSupernet(cached.net);
  cached = { dir, net };
  return net;
}

/** The trained supernet of `dir`, from this process's cache or loaded from its saved state. */
export function trainedSupernet(dir: string, space: SearchSpace, search: SearchConfig): Supernet {
  return cached?.dir === dir ? cached.net : keep(dir, loadSupernet(dir, space, search));
}

/** Frees the kept supernet (its search is over). */
export function releaseSupernet(): void {
  if (cached) disposeSupernet(cached.net);
  cached = undefined;
}

export async function runTask<S extends TaskSpec>(spec: S, c: TaskContext): Promise<TaskOutput<S>> {
  const at = (dir: string) => path.resolve(c.run, dir);
  const s = spec as TaskSpec;
  switch (s.kind) {
    case 'supernet': {
      const dir = at(s.dir);
      keep(dir, await trainSupernet(dir, s.space, c.data, s.search, s.budget, c.log, c.progress));
      return { epochs: s.search.supernet.epochs } as TaskOutput<S>;
    }
    case 'score': {
      const net = trainedSupernet(at(s.supernet), s.space, s.search);
      const set = scoringSet(c.data, s.search);
      const scores: number[] = [];
      for (const code of s.codes) scores.push(await scorePath(net, decode(s.space, code), set, s.search.scoring));
      return { scores } as TaskOutput<S>;
    }
    case 'retrain':
      return (await retrain(at(s.dir), s.name, s.arch, c.data, s.train, c.log, c.progress)) as TaskOutput<S>;
    case 'resnet':
      return (await trainResnetProxy(at(s.dir), s.config, c.data, s.train, c.log)) as TaskOutput<S>;
  }
}
