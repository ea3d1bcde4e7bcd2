// A run's task runner from the executor options (the CLI's --executor and --workers, a notebook's parameters).
import type { DatasetSplits } from '../data/datasets';
import type { ProgressCallback } from '../core/progress';
import type { SearchLog } from '../search/pipeline';
import type { ExecutorOptions } from './executor';
import { createExternalExecutor } from './external';
import { createLocalExecutor } from './local';
import { createSlurmExecutor } from './slurm';
import { executorRunner, inlineRunner, type TaskRunner } from './runner';

export function openRunner(
  run: string,
  options: ExecutorOptions,
  context: { data: DatasetSplits; log: SearchLog; progress?: ProgressCallback },
): TaskRunner {
  const hooks = { log: context.log, progress: context.progress };
  switch (options.executor) {
    case 'inline':
      return inlineRunner(run, context);
    case 'local':
      return executorRunner(run, createLocalExecutor(hooks, options));
    case 'slurm':
      return executorRunner(run, createSlurmExecutor(hooks, options));
    case 'external':
      return executorRunner(run, createExternalExecutor(hooks, options));
  }
}
