// `npm run bench:parallel`: what the local executor's workers buy, side by side in one script: the wall time of
// `glit reproduce table1` on 1 worker against N, and the EA's scoring throughput (candidates per minute on a trained
// supernet) against workers, with the load average before and after each (the machine may be shared). Numbers in
// docs/performance.md come from here.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flags, parseCommandArgs, UsageError } from '../lib/cli/command';
import { initBackend, describeBackend } from '../lib/kernels/backend';
import { loadDataset } from '../lib/data/datasets';
import { parseScale } from '../lib/config/scales';
import { scaleSettings } from '../lib/config/run-settings';
import { writeSettings } from '../lib/io/run-folder';
import { loadArchitecture } from '../lib/model/arch';
import { budgetFor } from '../lib/search/pipeline';
import { sampleWithin, stage1Space, encode } from '../lib/search/space';
import { Rng } from '../lib/core/random';
import { createLocalExecutor } from '../lib/tasks/local';
import { executorRunner, inlineRunner } from '../lib/tasks/runner';

const HELP = `usage: npm run bench:parallel -- [--scale cpu] [--workers 2] [--candidates 24] [--skip-table]

  --scale S        the scale of the table and of the supernet (default cpu; smoke checks that it runs)
  --workers N      the workers compared with 1 (default: this machine's cores)
  --candidates N   candidates scored per measurement (default 24)
  --skip-table     only the scoring throughput`;

const GLIT = path.resolve(__dirname, '..', 'bin', 'glit.js');
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Wall seconds of one `glit reproduce table1` on `workers` local workers, in a fresh folder. */
function timeTable(
  scale: string,
  workers: number,
  dir: string,
): { seconds: number; loadBefore: string; loadAfter: string } {
  const out = path.join(dir, `table1-workers${workers}`);
  const loadBefore = load();
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    [GLIT, 'reproduce', 'table1', '--scale', scale, '--out', out, '--executor', 'local', '--workers', String(workers)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`glit reproduce table1 --workers ${workers} failed (exit ${r.status})`);
  return { seconds: (Date.now() - started) / 1000, loadBefore, loadAfter: load() };
}

async function main(): Promise<void> {
  const { values } = parseCommandArgs(
    process.argv.slice(2),
    { ...flags(['scale', 'workers', 'candidates'], ['skip-table', 'help']) },
    false,
  );
  if (values.help) return console.log(HELP);
  const scale = parseScale(String(values.scale ?? 'cpu'), '--scale');
  const workers = Number(values.workers ?? os.availableParallelism());
  const candidates = Number(values.candidates ?? 24);
  if (!Number.isInteger(workers) || workers < 2)
    throw new UsageError(`--workers must be 2 or more, got ${values.workers}`);
  const backend = await initBackend();
  console.log(`backend: ${describeBackend(backend)}; ${os.availableParallelism()} cores; load average ${load()}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-bench-parallel-'));

  if (!values['skip-table']) {
    const one = timeTable(scale, 1, dir);
    const many = timeTable(scale, workers, dir);
    console.log(
      `glit reproduce table1 --scale ${scale}: 1 worker ${one.seconds.toFixed(1)}s (load ${one.loadBefore} -> ${one.loadAfter}), ` +
        `${workers} workers ${many.seconds.toFixed(1)}s (load ${many.loadBefore} -> ${many.loadAfter}): ${(one.seconds / many.seconds).toFixed(2)}x`,
    );
  }

  // The EA's scoring: a stage-1 supernet trained once in this process, then the same candidates scored as tasks.
  const run = path.join(dir, 'scoring');
  const settings = scaleSettings(scale, { dataset: 'fashion-mnist', seed: 0 });
  fs.mkdirSync(run, { recursive: true });
  writeSettings(run, 'search', settings, backend);
  const data = await loadDataset(settings.dataset, { seed: 0, limit: settings.limit });
  const config = settings.config;
  const space = stage1Space(loadArchitecture(config.baseline).model);
  const budget = budgetFor(config);
  const quiet = () => {};
  const supernet = { kind: 'supernet' as const, dir: 'supernet', space, search: config, budget };
  await inlineRunner(run, { data, log: quiet }).runStep('supernet', [{ id: 'supernet', spec: supernet }]);
  const rng = new Rng(1);
  const codes = Array.from({ length: candidates }, () => encode(space, sampleWithin(space, rng, budget)));
  const rates: string[] = [];
  for (const w of [1, workers]) {
    const runner = executorRunner(run, createLocalExecutor({ log: quiet }, { executor: 'local', workers: w }));
    const before = load();
    const started = Date.now();
    const step = `score-w${w}`;
    await runner.runStep(
      step,
      Array.from({ length: w }, (_, p) => ({
        id: `${step}.p${p + 1}`,
        spec: {
          kind: 'score' as const,
          supernet: 'supernet',
          space,
          search: config,
          codes: codes.filter((_, i) => i % w === p),
        },
      })),
    );
    const minutes = (Date.now() - started) / 60_000;
    await runner.close();
    rates.push(`${w} worker(s) ${(candidates / minutes).toFixed(1)}/min (load ${before} -> ${load()})`);
  }
  console.log(
    `EA scoring, ${candidates} stage-1 candidates at ${scale} scale, worker start included: ${rates.join(', ')}`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${HELP}` : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
