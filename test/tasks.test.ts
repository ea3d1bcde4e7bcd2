// Parallel steps as tasks (lib/tasks): the local executor's runs equal the single-process run byte for byte, whatever
// the number of workers and even when a worker is killed; workers never run a task twice; bad flags and a worker on
// other kernels are refused clearly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { initBackend, backendInfo } from '../lib/kernels/backend';
import { scaleSettings } from '../lib/config/run-settings';
import { writeSettings } from '../lib/io/run-folder';
import { executorOptions } from '../lib/cli/run-options';
import { taskFiles, writeSpec, writeStep } from '../lib/tasks/task-files';
import type { TaskFile } from '../lib/tasks/runner';
import { createLocalExecutor } from '../lib/tasks/local';
import { TRAIN_DEFAULTS } from '../lib/train/train';
import { assertSameRunFiles, glitProcess, ROOT, runGlit, tinyBaseline, timelessRows, tinySearchFlags } from './helpers';

const strip = (r: { seconds: number }) => ({ ...r, seconds: 0 });

test(
  'glit search on 1 and 2 local workers, one of them killed with SIGKILL mid-task, equals the single-process run',
  { timeout: 600_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-tasks-'));
    const common = [...tinySearchFlags(dir), '--json'];
    const inline = await glitProcess('search', [...common, '--out', path.join(dir, 'inline')]);
    assert.equal(inline.code, 0, inline.stderr);
    const expected = JSON.parse(inline.stdout);
    for (const workers of ['1', '2']) {
      const out = path.join(dir, `workers${workers}`);
      const run = await glitProcess('search', [...common, '--out', out, '--executor', 'local', '--workers', workers]);
      assert.equal(run.code, 0, run.stderr);
      const got = JSON.parse(run.stdout);
      assert.deepEqual(got.distribution, expected.distribution);
      assert.deepEqual(strip(got.found), strip(expected.found));
      assert.deepEqual(strip(got.baseline), strip(expected.baseline));
      assertSameRunFiles(path.join(dir, 'inline'), out);
      // Stage 1's retrainings ran as one step of two tasks, the EA's scoring as parts of each generation.
      assert.ok(fs.existsSync(path.join(out, 'tasks', 'stage1.retrain.rank2', 'output.json')));
      assert.ok(fs.existsSync(path.join(out, 'tasks', `stage1.evolution.g2.p${workers}of${workers}`, 'output.json')));
    }

    // kill -9 of the worker holding a retraining once it saved its first epoch: the pool hands the task out again,
    // the new worker takes the dead one's claim over and resumes from the saved epoch.
    const out = path.join(dir, 'killed');
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/glit.js'), 'search', ...common, '--out', out, '--executor', 'local', '--workers', '2'],
      { cwd: ROOT, env: { ...process.env, GLIT_BACKEND: 'wasm' } },
    );
    let [stdout, stderr, killedPid] = ['', '', 0];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const state = path.join(out, 'stage1', 'retrain', 'rank1', 'train.safetensors');
    const claim = path.join(out, 'tasks', 'stage1.retrain.rank1', '.lock');
    const poll = setInterval(() => {
      if (killedPid || !fs.existsSync(state) || !fs.existsSync(claim)) return;
      killedPid = JSON.parse(fs.readFileSync(claim, 'utf8')).pid;
      process.kill(killedPid, 'SIGKILL');
    }, 5);
    const code = await new Promise((resolve) => child.on('close', resolve));
    clearInterval(poll);
    assert.equal(code, 0, stderr);
    assert.ok(killedPid > 0, 'the retraining worker should have been killed');
    assert.match(stderr, new RegExp(`its worker \\(PID ${killedPid}\\) exited with SIGKILL; handing it out again`));
    const got = JSON.parse(stdout);
    assert.deepEqual(strip(got.found), strip(expected.found));
    assertSameRunFiles(path.join(dir, 'inline'), out);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test(
  'glit reproduce table1 on 2 local workers equals the single-process run; Ctrl-C stops it and --resume finishes',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-tasks-'));
    const common = ['table1', '--scale', 'smoke', '--limit', 'train=96,val=32,test=32', '--json'];
    const inline = await glitProcess('reproduce', [...common, '--out', path.join(dir, 'inline')]);
    assert.equal(inline.code, 0, inline.stderr);
    const out = path.join(dir, 'local');
    // Interrupted once the first row's retraining has started, with all four rows running on the two workers.
    const first = path.join(out, 'table1', 'G3-L0', 'seed0', 'arch.json');
    const stopped = await glitProcess(
      'reproduce',
      [...common, '--out', out, '--executor', 'local', '--workers', '2'],
      first,
      'SIGINT',
    );
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, new RegExp(`continue it with: npx glit reproduce --out ${out} --resume`));
    const resumed = await glitProcess('reproduce', [
      'table1',
      '--out',
      out,
      '--resume',
      '--json',
      '--executor',
      'local',
      '--workers',
      '2',
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const [want, got] = [JSON.parse(inline.stdout)[0], JSON.parse(resumed.stdout)[0]];
    assert.deepEqual(timelessRows(got), timelessRows(want));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

/** A run folder with a step of `count` retraining tasks of the tiny architecture, made as a driver makes them. */
async function preparedStep(dir: string, count: number, epochs = 1): Promise<{ run: string; ids: string[] }> {
  await initBackend({ backend: 'wasm' });
  const run = path.join(dir, 'run');
  fs.mkdirSync(run, { recursive: true });
  writeSettings(
    run,
    'search',
    scaleSettings('smoke', { dataset: 'fashion-mnist', seed: 0, limit: { train: 64, val: 32, test: 32 } }),
    backendInfo(),
  );
  const ids = Array.from({ length: count }, (_, i) => `retrain.t${i}`);
  const { backend, gemm } = backendInfo();
  for (const [i, id] of ids.entries()) {
    const file: TaskFile = {
      version: 1,
      backend: { backend, gemm },
      spec: {
        kind: 'retrain',
        dir: `retrain/t${i}`,
        name: `t${i}`,
        arch: tinyBaseline(),
        train: { ...TRAIN_DEFAULTS, epochs, batchSize: 32, seed: i },
      },
    };
    writeSpec(run, id, file);
  }
  writeStep(run, 'retrain', ids);
  return { run, ids };
}

test('two workers looping over one step never run the same task; a worker on other kernels is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-tasks-'));
  const { run, ids } = await preparedStep(dir, 4);
  const both = await Promise.all([0, 1].map(() => glitProcess('worker', ['--run', run, '--step', 'retrain'])));
  for (const w of both) assert.equal(w.code, 0, w.stderr);
  const all = both.map((w) => w.stderr).join('\n');
  for (const id of ids) {
    assert.equal(all.split(`task ${id} finished`).length - 1, 1, `${id} should have run exactly once:\n${all}`);
    assert.ok(fs.existsSync(taskFiles(run, id).output));
  }
  // Run again: every task has its output and is not redone.
  const again = await glitProcess('worker', ['--run', run, '--step', 'retrain', '--index', '3']);
  assert.match(again.stderr, /task retrain\.t3 was finished before/);

  fs.rmSync(taskFiles(run, ids[0]).output);
  const other = runGlit(['worker', '--run', run, '--step', 'retrain', '--index', '0'], { GLIT_BACKEND: 'cpu' });
  assert.equal(other.status, 1);
  assert.match(
    other.stderr,
    /task retrain\.t0 was made on wasm with \S+ GEMM and must run on the same .*this worker runs cpu \(set GLIT_BACKEND and GLIT_BLAS/,
  );
  const bad = runGlit(['worker', '--run', run, '--step', 'retrain', '--index', '9'], { GLIT_BACKEND: 'cpu' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--index 9: step retrain has tasks 0 to 3/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a task that throws fails its step on the local executor, naming the task and its log', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-tasks-'));
  const { run, ids } = await preparedStep(dir, 1);
  const file = JSON.parse(fs.readFileSync(taskFiles(run, ids[0]).spec, 'utf8'));
  file.spec.arch.model.heads = 0;
  fs.writeFileSync(taskFiles(run, ids[0]).spec, JSON.stringify(file));
  const lines: string[] = [];
  const executor = createLocalExecutor({ log: (l) => lines.push(l) }, { executor: 'local', workers: 1 });
  await assert.rejects(
    executor.runStep(run, 'retrain', ids),
    new RegExp(`task retrain\\.t0 failed: .+ \\(log: ${taskFiles(run, ids[0]).log.replace(/[.]/g, '\\.')}\\)`),
  );
  await executor.close();
  assert.match(fs.readFileSync(taskFiles(run, ids[0]).log, 'utf8'), /task retrain\.t0 failed/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  'a worker that hangs on its task (SIGSTOP) is killed after the stall time and its task handed out again',
  { timeout: 60_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-tasks-'));
    const { run, ids } = await preparedStep(dir, 1, 40);
    const lines: string[] = [];
    const executor = createLocalExecutor(
      { log: (l) => lines.push(l) },
      { executor: 'local', workers: 1, stallMinutes: 3 / 60 },
    );
    const claim = path.join(taskFiles(run, ids[0]).dir, '.lock');
    let stopped = 0;
    const poll = setInterval(() => {
      if (stopped || !fs.existsSync(claim)) return;
      stopped = JSON.parse(fs.readFileSync(claim, 'utf8')).pid;
      process.kill(stopped, 'SIGSTOP');
    }, 5);
    await executor.runStep(run, 'retrain', ids);
    clearInterval(poll);
    await executor.close();
    assert.ok(stopped > 0, 'the worker should have been stopped');
    assert.throws(() => process.kill(stopped, 0), /ESRCH/, 'the hung worker should have been killed');
    assert.ok(
      lines.includes(
        `task ${ids[0]}: its worker (PID ${stopped}) sent nothing for 3 s and was killed; handing it out again`,
      ),
      lines.join('\n'),
    );
    assert.ok(fs.existsSync(taskFiles(run, ids[0]).output));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test('executor flags are checked and name the flag at fault', () => {
  assert.deepEqual(executorOptions({}).executor, 'inline');
  assert.equal(executorOptions({ executor: 'local', workers: '3' }).workers, 3);
  assert.deepEqual(executorOptions({ executor: 'slurm', 'slurm-extra': '--qos=long; --nice=10' }).slurm?.extra, [
    '--qos=long',
    '--nice=10',
  ]);
  assert.throws(
    () => executorOptions({ executor: 'threads' }),
    /--executor 'threads' is not one of inline, local, slurm, external/,
  );
  assert.throws(
    () => executorOptions({ executor: 'local', workers: '0' }),
    /--workers must be an integer of at least 1, got 0/,
  );
  assert.throws(() => executorOptions({ workers: '2' }), /--workers needs --executor local, slurm or external/);
  assert.throws(
    () => executorOptions({ executor: 'local', 'slurm-time': '1:00:00' }),
    /--slurm-time is for --executor slurm, not local/,
  );
  assert.equal(executorOptions({ executor: 'local', 'stall-minutes': '0.5' }).stallMinutes, 0.5);
  assert.throws(
    () => executorOptions({ executor: 'slurm', 'stall-minutes': '10' }),
    /--stall-minutes is for --executor local, not slurm/,
  );
  assert.throws(
    () => executorOptions({ executor: 'local', 'stall-minutes': '-1' }),
    /--stall-minutes must be a number of minutes of at least 0, got -1/,
  );
  assert.throws(
    () => executorOptions({ executor: 'slurm', submit: 'x' }),
    /--submit is for --executor external, not slurm/,
  );
  const r = runGlit(['search', '--executor', 'local', '--workers', 'many']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--workers expects a number, got 'many'/);
});
