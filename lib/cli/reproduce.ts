// `glit reproduce`: the paper's ablation tables at a chosen scale, several seeds, resumable.
import { numberOption, parseCommandArgs, UsageError, type Command } from './command';
import { stderrProgress } from '../core/progress';
import { reproduceTable, TABLE_SPECS } from '../experiments/reproduce';
import { TABLES, type TableName, type TableResult } from '../experiments/records';
import { executorOptions, openRun, PARALLEL_RUN_HELP, PARALLEL_RUN_OPTIONS, resolveRun } from './run-options';
import { openRunner } from '../tasks/open';
import {
  CORRELATION_SPACES,
  correlationSettings,
  judgeCorrelation,
  readCorrelationRecord,
  rankingCorrelation,
  type CorrelationResult,
  type CorrelationSpace,
} from '../experiments/correlation';
import type { Interval } from '../experiments/ranking';
import { updateSettings } from '../io/run-folder';
import { datasetName, parseDatasetSpec } from '../data/datasets';
import { readTableRecord, tableSettings } from '../experiments/table-record';
import { lockRecord } from '../io/run-lock';
import { verdictLines } from '../experiments/verdict';
import { timedLog } from './search';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function printTable(t: TableResult): void {
  console.log(
    `\n${t.title}\n  claim: ${t.claim}\n  ${t.scale} scale, ${t.dataset}, seeds ${t.seeds.join(', ')}, ${t.backend} on ${t.device}`,
  );
  const width = Math.max(...t.rows.map((r) => r.label.length));
  for (const r of t.rows) {
    const first = r.runs[0];
    console.log(
      `  ${r.label.padEnd(width)}  ${(first.params / 1e6).toFixed(3)}M params  ${(first.flops / 1e6).toFixed(1)}M FLOPs  test ${pct(r.meanTest)} ± ${pct(r.stdTest)}  (val ${pct(r.meanVal)})`,
    );
  }
  for (const line of verdictLines(t)) console.log(`  ${line}`);
}

function correlationOptions(values: { archs?: string; spaces?: string }) {
  const archs = numberOption(values.archs, 'archs') ?? 20;
  if (!Number.isInteger(archs) || archs < 4)
    throw new UsageError(`--archs must be an integer of at least 4, got ${values.archs}`);
  const spaces = (values.spaces ?? 'stage1,full').split(',').map((s) => s.trim());
  for (const s of spaces)
    if (!(CORRELATION_SPACES as readonly string[]).includes(s))
      throw new UsageError(`--spaces: '${s}' is not one of ${CORRELATION_SPACES.join(', ')}`);
  return { archs, spaces: spaces as CorrelationSpace[] };
}

function printCorrelation(r: CorrelationResult): void {
  const interval = (i: Interval) => `${i.estimate.toFixed(3)} [${i.low.toFixed(3)}, ${i.high.toFixed(3)}]`;
  console.log(
    `\nRanking correlation, supernet score against stand-alone val accuracy (${r.archs} candidates per space, ${r.scale} scale, ${r.dataset})`,
  );
  for (const s of r.spaces)
    console.log(
      `  ${s.label}: Kendall's tau ${interval(s.kendall)}, Spearman's rho ${interval(s.spearman)}, top-${s.top.k} overlap ${s.top.overlap}`,
    );
  const v = judgeCorrelation(r);
  if (v) console.log(`  claim (stage 1 ranks better than the flat space): ${v.verdict}: ${v.reason}`);
}

export const reproduceCommand: Command = {
  name: 'reproduce',
  summary: "run the paper's ablation tables (1, 4, 5, 6) at a chosen scale and seeds, and print them",
  help: `usage: npx glit reproduce <${TABLES.join('|')}|all> [--seeds 1] [--scale cpu] [--out DIR] [options]
       npx glit reproduce <table|all> --out DIR --resume      (finished rows and seeds are read back, not rerun)

Every row gets the same training budget (the scale's retraining recipe; searched rows also the scale's supernet and
EA). Writes DIR/<table>.json after each finished row and seed: params, FLOPs, val/test accuracy per seed (and the val
curve), mean and spread, wall time, backend, device, commit, date, scale and settings; prints each table with the
verdict on its claim (Welch's t-test over the seeds, each comparison's gap against its noise threshold). Tables:
${TABLES.map((t) => `  ${t}: ${TABLE_SPECS[t].title} (claim: ${TABLE_SPECS[t].claim})`).join('\n')}
  correlation: how well each space's supernet ranks candidates against training them stand-alone (the claim: stage
    1's space ranks better than the flat full space); writes DIR/correlation.json (not part of all)
  --archs N        correlation: candidates per space, stratified over FLOPs (default 20)
  --spaces LIST    correlation: of ${CORRELATION_SPACES.join(', ')} (default stage1,full)
  --seeds N        seeds per row, counting up from --seed (default 1); with --resume, more seeds than the run
                   has adds them (the finished seeds are read back)
  --record FILE    a record to commit (e.g. results/table1-converge.json): each finished row and seed (for
                   correlation: each space's scored sample, each stand-alone training) is added to it at once, and
                   what it holds is read, not rerun, so that a long reproduction continues in a new run folder on
                   another machine; so are the finished stages of a search still in progress (its EAs, its
                   retrainings: all but supernets' weights, trained again where their EA has not finished); a
                   resumed table adds the run folder's finished units that FILE lacks as it
                   starts; refused if it was made with other settings (one table, or correlation), or while
                   another live run adds to it (FILE.lock holds it).
                   A row that trains the same model as another table's row (Table 6's 1-D conv heads are Table 1's
                   (1, 2), the DeiT rows of Tables 3 and 4 its (3, 0); Tables 3-5 share the hierarchical search)
                   reads that table's units from the run folder, or from its record beside FILE
                   (<table>-<scale>.json), with its finished stages of the hierarchical search, never training the
                   model twice
  --how TEXT       with --record: how and where the run is made, in words, kept in the record
${PARALLEL_RUN_HELP}`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...PARALLEL_RUN_OPTIONS,
      seeds: { type: 'string' },
      archs: { type: 'string' },
      spaces: { type: 'string' },
      record: { type: 'string' },
      how: { type: 'string' },
    });
    const executor = executorOptions(values);
    const which = positionals[0];
    const known = ['all', 'correlation', ...TABLES];
    if (positionals.length !== 1 || !known.includes(which)) {
      throw new UsageError(`name one table: ${TABLES.join(', ')}, all or correlation`);
    }
    const study = which === 'correlation' ? correlationOptions(values) : undefined;
    if (values.how !== undefined && values.record === undefined) throw new UsageError('--how goes with --record FILE');
    if (values.record !== undefined && which === 'all')
      throw new UsageError(
        `--record holds one table or the correlation study: name one of ${TABLES.join(', ')} or correlation`,
      );
    // Two runs adding to one record would each train the units the other lacks: the second is refused.
    if (values.record !== undefined) lockRecord(values.record, 'reproduce');
    const seedsFlag = numberOption(values.seeds, 'seeds');
    if (seedsFlag !== undefined && (!Number.isInteger(seedsFlag) || seedsFlag < 1))
      throw new UsageError(`--seeds must be a positive integer, got ${values.seeds}`);
    const { out, run, resumed } = resolveRun(values, 'reproduce', { seeds: seedsFlag ?? 1 });
    let seeds = run.seeds ?? 1;
    if (resumed && seedsFlag !== undefined && seedsFlag !== seeds) {
      if (seedsFlag < seeds)
        throw new UsageError(
          `--seeds ${seedsFlag}: ${out} runs ${seeds} seeds; a resumed run can add seeds, not drop them`,
        );
      seeds = seedsFlag;
      updateSettings(out, { seeds });
    }
    // A record that cannot be continued is refused before the run folder is made or touched.
    if (values.record !== undefined) {
      const dataset = datasetName(parseDatasetSpec(run.dataset));
      if (study)
        readCorrelationRecord(
          values.record,
          correlationSettings(run.scale, dataset, run.limit, run.config, study.archs),
        );
      else readTableRecord(values.record, which as TableName, tableSettings(run.scale, dataset, run.limit, run.config));
    }
    const { data } = await openRun('reproduce', out, run, resumed);
    const log = timedLog(Date.now());
    const progress = stderrProgress();
    const runner = openRunner(out, executor, { data, log, progress });
    if (study) {
      const context = { data, config: run.config, log, progress, runner };
      const options = {
        ...study,
        scale: run.scale,
        dataset: data.name,
        limit: run.limit,
        record: values.record,
        how: values.how,
      };
      const result = await rankingCorrelation(out, context, options).finally(() => runner.close());
      if (values.json) console.log(JSON.stringify(result));
      else printCorrelation(result);
      return;
    }
    const tables = which === 'all' ? [...TABLES] : [which as TableName];
    const results: TableResult[] = [];
    try {
      for (const table of tables) {
        results.push(
          await reproduceTable(table, out, data, run.config, {
            seeds,
            scale: run.scale,
            dataset: data.name,
            log,
            progress,
            runner,
            limit: run.limit,
            record: values.record,
            how: values.how,
          }),
        );
      }
    } finally {
      await runner.close();
    }
    if (values.json) console.log(JSON.stringify(results));
    else results.forEach(printTable);
  },
};
