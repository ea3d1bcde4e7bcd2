// Bad input gets a clear error that names the file, field or flag and what to do, never an internal error or a
// silently different run: config ranges (CLI, --config, config.json, code), architecture JSON, sizes, NaN inputs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../lib/kernels/backend';
import { architectureToJson, parseArchitecture, presetArchitecture } from '../lib/model/arch';
import { initModel } from '../lib/model/model';
import { saveCheckpoint } from '../lib/io/checkpoint';
import { writeNpy } from '../lib/io/npy';
import { readSettings } from '../lib/io/run-folder';
import { checkTrainConfig, ConfigError } from '../lib/config/validate';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { loadDataset } from '../lib/data/datasets';
import { createAdamW } from '../lib/train/optimizer';
import { fixedModel, trainLoop } from '../lib/train/train';
import { checkStepMemory } from '../lib/train/memory';
import { runGlit, tinyBaseline } from './helpers';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'glit-validate-'));

test('out-of-range flags are refused naming the flag, before any folder is made', () => {
  const dir = tmp();
  const cases: [string[], RegExp][] = [
    [['train', '--epochs', '1.5'], /--epochs: must be an integer >= 1, got 1\.5/],
    [['train', '--epochs', '0'], /--epochs: must be an integer >= 1, got 0/],
    [['train', '--lr=-0.001'], /--lr: must be a number > 0, got -0\.001/],
    [['train', '--seed', '4294967296'], /--seed: must be an integer >= 0 and <= 4294967295, got 4294967296/],
    [['search', '--seed=-1'], /--seed: must be an integer >= 0 and <= 4294967295, got -1/],
  ];
  for (const [i, [args, message]] of cases.entries()) {
    const out = path.join(dir, `run${i}`);
    const r = runGlit([...args, '--scale', 'smoke', '--out', out]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(fs.existsSync(out), false, `${args.join(' ')} left ${out} behind`);
  }
});

test('a --config file or a config.json with a value out of range names the file and the field', () => {
  const dir = tmp();
  const config = path.join(dir, 'c.json');
  fs.writeFileSync(config, JSON.stringify({ retrain: { lr: -1 } }));
  const r = runGlit(['search', '--scale', 'smoke', '--config', config, '--out', path.join(dir, 'run')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`--config ${config}\\.retrain\\.lr: must be a number > 0, got -1`));
  fs.writeFileSync(config, '{"evolution": ');
  assert.match(runGlit(['search', '--config', config]).stderr, /c\.json: is not valid JSON/);

  const run = path.join(dir, 'edited');
  fs.mkdirSync(run);
  const settings = { dataset: 'mnist', scale: 'smoke', config: structuredClone(SCALE_CONFIGS.smoke.search) };
  settings.config.evolution.population = 2.5;
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ command: 'search', run: settings }));
  assert.throws(() => readSettings(run), /config\.json: run\.config\.evolution\.population: must be an integer >= 1/);
});

test('the library checks a training config too (notebooks and code)', async () => {
  await initBackend({ backend: 'cpu' });
  const data = await loadDataset('fashion-mnist', { seed: 0, limit: { train: 64, val: 32, test: 32 } });
  const arch = tinyBaseline();
  const config = { ...SCALE_CONFIGS.smoke.train, dropPath: 1.5 };
  await assert.rejects(
    trainLoop({ data, config, optimizer: createAdamW(), modelForStep: () => fixedModel(initModel(arch, 0), arch) }),
    (e: unknown) =>
      e instanceof ConfigError && /training config\.dropPath: must be a number >= 0 and < 1/.test(e.message),
  );
  assert.throws(() => checkTrainConfig({ ...config, dropPath: 0, warmupEpochs: 3 }, 'x'), /x\.warmupEpochs: 3 is more/);
});

test('architecture JSON: unknown keys suggest the nearest, deep or huge values are cut, sizes are checked', () => {
  const arch = JSON.parse(architectureToJson(tinyBaseline()));
  const typo = { ...arch, model: { ...arch.model, ffnActivaton: 'swish' } };
  assert.throws(
    () => parseArchitecture(JSON.stringify(typo), 'a.json'),
    /a\.json: model: unknown field 'ffnActivaton': did you mean 'ffnActivation'\?/,
  );
  const block = { ...arch, blocks: [{ ...arch.blocks[0], kernelsize: 3 }, arch.blocks[1]] };
  assert.throws(
    () => parseArchitecture(JSON.stringify(block), 'b.json'),
    /blocks\[0\]: unknown field 'kernelsize': did you mean 'kernelSize'/,
  );
  // Nested too deeply for JSON.stringify (it recurses): the message must still come out.
  const deep = JSON.stringify(arch).replace('"width":12', `"width":${'['.repeat(20_000)}1${']'.repeat(20_000)}`);
  assert.throws(
    () => parseArchitecture(deep, 'c.json'),
    /c\.json: model\.width: must be a positive integer, got \(a value nested too deeply to show\)/,
  );
  const huge = { ...arch, model: { ...arch.model, ffnActivation: 'x'.repeat(1_000_000) } };
  assert.throws(
    () => parseArchitecture(JSON.stringify(huge), 'd.json'),
    (e: Error) => e.message.length < 400 && /\(1000002 characters\)/.test(e.message),
  );
  const wide = { ...presetArchitecture('deit-proxy'), name: 'wide' };
  wide.model = { ...wide.model, width: 3000 };
  assert.throws(
    () => checkStepMemory(wide, 64, 'wasm'),
    /wide at batch 64 needs about .* GiB .* more than the wasm backend's 4\.0 GiB heap/,
  );
  checkStepMemory(presetArchitecture('glit-proxy'), 64, 'wasm');
  const big = { ...presetArchitecture('deit-proxy'), name: 'big' };
  big.model = { ...big.model, imageSize: 4096, patchSize: 1 };
  assert.throws(() => checkStepMemory(big, 64, 'cpu'), /big at batch 64 needs a tensor of .* elements, more than/);
});

test('glit predict: NaN pixels or weights, a folder for a file, and a missing file say which and what', async () => {
  await initBackend({ backend: 'cpu' });
  const dir = tmp();
  const arch = tinyBaseline();
  const params = initModel(arch, 0);
  const checkpoint = path.join(dir, 'model.safetensors');
  await saveCheckpoint(checkpoint, params, arch);
  const input = path.join(dir, 'x.npy');
  const pixels = new Float32Array(2 * 28 * 28).fill(0.5);
  pixels[28 * 28 + 3] = NaN;
  writeNpy(input, { shape: [2, 1, 28, 28], data: pixels });
  let r = runGlit(['predict', '--checkpoint', checkpoint, '--input', input, '--json'], { GLIT_BACKEND: 'cpu' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /x\.npy: image 1 holds NaN \(element 787\): every pixel must be a finite number/);

  params.head.bias.assign(params.head.bias.mul(Infinity));
  const damaged = path.join(dir, 'damaged.safetensors');
  await saveCheckpoint(damaged, params, arch);
  writeNpy(input, { shape: [2, 1, 28, 28], data: pixels.fill(0.5) });
  r = runGlit(['predict', '--checkpoint', damaged, '--input', input, '--json'], { GLIT_BACKEND: 'cpu' });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /damaged\.safetensors: tensor 'head\.bias' holds (Infinity|NaN) at element 0: the weights are damaged/,
  );

  r = runGlit(['predict', '--checkpoint', dir, '--input', input], { GLIT_BACKEND: 'cpu' });
  assert.match(r.stderr, new RegExp(`${dir}: is a folder, expected a file`));
  r = runGlit(['predict', '--checkpoint', checkpoint, '--input', path.join(dir, 'none.npy')], { GLIT_BACKEND: 'cpu' });
  assert.match(r.stderr, /none\.npy: not found/);
  r = runGlit(['train', '--arch', dir, '--scale', 'smoke']);
  assert.match(r.stderr, /neither an architecture preset .* nor an existing \.json file|is a folder/);
});
