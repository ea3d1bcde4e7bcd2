// `npm run bench` at smoke scale: every --json line parses and carries the fields docs/performance.md's table is made of.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers';

const bench = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/bench.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, GLIT_BACKEND: 'wasm' },
    encoding: 'utf8',
    timeout: 120_000,
  });

test('bench --smoke --json: one parseable line per case, ours against PyTorch and the path switch against fixed paths', () => {
  const r = bench(['--smoke', '--json', '--cases', 'deit-proxy-28,path-switch-28']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /backend wasm on /);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.case),
    ['deit-proxy-28', 'path-switch-28'],
  );
  for (const l of lines) {
    assert.equal(l.backend, 'wasm');
    assert.equal(typeof l.device, 'string');
    for (const key of [
      'img_per_s',
      'ref_img_per_s',
      'ratio',
      'img_per_cpu_s',
      'ref_img_per_cpu_s',
      'cpu_ratio',
      'peak_mem_mb',
    ])
      assert.ok(l[key] > 0, `${l.case}: ${key} = ${l[key]}`);
    assert.ok(
      Math.abs(l.ratio - l.ref_img_per_s / l.img_per_s) <= 0.01 * l.ratio,
      `${l.case}: ratio is reference over ours`,
    );
  }
  const [model, switching] = lines;
  assert.match(model.reference, /^PyTorch .* cpu/);
  assert.ok(model.ref_peak_mem_mb > 0);
  assert.equal(model.batch, 8);
  assert.equal(switching.reference, 'ours, the same paths held fixed');
  assert.equal(switching.paths.length, 2);
});

test('bench rejects an unknown case with its usage', () => {
  const r = bench(['--cases', 'nope']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown case nope: use glit-tiny-path-224, /);
  assert.match(r.stderr, /usage: npm run bench/);
});
