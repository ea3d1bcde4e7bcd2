// Run folders: settings in every form a config.json has held (older runs' `extra`, the committed results'
// provenance), the scales as differences from the defaults, the CLI's old spelling --preset, old `glit train` metrics,
// and `glit train` killed mid-run resuming to the same result as an uninterrupted run.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { architectureToJson } from '../lib/model/arch';
import { applyDiff, SCALE_CONFIGS } from '../lib/config/scales';
import { scaleSettings, settingsFromJson, type RunSettings } from '../lib/config/run-settings';
import { EVOLUTION_DEFAULTS } from '../lib/search/evolution';
import { readRetraining, readSettings, readTrainSettings, updateSettings } from '../lib/io/run-folder';
import { resolveRun } from '../lib/cli/run-options';
import { glitProcess, ROOT, runGlit, tinyBaseline } from './helpers';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'glit-run-folder-'));
const writeConfig = (dir: string, json: unknown) =>
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));

test('the committed main search provenance is the cpu scale, and reads back as it', () => {
  const recorded = JSON.parse(fs.readFileSync(path.join(ROOT, 'results', 'main-search-cpu.json'), 'utf8')).settings;
  const settings = settingsFromJson(recorded);
  assert.deepEqual(settings, scaleSettings('cpu', { dataset: 'fashion-mnist', seed: 0 }));
  assert.deepEqual(settings.config.evolution, { ...recorded.config.evolution, retries: 10, randomTries: 10000 });
});

test('a config.json with the old extra reads as space and seeds, and updating it writes the new form', () => {
  const dir = tmp();
  const old = { ...scaleSettings('smoke', { dataset: 'mnist', seed: 3 }), extra: { space: 'stage1', seeds: '2' } };
  delete (old.config.evolution as Partial<typeof EVOLUTION_DEFAULTS>).retries;
  writeConfig(dir, { command: 'reproduce', run: old });
  const read = readSettings(dir)!;
  assert.equal(read.space, 'stage1');
  assert.equal(read.seeds, 2);
  assert.equal(read.config.evolution.retries, EVOLUTION_DEFAULTS.retries);
  assert.ok(!('extra' in read));
  updateSettings(dir, { seeds: 4 });
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(saved.command, 'reproduce');
  assert.deepEqual(saved.run, { ...read, seeds: 4 });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('scales are differences from the defaults; a diff naming an unknown field is an error', () => {
  assert.deepEqual(SCALE_CONFIGS.gpu.search.evolution, EVOLUTION_DEFAULTS);
  assert.equal(SCALE_CONFIGS.cpu.train.epochs, 5);
  assert.equal(SCALE_CONFIGS.cpu.search.retrain.epochs, 2);
  assert.equal(SCALE_CONFIGS.paper.search.supernet.lr, 5e-4);
  const merged = applyDiff(SCALE_CONFIGS.smoke.search, { retrain: { augment: { flip: true } } }, 'x');
  assert.deepEqual(merged.retrain.augment, { padCrop: 2, flip: true });
  assert.equal(merged.retrain.epochs, 1);
  assert.throws(
    () => applyDiff(SCALE_CONFIGS.smoke.search, { retrain: { epoch: 3 } }, '--config c.json'),
    /--config c\.json\.retrain: unknown field 'epoch'/,
  );
});

test('--preset SCALE is the old spelling of --scale', () => {
  const dir = tmp();
  const { run } = resolveRun({ out: path.join(dir, 'a'), preset: 'smoke' }, 'search');
  assert.equal(run.scale, 'smoke');
  assert.deepEqual(run, resolveRun({ out: path.join(dir, 'b'), scale: 'smoke' }, 'search').run);
  assert.throws(
    () => resolveRun({ out: path.join(dir, 'c'), preset: 'smoke', scale: 'cpu' }, 'search'),
    /only --scale/,
  );
  assert.throws(
    () => resolveRun({ out: path.join(dir, 'd'), scale: 'huge' }, 'search'),
    /--scale 'huge' is not a scale/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('old glit train folders: 0-based metrics read 1-based, and --resume says it cannot continue them', () => {
  const dir = tmp();
  const val = { loss: 2, accuracy: 0.5, count: 10 };
  fs.writeFileSync(
    path.join(dir, 'metrics.jsonl'),
    [0, 1]
      .map((epoch) => JSON.stringify({ epoch, step: 8 * (epoch + 1), lr: 1e-3, trainLoss: 2, val, seconds: 1 }) + '\n')
      .join(''),
  );
  assert.deepEqual(
    readRetraining(dir).epochs.map((e) => e.epoch),
    [1, 2],
  );
  writeConfig(dir, {
    command: 'train',
    arch: tinyBaseline(),
    dataset: 'fashion-mnist',
    scale: 'smoke',
    config: SCALE_CONFIGS.smoke.train,
  });
  assert.throws(() => readTrainSettings(dir), /older `glit train`, which saved no training state/);
  const r = runGlit(['train', '--out', dir, '--resume']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /older `glit train`/);
  const settings: RunSettings = scaleSettings('smoke', { dataset: 'mnist', seed: 0 });
  writeConfig(dir, { command: 'search', run: settings });
  assert.throws(() => readTrainSettings(dir), /of `glit search`, not of `glit train`/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  'glit train killed with SIGKILL after an epoch resumes to the same result as an uninterrupted run',
  { timeout: 300_000 },
  async () => {
    const dir = tmp();
    const archFile = path.join(dir, 'tiny.json');
    fs.writeFileSync(archFile, architectureToJson(tinyBaseline()));
    const common = ['--arch', archFile, '--scale', 'smoke', '--epochs', '3', '--json'];
    const whole = await glitProcess('train', [...common, '--out', path.join(dir, 'whole')]);
    assert.equal(whole.code, 0, whole.stderr);
    const expected = JSON.parse(whole.stdout);
    for (const f of ['config.json', 'arch.json', 'metrics.jsonl', 'model.safetensors', 'result.json'])
      assert.ok(fs.existsSync(path.join(dir, 'whole', f)), `missing ${f}`);
    assert.ok(!fs.existsSync(path.join(dir, 'whole', 'train.safetensors')), 'the training state is removed at the end');
    assert.deepEqual(
      readRetraining(path.join(dir, 'whole')).epochs.map((e) => e.epoch),
      [1, 2, 3],
    );

    const out = path.join(dir, 'killed');
    const first = await glitProcess('train', [...common, '--out', out], path.join(out, 'metrics.jsonl'));
    assert.ok(first.killed, 'the first run should have been killed after its first epoch');
    const again = await glitProcess('train', ['--out', out, '--resume', '--epochs', '4']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /drop --epochs/);
    const resumed = await glitProcess('train', ['--out', out, '--resume', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const strip = (r: { seconds: number }) => ({ ...r, seconds: 0 });
    assert.deepEqual(strip(JSON.parse(resumed.stdout)), strip(expected));
    assert.deepEqual(
      readRetraining(out).epochs.map((e) => e.epoch),
      [1, 2, 3],
    );
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
