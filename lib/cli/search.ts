// `glit search`: the whole hierarchical search (stage 1, stage 2, the baseline), resumable.
import { describeBackend } from '../kernels/backend';
import { formatSeconds, stderrProgress } from '../core/progress';
import { hierarchicalSearch } from '../search/pipeline';
import type { RetrainResult } from '../search/records';
import { runFiles } from '../io/run-folder';
import { parseCommandArgs, type Command } from './command';
import { executorOptions, openRun, PARALLEL_RUN_HELP, PARALLEL_RUN_OPTIONS, resolveRun } from './run-options';
import { openRunner } from '../tasks/open';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const row = (r: RetrainResult) =>
  `${r.name.padEnd(14)} ${(r.params / 1e6).toFixed(3)}M params  ${(r.flops / 1e6).toFixed(1)}M FLOPs  val ${pct(r.valAccuracy)}  test ${pct(r.testAccuracy)}`;

/** A log for the pipeline: each line on stderr with the time since `started`. */
export const timedLog = (started: number) => (line: string) =>
  console.error(`[${formatSeconds((Date.now() - started) / 1000)}] ${line}`);

export const searchCommand: Command = {
  name: 'search',
  summary: 'run the hierarchical search (stage 1: head distribution, stage 2: details) and retrain the result',
  help: `usage: npx glit search [--scale cpu] [--out DIR] [options]
       npx glit search --out DIR --resume

Stage 1 trains a supernet over each block's global/local head distribution, searches it with the EA and retrains
the best few; stage 2 trains a supernet over the low-level choices with that distribution fixed, searches it and
retrains the best. The DeiT-style baseline is retrained with the same budget. Everything lands in DIR:
config.json, stage1/ and stage2/ (supernet/ metrics and state, evolution/ generations and state, retrain/ results
and model.safetensors), baseline/, best-arch.json, result.json. Parallel steps: stage 1's retrainings, the EA's
scoring, stage 2's retraining beside the baseline's.
${PARALLEL_RUN_HELP}`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, PARALLEL_RUN_OPTIONS, false);
    const executor = executorOptions(values);
    const { out, run, resumed } = resolveRun(values, 'search');
    const { backend, data } = await openRun('search', out, run, resumed);
    const started = Date.now();
    const log = timedLog(started);
    const progress = stderrProgress();
    const runner = openRunner(out, executor, { data, log, progress });
    const result = await hierarchicalSearch(out, { data, config: run.config, log, progress, runner }).finally(() =>
      runner.close(),
    );
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`head distribution (G per block): [${result.distribution}]`);
      console.log(`found architecture: ${runFiles(out).bestArch}`);
      console.log(row(result.found));
      if (result.baseline) console.log(row(result.baseline));
      console.log(`(${formatSeconds((Date.now() - started) / 1000)} this session, on ${describeBackend(backend)})`);
    }
  },
};
