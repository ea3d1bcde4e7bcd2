// The Slurm executor against a real one-node cluster on localhost (test/slurm-cluster.ts), with a stand-in worker
// that honours `glit worker`'s contract (test/stand-in-worker.sh): outputs, a task cancelled mid-run and retried, a
// task that fails for good, close(), a stale claim. The drivers through Slurm: test/slurm-cli.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Progress } from '../lib/core/progress';
import type { CommandPlace } from '../lib/tasks/external';
import { arrayRanges, createSlurmExecutor, stepScript } from '../lib/tasks/slurm';
import { readOutput, taskFiles, writeSpec, writeStep } from '../lib/tasks/task-files';
import { ROOT } from './helpers';
import { skip, untilFileHas, useSlurmCluster } from './slurm-cluster';

const STAND_IN: CommandPlace = {
  cwd: ROOT,
  node: '/bin/bash',
  glit: path.join(ROOT, 'test/stand-in-worker.sh'),
  env: {},
};
const { scratch, cluster } = useSlurmCluster('slurm.test.ts');

/** A run folder with one step of tasks whose stand-in specs are `specs`; the ids. */
function stepOf(run: string, step: string, specs: object[]): string[] {
  const ids = specs.map((_, i) => `${step}.task${i}`);
  ids.forEach((id, i) => writeSpec(run, id, specs[i]));
  writeStep(run, step, ids);
  return ids;
}

function recorder() {
  const lines: string[] = [];
  const progress: Progress[] = [];
  return {
    lines,
    progress,
    hooks: { log: (line: string) => lines.push(line), progress: (p: Progress) => progress.push(p) },
  };
}

test('array index ranges', () => {
  assert.equal(arrayRanges([7, 0, 1, 2, 3, 5, 8]), '0-3,5,7-8');
  assert.equal(arrayRanges([4]), '4');
});

test("the step's batch script carries the options, and refuses an extra line that is not an option", () => {
  const run = '/shared/runs/table1';
  const options = {
    partition: 'gpu',
    account: 'lab',
    time: '01:00:00',
    mem: '8G',
    gpus: 1,
    cpusPerTask: 4,
    extra: ['--qos=long'],
  };
  const place = {
    ...STAND_IN,
    cwd: '/home/me',
    node: '/usr/bin/node',
    glit: '/opt/glit/bin/glit.js',
    env: { GLIT_BACKEND: 'wasm' },
  };
  const golden = path.join(ROOT, 'test/golden/table1.rows.sbatch');
  assert.equal(stepScript(run, 'table1.rows', options, place), fs.readFileSync(golden, 'utf8'));
  assert.throws(
    () => stepScript(run, 'x', { extra: ['qos=long'] }, place),
    /--slurm-extra 'qos=long': give sbatch options/,
  );
});

test('without sbatch on PATH the executor says Slurm is not found and how to fix it', () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    assert.throws(
      () => createSlurmExecutor(recorder().hooks, { executor: 'slurm' }),
      /Slurm not found: 'sbatch' is not on PATH.*--executor local/,
    );
  } finally {
    process.env.PATH = saved;
  }
});

test('a controller that does not answer is named with SLURM_CONF and the fix', { skip }, () => {
  const conf = path.join(scratch(), 'slurm.conf');
  fs.writeFileSync(conf, fs.readFileSync(cluster.conf, 'utf8').replace(/^SlurmctldPort=\d+/m, 'SlurmctldPort=9'));
  const saved = process.env.SLURM_CONF;
  process.env.SLURM_CONF = conf;
  try {
    assert.throws(
      () => createSlurmExecutor(recorder().hooks, { executor: 'slurm' }),
      new RegExp(`controller does not answer .*SLURM_CONF=${conf}.*--executor local`),
    );
  } finally {
    process.env.SLURM_CONF = saved;
  }
});

test('a step runs as one job array; every task gets its output and its log', { skip }, async () => {
  const run = scratch();
  const ids = stepOf(
    run,
    'rows',
    [1, 2, 3, 4].map((value) => ({ value, sleep: 0.5 })),
  );
  const { lines, progress, hooks } = recorder();
  const executor = createSlurmExecutor(hooks, { executor: 'slurm', workers: 2 }, STAND_IN);
  assert.equal(executor.parallelism, 2);
  await executor.runStep(run, 'rows', ids);
  await executor.close();
  assert.deepEqual(
    ids.map((id) => readOutput(run, id)),
    ids.map((id, i) => ({ id, value: i + 1 })),
  );
  assert.equal(lines.filter((line) => /job \d+, an array of 4 task/.test(line)).length, 1, lines.join('\n'));
  assert.deepEqual(progress.at(-1), { task: 'tasks on Slurm', done: 4, total: 4 });
  for (const id of ids)
    assert.match(
      fs.readFileSync(taskFiles(run, id).log, 'utf8'),
      new RegExp(`== Slurm job \\d+_\\d[^]*task ${id} done`),
    );
  // Done tasks are not submitted again.
  const again = recorder();
  await createSlurmExecutor(again.hooks, { executor: 'slurm' }, STAND_IN).runStep(run, 'rows', ids);
  assert.deepEqual(again.lines, []);
});

test('a task cancelled mid-run with scancel is resubmitted and the step still completes', { skip }, async () => {
  const run = scratch();
  const ids = stepOf(run, 'scores', [{ value: 'a' }, { value: 'b', sleep: 4 }, { value: 'c' }]);
  const { lines, hooks } = recorder();
  const executor = createSlurmExecutor(hooks, { executor: 'slurm' }, STAND_IN);
  assert.equal(executor.parallelism, Math.min(64, os.cpus().length)); // the test cluster's CPUs: slurmd -C's count
  const done = executor.runStep(run, 'scores', ids);
  await untilFileHas(taskFiles(run, ids[1]).log, 'stand-in worker');
  const job = /job (\d+),/.exec(lines.join('\n'))![1];
  assert.equal(spawnSync('scancel', [`${job}_1`]).status, 0);
  await done;
  await executor.close();
  assert.deepEqual(
    ids.map((id) => readOutput(run, id)),
    ids.map((id, i) => ({ id, value: 'abc'[i] })),
  );
  assert.ok(
    lines.some((line) => /resubmitting 1 task\(s\) \(1 of 2\)/.test(line)),
    lines.join('\n'),
  );
  // Both attempts wrote to the same log.
  assert.equal(fs.readFileSync(taskFiles(run, ids[1]).log, 'utf8').match(/stand-in worker: task/g)?.length, 2);
});

test('a task that fails every time fails the step, naming its log and its last lines', { skip }, async () => {
  const run = scratch();
  const ids = stepOf(run, 'retrain', [{ value: 1 }, { value: 2, fail: true }]);
  const { lines, hooks } = recorder();
  const executor = createSlurmExecutor(hooks, { executor: 'slurm', retries: 1 }, STAND_IN);
  await assert.rejects(
    executor.runStep(run, 'retrain', ids),
    new RegExp(
      `step retrain: 1 task\\(s\\) without output after 1 resubmission.*\\n  ${ids[1]}: ${taskFiles(run, ids[1]).log}\\n` +
        `last lines of .*\\n(.*\\n)*task ${ids[1]} fails`,
    ),
  );
  await executor.close();
  assert.deepEqual(readOutput(run, ids[0]), { id: ids[0], value: 1 });
  assert.equal(lines.filter((line) => /job \d+, an array of/.test(line)).length, 2, lines.join('\n'));
});

test('close() cancels the arrays still running and the step rejects', { skip }, async () => {
  const run = scratch();
  const ids = stepOf(run, 'long', [{ value: 1, sleep: 60 }]);
  const { lines, hooks } = recorder();
  const executor = createSlurmExecutor(hooks, { executor: 'slurm' }, STAND_IN);
  const done = executor.runStep(run, 'long', ids);
  await untilFileHas(taskFiles(run, ids[0]).log, 'stand-in worker');
  await executor.close();
  await assert.rejects(done, /1 task\(s\) without output \(the executor was closed\)/);
  const job = /job (\d+),/.exec(lines.join('\n'))![1];
  const state = spawnSync('squeue', ['-h', '-j', job, '-t', 'all', '-o', '%T'], { encoding: 'utf8' }).stdout.trim();
  assert.match(state, /^(CANCELLED|COMPLETING)$/);
});

test("a task's claim left on another node is cleared before its resubmission", { skip }, async () => {
  const run = scratch();
  const ids = stepOf(run, 'claimed', [{ value: 1 }, { value: 2 }]);
  fs.writeFileSync(path.join(taskFiles(run, ids[1]).dir, '.lock'), '{"pid": 1, "host": "node-b"}');
  const { lines, hooks } = recorder();
  await createSlurmExecutor(hooks, { executor: 'slurm' }, STAND_IN).runStep(run, 'claimed', ids);
  assert.deepEqual(readOutput(run, ids[1]), { id: ids[1], value: 2 });
  assert.match(fs.readFileSync(taskFiles(run, ids[1]).log, 'utf8'), /claimed elsewhere[^]*task claimed.task1 done/);
  assert.ok(
    lines.some((line) => /resubmitting 1 task/.test(line)),
    lines.join('\n'),
  );
});
