// One writer per run folder and per record, and writes that leave nothing behind when they fail.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { appendJsonLine, sweepTemporaries, writeFileAtomic } from '../lib/io/atomic-files';
import { LOCK_FILE, lockRecord, lockRunFolder, RunFolderBusyError } from '../lib/io/run-lock';
import { ROOT, runGlit } from './helpers';

// The fs module object itself (a namespace import is a read-only view of it), for mocking a full disk.
const nodeFs = createRequire(__filename)('node:fs') as typeof fs;

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'glit-lock-'));
const LOCK_MODULE = path.join(ROOT, 'lib/io/run-lock.ts');

/** A node process that takes the lock of `dir`, prints 'locked' or 'busy', and holds it for `holdMs`. */
function locker(dir: string, holdMs: number) {
  const script = `const { lockRunFolder } = require(${JSON.stringify(LOCK_MODULE)});
    try { lockRunFolder(${JSON.stringify(dir)}, 'test'); console.log('locked'); setTimeout(() => {}, ${holdMs}); }
    catch (e) { console.log(e.name === 'RunFolderBusyError' ? 'busy' : 'error: ' + e.message); }`;
  return spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const output = (child: ReturnType<typeof locker>) =>
  new Promise<string>((resolve) => {
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    child.stdout!.on('end', () => resolve(text.trim()));
  });

test('a second writer is refused with the holder named; the holder itself may take its lock again', async () => {
  const dir = scratch();
  const lock = lockRunFolder(dir, 'search');
  const before = fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8');
  lockRunFolder(dir, 'search'); // a notebook rerunning a cell holds the lock already
  assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'), before);
  const other = locker(dir, 0);
  assert.equal(await output(other), 'busy');
  const busy = new RunFolderBusyError(dir, JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')));
  assert.match(busy.message, new RegExp(`in use by glit search \\(PID ${process.pid} on .*choose another --out`));
  lock.release();
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
  assert.equal(await output(locker(dir, 0)), 'locked');
});

test('a second glit reproduce on a record another live run adds to is refused before it makes its run folder', () => {
  const dir = scratch();
  const record = path.join(dir, 'results', 'table1-smoke.json');
  const lock = lockRecord(record, 'reproduce');
  const out = path.join(dir, 'run');
  const r = runGlit(['reproduce', 'table1', '--scale', 'smoke', '--out', out, '--record', record]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `${record.replace(/[.]/g, '\\.')} is being recorded by glit reproduce \\(PID ${process.pid} on .*two runs must not add to one record`,
    ),
  );
  assert.equal(fs.existsSync(out), false);
  lock.release();
  assert.equal(fs.existsSync(`${record}.lock`), false);
});

test('processes started together on one folder: exactly one gets the lock', async () => {
  const dir = scratch();
  const children = Array.from({ length: 4 }, () => locker(dir, 3000));
  const said = await Promise.all(children.map(output));
  children.forEach((c) => c.kill());
  assert.deepEqual(said.sort(), ['busy', 'busy', 'busy', 'locked'], said.join(', '));
});

test('the lock of a killed process is taken over; one from another host is not', async () => {
  const dir = scratch();
  const child = locker(dir, 60_000);
  const said = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d).trim())));
  assert.equal(said, 'locked');
  assert.equal(await output(locker(dir, 0)), 'busy');
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  lockRunFolder(dir, 'search').release();

  const foreign = { pid: 1, host: `not-${os.hostname()}`, command: 'search', since: '2026-01-01T00:00:00Z' };
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(foreign));
  assert.throws(
    () => lockRunFolder(dir, 'search'),
    (e: unknown) => e instanceof RunFolderBusyError && e.message.includes(`delete ${path.join(dir, LOCK_FILE)}`),
  );
});

test('a lock whose PID now belongs to another process (a reused PID) is taken over', () => {
  const dir = scratch();
  // PID 1 is alive but started long before this holder claims to have.
  const reused = { pid: 1, host: os.hostname(), processStart: '-1', command: 'search', since: '2026-01-01T00:00:00Z' };
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(reused));
  if (!fs.existsSync('/proc/1/stat')) return;
  lockRunFolder(dir, 'search').release();
});

test('a failed write removes its temporary and names the file and the space it needed', (t) => {
  const dir = scratch();
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, 'previous');
  const real = nodeFs.writeFileSync;
  t.mock.method(nodeFs, 'writeFileSync', (target: fs.PathOrFileDescriptor, data: Uint8Array) => {
    real(target, data.subarray(0, 10));
    throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  });
  assert.throws(
    () => writeFileAtomic(file, new Uint8Array(3 * 2 ** 20)),
    /model\.safetensors: the disk is full \(writing 3\.0 MB\)/,
  );
  t.mock.restoreAll();
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
  assert.equal(fs.readFileSync(file, 'utf8'), 'previous');
  assert.throws(
    () => appendJsonLine(path.join(file, 'x.jsonl'), {}),
    /model\.safetensors\/x\.jsonl: could not be written/,
  );
});

test('temporaries left by a killed writer are swept, and nothing else is', () => {
  const dir = scratch();
  fs.mkdirSync(path.join(dir, 'stage1', 'retrain'), { recursive: true });
  const left = [
    path.join(dir, 'result.json.tmp-123'),
    path.join(dir, 'stage1', 'retrain', 'state.safetensors.tmp-9'),
    path.join(dir, '.lock.77'),
  ];
  for (const f of left) fs.writeFileSync(f, 'x');
  fs.writeFileSync(path.join(dir, 'result.json'), '{}');
  fs.writeFileSync(path.join(dir, 'notes.tmp-keep'), 'x');
  assert.deepEqual(sweepTemporaries(dir).sort(), left.sort());
  assert.deepEqual(fs.readdirSync(dir).sort(), ['notes.tmp-keep', 'result.json', 'stage1']);
});

test('kill -9 mid-write never leaves a torn target', () => {
  const dir = scratch();
  const file = path.join(dir, 'big.bin');
  writeFileAtomic(file, new Uint8Array(1000).fill(1));
  const script = `const { writeFileAtomic } = require(${JSON.stringify(path.join(ROOT, 'lib/io/atomic-files.ts'))});
    for (let i = 0; ; i++) writeFileAtomic(${JSON.stringify(file)}, new Uint8Array(8 * 2 ** 20).fill(i % 250 + 2));`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    timeout: 1500,
    killSignal: 'SIGKILL',
  });
  assert.equal(run.signal, 'SIGKILL');
  const bytes = fs.readFileSync(file);
  assert.ok(bytes.length === 1000 || bytes.length === 8 * 2 ** 20);
  assert.ok(bytes.every((b) => b === bytes[0]));
  sweepTemporaries(dir);
  assert.deepEqual(fs.readdirSync(dir), ['big.bin']);
});
