// glit search and glit reproduce table1 through Slurm (a one-node cluster on localhost, test/slurm-cluster.ts) with the
// real `glit worker`, against their single-process runs: the same results and run files, also after a task was
// cancelled mid-run with scancel and resubmitted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { taskFiles } from '../lib/tasks/task-files';
import { assertSameRunFiles, glitProcess, timelessRows, tinySearchFlags } from './helpers';
import { skip, untilFileHas, useSlurmCluster } from './slurm-cluster';

const { scratch } = useSlurmCluster('slurm-cli.test.ts');
const strip = (r: { seconds: number }) => ({ ...r, seconds: 0 });

test('glit search through Slurm equals the single-process run, file for file', { skip }, async () => {
  const dir = scratch();
  const common = [...tinySearchFlags(dir), '--json'];
  const inline = await glitProcess('search', [...common, '--out', path.join(dir, 'inline')]);
  assert.equal(inline.code, 0, inline.stderr);
  const out = path.join(dir, 'slurm');
  const run = await glitProcess('search', [...common, '--out', out, '--executor', 'slurm', '--workers', '2']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /slurm: step stage1\.evolution\.g1: job \d+, an array of 2 task/);
  const [want, got] = [JSON.parse(inline.stdout), JSON.parse(run.stdout)];
  assert.deepEqual(got.distribution, want.distribution);
  assert.deepEqual(strip(got.found), strip(want.found));
  assert.deepEqual(strip(got.baseline), strip(want.baseline));
  assertSameRunFiles(path.join(dir, 'inline'), out);
});

test(
  'glit reproduce table1 through Slurm, a row cancelled mid-run, equals the single-process run',
  { skip },
  async () => {
    const dir = scratch();
    const common = ['table1', '--scale', 'smoke', '--limit', 'train=64,val=32,test=32', '--json'];
    const inline = await glitProcess('reproduce', [...common, '--out', path.join(dir, 'inline')]);
    assert.equal(inline.code, 0, inline.stderr);
    const out = path.join(dir, 'slurm');
    const driver = glitProcess('reproduce', [...common, '--out', out, '--executor', 'slurm']);
    const step = 'table1.G1-L2.seed0';
    await untilFileHas(taskFiles(out, step).log, 'glit worker: ');
    assert.equal(spawnSync('scancel', ['--name', `glit-${step}`]).status, 0);
    const run = await driver;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`slurm: step ${step}: resubmitting 1 task`));
    assert.deepEqual(timelessRows(JSON.parse(run.stdout)[0]), timelessRows(JSON.parse(inline.stdout)[0]));
  },
);

test("Ctrl-C of the driver cancels the step's arrays", { skip }, async () => {
  const out = path.join(scratch(), 'run');
  const args = ['table1', '--scale', 'smoke', '--limit', 'train=64,val=32,test=32', '--out', out];
  const started = taskFiles(out, 'table1.G3-L0.seed0').log; // its array task has begun
  const stopped = await glitProcess('reproduce', [...args, '--executor', 'slurm'], started, 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr);
  const active = () => spawnSync('squeue', ['-h', '-o', '%j'], { encoding: 'utf8' }).stdout.trim();
  for (let i = 0; i < 100 && active(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(active(), '');
});
