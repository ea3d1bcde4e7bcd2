// The export for other schedulers: the Kubernetes manifest and the command list against golden files (no Kubernetes
// cluster can run here), and steps run end to end through a submit command (xargs) or by hand, with the stand-in worker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { Progress } from '../lib/core/progress';
import type { ExecutorOptions } from '../lib/tasks/executor';
import { createExternalExecutor, stepCommands, stepManifest, type CommandPlace } from '../lib/tasks/external';
import { readOutput, stepFile, taskFiles, writeSpec, writeStep } from '../lib/tasks/task-files';
import { glitProcess, ROOT, timelessRows } from './helpers';

const STAND_IN: CommandPlace = {
  cwd: ROOT,
  node: '/bin/bash',
  glit: path.join(ROOT, 'test/stand-in-worker.sh'),
  env: {},
};
const made: string[] = [];
const scratch = () => made[made.push(fs.mkdtempSync(path.join(os.tmpdir(), 'glit-external-'))) - 1];
after(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const golden = (name: string) => fs.readFileSync(path.join(ROOT, 'test/golden', name), 'utf8');

test('the manifest and the command list of a step equal the golden files', () => {
  const run = '/shared/runs/table1';
  const ids = ['table1.glit.seed0', 'table1.glit.seed1', 'table1.deit.seed0'];
  const env = { GLIT_BACKEND: 'webgpu', GLIT_DAWN_TOGGLES: 'a b', GLIT_SCALE: 'cpu' };
  const options: ExecutorOptions = {
    executor: 'external',
    workers: 2,
    external: { image: 'registry.example.org/glit:0.1', volumeClaim: 'glit-runs' },
  };
  assert.equal(stepManifest(run, 'table1.rows', ids.length, options, env), golden('table1.rows.k8s.yaml'));
  const place = { cwd: '/home/me/glit', node: '/usr/bin/node', glit: '/opt/glit/bin/glit.js', env };
  assert.equal(stepCommands(run, 'table1.rows', ids, place), golden('table1.rows.commands.txt'));
  assert.throws(() => stepManifest(run, 'x', 1, { executor: 'external' }, env), /needs --k8s-image and --k8s-volume/);
});

/** A run folder with one step of stand-in tasks; the ids. */
function stepOf(run: string, step: string, specs: object[]): string[] {
  const ids = specs.map((_, i) => `${step}.task${i}`);
  ids.forEach((id, i) => writeSpec(run, id, specs[i]));
  writeStep(run, step, ids);
  return ids;
}

const XARGS = 'xargs -P 2 -I{} sh -c {} < {commands}';

test('a step runs through a submit command (xargs over the command list)', async () => {
  const run = scratch();
  const ids = stepOf(
    run,
    'rows',
    [1, 2, 3].map((value) => ({ value, sleep: 0.2 })),
  );
  const [lines, progress] = [[] as string[], [] as Progress[]];
  const options: ExecutorOptions = { executor: 'external', external: { submit: XARGS } };
  const hooks = { log: (line: string) => lines.push(line), progress: (p: Progress) => progress.push(p) };
  const executor = createExternalExecutor(hooks, options, STAND_IN);
  await executor.runStep(run, 'rows', ids);
  await executor.close();
  assert.deepEqual(
    ids.map((id) => readOutput(run, id)),
    ids.map((id, i) => ({ id, value: i + 1 })),
  );
  assert.match(lines[0], new RegExp(`xargs -P 2 -I\\{\\} sh -c \\{\\} < ${run}/tasks/steps/rows.commands.txt`));
  assert.match(fs.readFileSync(taskFiles(run, ids[2]).log, 'utf8'), /task rows.task2 done/);
  assert.deepEqual(progress.at(-1), { task: 'tasks through the submit command', done: 3, total: 3 });
  assert.equal(fs.existsSync(stepFile(run, 'rows').replace('.txt', '.k8s.yaml')), false); // no image, no manifest
});

test('a submit command that fails names the tasks without output and their logs', async () => {
  const run = scratch();
  const ids = stepOf(run, 'rows', [{ value: 1 }, { value: 2, fail: true }]);
  const options: ExecutorOptions = { executor: 'external', external: { submit: XARGS } };
  const executor = createExternalExecutor({ log: () => {} }, options, STAND_IN);
  await assert.rejects(
    executor.runStep(run, 'rows', ids),
    new RegExp(
      `1 task\\(s\\) without output \\(the submit command exited with 123\\):\\n  ${ids[1]}: .*\\n[^]*task ${ids[1]} fails`,
    ),
  );
  assert.deepEqual(readOutput(run, ids[0]), { id: ids[0], value: 1 });
});

test('without a submit command it says where the files are and waits for the outputs', async () => {
  const run = scratch();
  const ids = stepOf(run, 'rows', [{ value: 'x' }, { value: 'y' }]);
  const lines: string[] = [];
  const options: ExecutorOptions = {
    executor: 'external',
    external: { image: 'glit:dev', volumeClaim: 'runs' },
  };
  const executor = createExternalExecutor({ log: (line) => lines.push(line) }, options, STAND_IN);
  const done = executor.runStep(run, 'rows', ids);
  const commands = stepFile(run, 'rows').replace('.txt', '.commands.txt');
  assert.match(
    lines[0],
    new RegExp(`kubectl apply -f ${run}/tasks/steps/rows.k8s.yaml, or e.g. parallel < ${commands}`),
  );
  assert.match(fs.readFileSync(stepFile(run, 'rows').replace('.txt', '.k8s.yaml'), 'utf8'), /completions: 2\n/);
  assert.equal(spawnSync('sh', [commands]).status, 0); // the user runs the list
  await done;
  assert.deepEqual(readOutput(run, ids[1]), { id: ids[1], value: 'y' });
});

test('a submit command that names the manifest needs the image and the volume', () => {
  assert.throws(
    () =>
      createExternalExecutor(
        { log: () => {} },
        { executor: 'external', external: { submit: 'kubectl apply -f {manifest}' } },
      ),
    /uses \{manifest\}: give the pods' image \(--k8s-image\) and run volume \(--k8s-volume\)/,
  );
});

/** Plays a Kubernetes Indexed Job here: each pod's command, from the manifest, with its JOB_COMPLETION_INDEX. */
const PODS = `const fs = require('fs'), { execFileSync } = require('child_process');
const manifest = fs.readFileSync(process.argv[2], 'utf8');
const [command, ...args] = JSON.parse(/command: (\\[.*\\])/.exec(manifest)[1]);
for (let i = 0; i < Number(/completions: (\\d+)/.exec(manifest)[1]); i++)
  execFileSync(command, args, { cwd: ${JSON.stringify(ROOT)}, env: { ...process.env, JOB_COMPLETION_INDEX: String(i) } });`;

test("glit reproduce table1 through the command lists (xargs) and through the manifests' pod commands equals the single-process run", async () => {
  const dir = scratch();
  const common = ['table1', '--scale', 'smoke', '--limit', 'train=64,val=32,test=32', '--json'];
  const inline = await glitProcess('reproduce', [...common, '--out', path.join(dir, 'inline')]);
  assert.equal(inline.code, 0, inline.stderr);
  const pods = path.join(dir, 'pods.js');
  fs.writeFileSync(pods, PODS);
  const k8s = ['--k8s-image', 'glit:test', '--k8s-volume', 'runs', '--submit', `node ${pods} {manifest}`];
  for (const [name, flags] of [
    ['xargs', ['--submit', XARGS]],
    ['pods', k8s],
  ] as const) {
    const out = path.join(dir, name);
    const run = await glitProcess('reproduce', [...common, '--out', out, '--executor', 'external', ...flags]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`external: step table1\\.G1-L2\\.seed0: ${name === 'xargs' ? 'xargs -P 2' : 'node'}`),
    );
    assert.deepEqual(timelessRows(JSON.parse(run.stdout)[0]), timelessRows(JSON.parse(inline.stdout)[0]), name);
  }
});
