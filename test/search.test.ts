// The training recipe against hand-computed numbers, the supernet's single-path updates and memory, BatchNorm
// recalibration, and the hierarchical search killed with SIGKILL and resumed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { blockBatchNorms } from '../lib/model/block';
import { initBackend } from '../lib/kernels/backend';
import { loadDataset } from '../lib/data/datasets';
import { batchNorm, initBatchNorm } from '../lib/model/layers';
import { adamWStep, clipByGlobalNorm, createAdamW, decays, learningRate } from '../lib/train/optimizer';
import { Rng } from '../lib/core/random';
import { sampleWithin, stage1Space } from '../lib/search/space';
import {
  createSupernet,
  disposeSupernet,
  pathModel,
  pathParams,
  recalibrateBatchNorm,
  supernetVariables,
} from '../lib/search/supernet';
import { TRAIN_DEFAULTS, trainLoop } from '../lib/train/train';
import { assertSameRunFiles, glitProcess, runGlit, tinyBaseline, tinySearchFlags } from './helpers';

const TINY = tinyBaseline();

test('AdamW matches hand-computed steps: decoupled decay, bias correction, per-parameter step counts', () => {
  tf.setBackend('cpu');
  const w = tf.variable(tf.tensor2d([[1, -2]]));
  const b = tf.variable(tf.tensor1d([0.5]));
  const vars = new Map<string, tf.Variable>([
    ['fc.weight', w],
    ['fc.bias', b],
  ]);
  const opt = createAdamW({ weightDecay: 0.1 });
  const lr = 0.01;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  // Step 1 updates both; step 2 only the weight (the bias got no gradient, as in a supernet path not sampled).
  adamWStep(
    opt,
    vars,
    new Map<string, tf.Tensor>([
      ['fc.weight', tf.tensor2d([[0.5, 0.5]])],
      ['fc.bias', tf.tensor1d([1])],
    ]),
    lr,
  );
  adamWStep(opt, vars, new Map([['fc.weight', tf.tensor2d([[-1, 2]])]]), lr);
  const expectWeight = (p0: number, g1: number, g2: number) => {
    let p = p0 * (1 - lr * 0.1);
    let m = (1 - b1) * g1;
    let v = (1 - b2) * g1 * g1;
    p -= (lr / (1 - b1)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2) + eps));
    p *= 1 - lr * 0.1;
    m = b1 * m + (1 - b1) * g2;
    v = b2 * v + (1 - b2) * g2 * g2;
    return p - (lr / (1 - b1 ** 2)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** 2) + eps));
  };
  const got = w.dataSync();
  assert.ok(Math.abs(got[0] - expectWeight(1, 0.5, -1)) < 1e-6, `${got[0]} vs ${expectWeight(1, 0.5, -1)}`);
  assert.ok(Math.abs(got[1] - expectWeight(-2, 0.5, 2)) < 1e-6);
  // The bias: one step, no weight decay (1-D), bias-corrected first step moves it by lr * sign(g).
  assert.ok(Math.abs(b.dataSync()[0] - (0.5 - lr)) < 1e-6, `${b.dataSync()[0]}`);
  assert.deepEqual(Object.fromEntries(opt.steps), { 'fc.weight': 2, 'fc.bias': 1 });
  assert.equal(decays('pos_embed', w), false);
  assert.equal(decays('blocks.0.0.mlp.fc1.weight', w), true);
});

test('cosine schedule with linear warm-up, and global-norm clipping', () => {
  const s = { baseLr: 1e-3, minLr: 1e-5, warmupSteps: 10, totalSteps: 110, warmupLr: 0 };
  assert.equal(learningRate(s, 0), 0);
  assert.ok(Math.abs(learningRate(s, 5) - 5e-4) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 10) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 110) - 1e-5) < 1e-12);
  tf.setBackend('cpu');
  const { grads, norm } = clipByGlobalNorm(
    new Map([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor1d([4])],
    ]),
    1,
  );
  assert.ok(Math.abs(norm.dataSync()[0] - 5) < 1e-6);
  assert.ok(
    Math.abs(grads.get('a')!.dataSync()[0] - 0.6) < 1e-6 && Math.abs(grads.get('b')!.dataSync()[0] - 0.8) < 1e-6,
  );
});

test('BatchNorm with momentum 1/(k+1) keeps the running average of the batch statistics', () => {
  tf.setBackend('cpu');
  const bn = initBatchNorm(2);
  const rng = new Rng(3);
  const xs = [0, 1, 2].map(() =>
    tf.tensor3d(
      Float32Array.from({ length: 4 * 5 * 2 }, () => rng.normal() * 3 + 1),
      [4, 5, 2],
    ),
  );
  xs.forEach((x, k) => tf.tidy(() => batchNorm(bn, x, { training: true, bnMomentum: 1 / (k + 1) })));
  const n = 20;
  const means = xs.map((x) => tf.moments(x, [0, 1]).mean.arraySync() as number[]);
  const vars = xs.map((x) => (tf.moments(x, [0, 1]).variance.arraySync() as number[]).map((v) => (v * n) / (n - 1)));
  const avg = (rows: number[][], c: number) => rows.reduce((s, r) => s + r[c], 0) / rows.length;
  const [rm, rv] = [bn.runningMean.arraySync() as number[], bn.runningVar.arraySync() as number[]];
  for (const c of [0, 1]) {
    assert.ok(Math.abs(rm[c] - avg(means, c)) < 1e-5, `mean ${rm[c]} vs ${avg(means, c)}`);
    assert.ok(Math.abs(rv[c] - avg(vars, c)) < 1e-4, `var ${rv[c]} vs ${avg(vars, c)}`);
  }
});

async function tinyData() {
  return loadDataset('fashion-mnist', { seed: 0, limit: { train: 96, val: 32, test: 32 } });
}

test('a supernet step trains only the sampled path, and recalibration does not depend on the old statistics', async () => {
  await initBackend({ backend: 'cpu' });
  const data = await tinyData();
  const space = stage1Space(TINY.model);
  const net = createSupernet(space, 1);
  const rng = new Rng(2);
  const a = sampleWithin(space, rng, {});
  const other = { ...a, blocks: a.blocks.map((g) => space.choices[0].find((c) => c.globalHeads !== g.globalHeads)!) };
  pathParams(net, a);
  pathParams(net, other); // create the other candidates so we can see they do not move
  const before = new Map([...supernetVariables(net)].map(([k, v]) => [k, v.dataSync().slice()]));
  const optimizer = createAdamW();
  await trainLoop({
    data,
    config: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 32, warmupEpochs: 0 },
    optimizer,
    modelForStep: () => pathModel(net, a),
  });
  const trained = new Set(pathModel(net, a).variables.keys());
  for (const [name, v] of supernetVariables(net)) {
    const moved = v.dataSync().some((x, i) => x !== before.get(name)![i]);
    if (v.trainable) assert.equal(moved, trained.has(name), `${name}: moved=${moved}`);
  }
  // Recalibration: two different starting statistics give the same recalibrated ones.
  const params = pathParams(net, a);
  const stats = () =>
    params.blocks.flatMap(blockBatchNorms).flatMap((n) => [...n.runningMean.dataSync(), ...n.runningVar.dataSync()]);
  recalibrateBatchNorm(net, a, data.train, data, 2, 32);
  const first = stats();
  for (const n of params.blocks.flatMap(blockBatchNorms)) n.runningMean.assign(tf.fill(n.runningMean.shape, 7));
  recalibrateBatchNorm(net, a, data.train, data, 2, 32);
  assert.deepEqual(stats(), first);
  disposeSupernet(net);
});

test('tensor count stays flat across supernet epochs (variables and optimizer state aside)', async () => {
  await initBackend({ backend: 'cpu' });
  const data = await tinyData();
  const space = stage1Space(TINY.model);
  const net = createSupernet(space, 1);
  const optimizer = createAdamW();
  const loose = () => tf.memory().numTensors - supernetVariables(net).size - 2 * optimizer.m.size;
  const counts: number[] = [];
  await trainLoop({
    data,
    config: { ...TRAIN_DEFAULTS, epochs: 3, batchSize: 32, warmupEpochs: 0 },
    optimizer,
    modelForStep: (rng) => pathModel(net, sampleWithin(space, rng, {})),
    hooks: { onEpoch: () => void counts.push(loose()) },
  });
  assert.equal(new Set(counts).size, 1, `tensors outside variables per epoch: ${counts}`);
  disposeSupernet(net);
});

test('trainLoop reports every step in order, and stops a diverging run at the step that diverged without leaking tensors', async () => {
  await initBackend({ backend: 'cpu' });
  const data = await tinyData(); // 96 training images: 3 steps an epoch at batch 32
  const space = stage1Space(TINY.model);
  const net = createSupernet(space, 1);
  const path = pathModel(net, sampleWithin(space, new Rng(2), {}));
  const config = { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 32, warmupEpochs: 0 };
  const steps: number[] = [];
  await trainLoop({
    data,
    config,
    optimizer: createAdamW(),
    modelForStep: () => path,
    hooks: { onStep: ({ step }) => void steps.push(step) },
  });
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
  // From step 4 (the second of epoch 2) on, the logits are NaN.
  let calls = 0;
  const diverging = {
    ...path,
    logits: (x: tf.Tensor4D, options: Parameters<typeof path.logits>[1]) =>
      tf.mul(path.logits(x, options), ++calls > 4 ? NaN : 1) as tf.Tensor2D,
  };
  const optimizer = createAdamW();
  const before = tf.memory().numTensors;
  await assert.rejects(
    trainLoop({ data, config, optimizer, modelForStep: () => diverging }),
    /training diverged at epoch 2, step 4: loss NaN/,
  );
  assert.equal(tf.memory().numTensors - before, 2 * optimizer.m.size, 'only the optimizer state is left');
  disposeSupernet(net);
});

test(
  'glit search killed with SIGKILL inside every kind of stage resumes to the same files as an uninterrupted run',
  { timeout: 600_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-search-'));
    const common = [...tinySearchFlags(dir), '--json'];
    const whole = await glitProcess('search', [...common, '--out', path.join(dir, 'whole')]);
    assert.equal(whole.code, 0, whole.stderr);
    const expected = JSON.parse(whole.stdout);
    for (const f of [
      'config.json',
      'best-arch.json',
      'result.json',
      'stage1/supernet/metrics.jsonl',
      'stage1/evolution/generations.jsonl',
      'stage1/evolution/evolution.json',
      'stage1/result.json',
      'stage2/retrain/model.safetensors',
      'baseline/result.json',
    ]) {
      assert.ok(fs.existsSync(path.join(dir, 'whole', f)), `missing ${f}`);
    }

    // Killed inside every kind of stage, in order, each time as soon as the stage has saved its first state; every
    // stage's training runs two epochs, so the kill lands mid-way, after a save.
    const out = path.join(dir, 'killed');
    const killPoints = [
      'stage1/supernet/supernet.safetensors',
      'stage1/evolution/evolution.json',
      'stage1/retrain/rank1/train.safetensors',
      'stage1/retrain/rank2/train.safetensors',
      'stage2/supernet/supernet.safetensors',
      'stage2/evolution/evolution.json',
      'stage2/retrain/train.safetensors',
      'baseline/train.safetensors',
    ];
    let resumes = '';
    for (const [i, point] of killPoints.entries()) {
      const args = i === 0 ? [...common, '--out', out] : ['--out', out, '--resume', '--json'];
      const run = await glitProcess('search', args, path.join(out, point));
      assert.ok(run.killed, `run ${i + 1} should have been killed once ${point} existed: ${run.stderr}`);
      resumes += run.stderr;
    }
    const last = await glitProcess('search', ['--out', out, '--resume', '--json']);
    assert.equal(last.code, 0, last.stderr);
    resumes += last.stderr;
    assert.match(resumes, /resuming the supernet after epoch 1\/2/);
    assert.match(resumes, /resuming the evolution search/);

    const got = JSON.parse(last.stdout);
    const strip = (r: { seconds: number }) => ({ ...r, seconds: 0 });
    assert.deepEqual(got.distribution, expected.distribution);
    assert.deepEqual(strip(got.found), strip(expected.found));
    assert.deepEqual(strip(got.baseline), strip(expected.baseline));
    assertSameRunFiles(path.join(dir, 'whole'), path.join(dir, 'killed'));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test('Ctrl-C (SIGINT) stops glit search within a step, says how to resume, and the resume finishes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-search-'));
  const out = path.join(dir, 'run');
  const common = ['--scale', 'smoke', '--limit', 'train=96,val=32,test=32', '--out', out];
  // SIGINT once the supernet has taken its first step: the loop is busy, its awaits all resolved promises.
  const stopped = await glitProcess('search', common, path.join(out, 'stage1', 'supernet', 'steps.jsonl'), 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.ok(stopped.afterSignal < 2, `stopped ${stopped.afterSignal}s after the signal`);
  assert.match(
    stopped.stderr,
    new RegExp(`interrupted; the last saved state is kept: continue it with: npx glit search --out ${out} --resume`),
  );
  const resumed = await glitProcess('search', ['--out', out, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two runs on one --out: the second is refused while the first lives, a resume too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-search-'));
  const common = ['--scale', 'smoke', '--limit', 'train=96,val=32,test=32'];
  const together = path.join(dir, 'together');
  const both = await Promise.all([1, 2].map(() => glitProcess('search', [...common, '--out', together])));
  assert.deepEqual(both.map((r) => r.code).sort(), [0, 2], both.map((r) => r.stderr).join('\n---\n'));
  const refused = both.find((r) => r.code === 2)!;
  assert.match(refused.stderr, /is in use by glit search \(PID \d+ on .*\): two runs must not write one folder/);

  const running = path.join(dir, 'running');
  const first = glitProcess('search', [...common, '--out', running]);
  while (!fs.existsSync(path.join(running, 'config.json'))) await new Promise((r) => setTimeout(r, 20));
  const resume = runGlit(['search', '--out', running, '--resume']);
  assert.equal(resume.status, 2);
  assert.match(resume.stderr, /is in use by glit search/);
  assert.equal((await first).code, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('glit search refuses a non-empty --out without --resume, and --resume without a run', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-search-'));
  fs.writeFileSync(path.join(dir, 'x'), '');
  let r = runGlit(['search', '--out', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is not empty: pass --resume/);
  r = runGlit(['search', '--out', path.join(dir, 'none'), '--resume']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /config\.json does not exist/);
  fs.rmSync(dir, { recursive: true, force: true });
});
