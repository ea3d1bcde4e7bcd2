// Run folders read back (lib/notebook/run-records.ts) and the notebooks' way to run and find them (lib/notebook/search-run.ts): the whole
// pipeline runs once on a tiny model and a few images, readRun must see every part of it, a partial or killed run must
// read as far as it got, and the notebooks' stage-1 glue must end exactly where the pipeline's stage 1 does.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { architectureToJson } from '../lib/model/arch';
import { initBackend, type BackendInfo } from '../lib/kernels/backend';
import { writeSettings } from '../lib/io/run-folder';
import { loadDataset, type DatasetSplits } from '../lib/data/datasets';
import type { EvolutionState } from '../lib/search/evolution';
import { notebookParams } from '../lib/notebook/params';
import { describeSettings, liveRun, notebookSearch } from '../lib/notebook/search-run';
import type { RunSettings } from '../lib/config/run-settings';
import { evaluations, readRun, type SearchRun } from '../lib/notebook/run-records';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { hierarchicalSearch, type SearchConfig } from '../lib/search/pipeline';
import { ROOT, tinyBaseline } from './helpers';

const TINY = tinyBaseline();

const quiet = () => {};
let dir: string;
let data: DatasetSplits;
let config: SearchConfig;
let run: SearchRun;

before(async () => {
  await initBackend({ backend: 'cpu' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-runs-'));
  const archFile = path.join(dir, 'tiny.json');
  fs.writeFileSync(archFile, architectureToJson(TINY));
  const smoke = SCALE_CONFIGS.smoke.search;
  config = {
    ...smoke,
    baseline: archFile,
    maxFlopsRatio: 1.5,
    supernet: { ...smoke.supernet, epochs: 2, batchSize: 16 },
    evolution: {
      ...smoke.evolution,
      generations: 2,
      population: 3,
      topK: 2,
      mutations: 1,
      crossovers: 1,
      mutationProbability: 0.5,
    },
    scoring: { valImages: 16, recalibrationBatches: 1, batchSize: 16 },
    stage1Retrain: 2,
    retrain: { ...smoke.retrain, epochs: 1, batchSize: 16 },
  };
  data = await loadDataset('fashion-mnist', { seed: 0, limit: { train: 32, val: 16, test: 16 } });
  const settings: RunSettings = {
    dataset: 'fashion-mnist',
    scale: 'smoke',
    limit: { train: 32, val: 16, test: 16 },
    config,
  };
  fs.mkdirSync(path.join(dir, 'whole'));
  fs.writeFileSync(path.join(dir, 'whole', 'config.json'), JSON.stringify({ command: 'search', run: settings }));
  await hierarchicalSearch(path.join(dir, 'whole'), { data, config, log: quiet });
  run = readRun(path.join(dir, 'whole'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('readRun reads every part of a finished run', () => {
  assert.equal(run.settings?.config.baseline, config.baseline);
  for (const stage of [run.stage1, run.stage2]) {
    assert.deepEqual(
      stage.supernet.map((e) => e.epoch),
      [1, 2],
    );
    assert.ok(stage.supernet.every((e) => Number.isFinite(e.trainLoss) && e.step > 0));
    assert.equal(stage.generations.length, 2);
    assert.equal(stage.generations, stage.evolution?.history);
    assert.equal(
      evaluations(stage.evolution).length,
      stage.generations.reduce((n, g) => n + g.population.length, 0),
    );
    assert.equal(stage.top.length, 2);
    assert.deepEqual(stage.top[0].arch.model, TINY.model);
  }
  assert.equal(run.stage1.retrained.length, 2);
  assert.deepEqual(
    run.stage1.retrained.map((r) => r.result?.name),
    ['stage1-rank1', 'stage1-rank2'],
  );
  assert.ok(run.stage1.retrained.every((r) => r.epochs.length === 1 && r.arch !== null));
  assert.deepEqual(run.stage1.result?.distribution, run.result?.distribution);
  assert.equal(run.stage2.retrained?.result?.name, 'glit-found');
  assert.equal(run.baseline?.result?.name, 'tiny-baseline');
  assert.deepEqual(run.bestArch?.blocks, run.result?.found.arch.blocks);
});

test('a run in progress reads as far as it got', () => {
  const partial = path.join(dir, 'partial');
  fs.cpSync(path.join(dir, 'whole'), partial, { recursive: true });
  for (const f of [
    'stage2',
    'baseline',
    'result.json',
    'best-arch.json',
    'stage1/result.json',
    'stage1/evolution/top.json',
    'stage1/retrain/rank2/result.json',
  ]) {
    fs.rmSync(path.join(partial, f), { recursive: true });
  }
  // Killed mid-append (a line without its newline), and mid-generation (the last generation pending, partly scored).
  fs.appendFileSync(path.join(partial, 'stage1/supernet/metrics.jsonl'), '{"epoch": 3, "st');
  const stateFile = path.join(partial, 'stage1/evolution/evolution.json');
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as EvolutionState;
  const last = state.history.pop()!;
  state.pending = last.population.map((e, i) => ({ ...e, score: i === 0 ? e.score : null }));
  fs.writeFileSync(stateFile, JSON.stringify(state));

  const got = readRun(partial);
  assert.equal(got.stage1.supernet.length, 2);
  assert.equal(got.stage1.generations.length, 1);
  assert.equal(evaluations(got.stage1.evolution).length, got.stage1.generations[0].population.length + 1);
  assert.deepEqual(got.stage1.top, []);
  assert.equal(got.stage1.result, null);
  assert.equal(got.stage1.retrained[1].result, null);
  assert.equal(got.stage1.retrained[1].epochs.length, 1);
  assert.deepEqual(got.stage2, {
    supernet: [],
    supernetSteps: [],
    evolution: null,
    generations: [],
    top: [],
    retrained: null,
  });
  assert.equal(got.baseline, null);
  assert.equal(got.result, null);
  assert.equal(got.bestArch, null);
});

test('readRun says what is wrong with a folder that is not a run', () => {
  assert.throws(() => readRun(path.join(dir, 'missing')), /does not exist/);
  fs.mkdirSync(path.join(dir, 'empty'));
  assert.throws(() => readRun(path.join(dir, 'empty')), /not a run folder.*neither config\.json nor stage1/);
  fs.mkdirSync(path.join(dir, 'broken', 'stage1', 'evolution'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'broken', 'stage1', 'evolution', 'evolution.json'), '{"version": 1,');
  assert.throws(
    () => readRun(path.join(dir, 'broken')),
    /evolution\.json: is not valid JSON .*restore it from a copy, or start a new run/,
  );
});

test('notebooks run live in runs/notebooks/ by default, and only read the folder GLIT_RUN names', () => {
  const params = {
    scale: 'smoke' as const,
    dataset: 'fashion-mnist',
    seed: 3,
    backend: { backend: 'cpu' as const, webgpuAdapter: 'default' as const },
    weightSharing: 'separate' as const,
    reuse: false,
    executor: { executor: 'inline' as const },
  };
  const own = notebookSearch(params, {});
  assert.equal(own.dir, path.join(ROOT, 'runs', 'notebooks', 'search-smoke-seed3-fashion-mnist'));
  assert.equal(own.live, true);
  assert.equal(own.settings.config.weightSharing, 'separate');
  assert.equal(notebookParams({}, { GLIT_WEIGHT_SHARING: 'sliced' }).weightSharing, 'sliced');
  assert.throws(
    () => notebookParams({}, { GLIT_WEIGHT_SHARING: 'shared' }),
    /GLIT_WEIGHT_SHARING='shared' is not one of separate, sliced/,
  );
  const sliced = notebookSearch({ ...params, weightSharing: 'sliced' }, {});
  assert.deepEqual([sliced.dir, sliced.settings.config.weightSharing], [`${own.dir}-sliced`, 'sliced']);
  assert.equal(own.settings.config.seed, 3);
  assert.equal(own.settings.config.retrain.seed, 3);
  assert.ok(
    own.settings.limit && own.settings.limit.train! < SCALE_CONFIGS.smoke.limit!.train!,
    'smoke notebooks use a smaller data limit than the preset',
  );

  const given = notebookSearch(params, { GLIT_RUN: path.join(dir, 'whole') });
  assert.deepEqual(
    { live: given.live, baseline: given.settings.config.baseline },
    { live: false, baseline: config.baseline },
  );
  assert.throws(() => notebookSearch(params, { GLIT_RUN: path.join(dir, 'empty') }), /GLIT_RUN=.*has no config\.json/);

  const rows = describeSettings(given.settings);
  assert.match(rows.find((r) => r.setting === 'FLOPs budget')!.value, /^1\.5 x the baseline's: \d+\.\d\dM/);
});

test("notebook parameters: the first cell's values, each overridden by its environment variable when set", () => {
  const cell = { scale: 'cpu', seed: 4, dataset: 'mnist', backend: 'wasm', weightSharing: 'sliced' } as const;
  const own = notebookParams(cell, {});
  assert.deepEqual(
    [own.scale, own.seed, own.dataset, own.backend.backend, own.weightSharing],
    ['cpu', 4, 'mnist', 'wasm', 'sliced'],
  );
  assert.equal(own.overriddenBy, undefined);
  const ci = notebookParams(cell, { GLIT_SCALE: 'smoke', GLIT_SEED: '4' });
  assert.deepEqual([ci.scale, ci.seed, ci.overriddenBy], ['smoke', 4, ['GLIT_SCALE']]);
  assert.deepEqual(notebookParams({}, {}).scale, 'cpu');
  assert.throws(() => notebookParams({ seed: 1.5 }, {}), /the cell's seed='1\.5': must be an integer >= 0/);
  assert.throws(() => notebookParams({}, { GLIT_SEED: '4294967296' }), /GLIT_SEED='4294967296': must be an integer/);
  assert.throws(() => notebookParams({ scale: 'huge' as 'cpu' }, {}), /the cell's scale 'huge' is not a scale/);
  assert.deepEqual(notebookParams({ executor: 'local', workers: 2 }, {}).executor, { executor: 'local', workers: 2 });
  assert.deepEqual(notebookParams({}, { GLIT_EXECUTOR: 'local' }).executor, { executor: 'local' });
  assert.throws(() => notebookParams({}, { GLIT_EXECUTOR: 'pool' }), /GLIT_EXECUTOR='pool' is not one of inline/);
  assert.throws(() => notebookParams({ workers: 0 }, {}), /the cell's workers='0': must be an integer >= 1/);
});

test('a notebook rerun after a code or settings change moves the old run aside and starts afresh, unless reuse', () => {
  const params = notebookParams({ scale: 'smoke', seed: 97, backend: 'cpu' }, {});
  const first = liveRun('search', params);
  fs.rmSync(first.dir, { recursive: true, force: true });
  const run = liveRun('search', params);
  writeSettings(run.dir, 'search', run.settings, { backend: 'cpu', device: 'test' } as BackendInfo);
  assert.equal(liveRun('search', params).resumed, true, 'the same code and settings continue the run');
  const config = path.join(run.dir, 'config.json');
  const saved = JSON.parse(fs.readFileSync(config, 'utf8'));
  fs.writeFileSync(config, JSON.stringify({ ...saved, code: 'an older library' }));
  assert.equal(liveRun('search', { ...params, reuse: true }).resumed, true, 'reuse continues it regardless');
  const again = liveRun('search', params);
  assert.equal(again.resumed, false);
  const aside = fs.readdirSync(path.dirname(run.dir)).filter((f) => f.startsWith(`${path.basename(run.dir)}-before-`));
  assert.equal(aside.length, 1, 'the old run is kept beside the new one');
  assert.ok(fs.existsSync(path.join(path.dirname(run.dir), aside[0], 'config.json')));
  for (const f of [run.dir, path.join(path.dirname(run.dir), aside[0])]) fs.rmSync(f, { recursive: true, force: true });
});
