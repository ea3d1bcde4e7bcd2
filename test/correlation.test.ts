// The ranking-correlation study: its statistics on hand-counted cases, the stratified sample, and `glit reproduce
// correlation` end to end, the same on local workers as in one process.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { bootstrap, kendallTau, ranks, spearmanRho, topKOverlap } from '../lib/experiments/ranking';
import { judgeCorrelation, stratifiedSample, type CorrelationResult } from '../lib/experiments/correlation';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { budgetFor } from '../lib/search/pipeline';
import { decode, sampleWithin, stage1Space, withinBudget } from '../lib/search/space';
import { loadArchitecture } from '../lib/model/arch';
import { modelCost } from '../lib/model/flops';
import { Rng } from '../lib/core/random';
import { glitProcess, tinySearchFlags } from './helpers';

test("Kendall's tau-b, Spearman's rho and the top-k overlap on hand-counted rankings", () => {
  // Two swapped neighbours: 8 concordant and 2 discordant pairs of 10; rank differences 1, 1, 1, 1, 0.
  assert.equal(kendallTau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.6);
  assert.ok(Math.abs(spearmanRho([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - 0.8) < 1e-12);
  assert.equal(kendallTau([1, 2, 3], [3, 2, 1]), -1);
  // Ties: 4 concordant pairs, one tied in x only, one in y only: 4 / sqrt(5 * 5).
  assert.ok(Math.abs(kendallTau([1, 1, 2, 3], [1, 2, 2, 3]) - 0.8) < 1e-12);
  assert.deepEqual(ranks([10, 30, 20, 20]), [1, 4, 2.5, 2.5]);
  assert.ok(Number.isNaN(kendallTau([1, 1, 1], [1, 2, 3])), 'a constant ranking has no correlation');
  assert.equal(topKOverlap([0.9, 0.8, 0.1, 0.2], [0.1, 0.8, 0.9, 0.2], 2), 1);
  assert.throws(() => kendallTau([1, 2], [1]), /rankings of 2 and 1 items/);
});

test('bootstrap intervals are seeded, ordered, and wide for a few pairs but narrow for many', () => {
  const rng = new Rng(3);
  const x = Array.from({ length: 60 }, () => rng.uniform());
  const y = x.map((v) => v + 0.1 * rng.uniform());
  const many = bootstrap(x, y, kendallTau, { seed: 1, draws: 500 });
  assert.deepEqual(bootstrap(x, y, kendallTau, { seed: 1, draws: 500 }), many);
  assert.ok(many.low <= many.estimate && many.estimate <= many.high);
  assert.ok(many.low > 0.6, `a strong correlation over 60 pairs: ${JSON.stringify(many)}`);
  const few = bootstrap(x.slice(0, 5), y.slice(0, 5), kendallTau, { seed: 1, draws: 500 });
  assert.ok(few.high - few.low > many.high - many.low);
});

test('the stratified sample is distinct, within the budget, and spans the FLOPs range', () => {
  const config = SCALE_CONFIGS.cpu.search;
  const space = stage1Space(loadArchitecture(config.baseline).model);
  const budget = budgetFor(config);
  const codes = stratifiedSample(space, config, 12, new Rng(0));
  const flops = codes.map((c) => modelCost(decode(space, c)).flops).sort((a, b) => a - b);
  assert.equal(new Set(codes.map((c) => c.join(','))).size, 12);
  assert.ok(codes.every((c) => withinBudget(modelCost(decode(space, c)), budget)));
  // One per twelfth of the FLOPs-sorted pool: the smallest pick is in the pool's bottom tenth or so, the largest in
  // its top, where a uniform sample of 12 often misses one end.
  const rng = new Rng(9);
  const pool = Array.from({ length: 400 }, () => modelCost(sampleWithin(space, rng, budget)).flops).sort(
    (a, b) => a - b,
  );
  assert.ok(flops[0] <= pool[60], `smallest ${flops[0]} against the pool's 15th percentile ${pool[60]}`);
  assert.ok(flops[11] >= pool[340], `largest ${flops[11]} against the pool's 85th percentile ${pool[340]}`);
  assert.deepEqual(stratifiedSample(space, config, 12, new Rng(0)), codes);
});

test('the verdict compares the stage-1 and flat intervals', () => {
  const space = (name: string, low: number, high: number) => ({
    space: name,
    kendall: { estimate: (low + high) / 2, low, high, level: 0.95 },
  });
  const r = (a: [number, number], b: [number, number]) =>
    ({ spaces: [space('stage1', ...a), space('full', ...b)] }) as unknown as CorrelationResult;
  assert.equal(judgeCorrelation(r([0.5, 0.8], [-0.1, 0.3]))?.verdict, 'supported');
  assert.equal(judgeCorrelation(r([-0.1, 0.3], [0.5, 0.8]))?.verdict, 'contradicted');
  assert.equal(judgeCorrelation(r([0.1, 0.6], [0.2, 0.7]))?.verdict, 'inconclusive at this scale');
});

test(
  'glit reproduce correlation gives the same study on 2 local workers as in one process',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-correlation-'));
    const common = ['correlation', ...tinySearchFlags(dir), '--archs', '4', '--spaces', 'stage1,full-sliced', '--json'];
    const inline = await glitProcess('reproduce', [...common, '--out', path.join(dir, 'inline')]);
    assert.equal(inline.code, 0, inline.stderr);
    const local = await glitProcess('reproduce', [
      ...common,
      '--out',
      path.join(dir, 'local'),
      '--executor',
      'local',
      '--workers',
      '2',
    ]);
    assert.equal(local.code, 0, local.stderr);
    const [a, b] = [JSON.parse(inline.stdout) as CorrelationResult, JSON.parse(local.stdout) as CorrelationResult];
    assert.deepEqual(b.spaces, a.spaces);
    assert.deepEqual(
      a.spaces.map((s) => [s.space, s.candidates.length, s.top.k]),
      [
        ['stage1', 4, 4],
        ['full-sliced', 4, 4],
      ],
    );
    for (const s of a.spaces) assert.ok(s.kendall.low <= s.kendall.estimate && s.kendall.estimate <= s.kendall.high);
    // A rerun reads everything back: the same study, nothing retrained.
    const again = await glitProcess('reproduce', [
      'correlation',
      '--out',
      path.join(dir, 'inline'),
      '--resume',
      '--archs',
      '4',
      '--spaces',
      'stage1,full-sliced',
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as CorrelationResult).spaces, a.spaces);
    assert.doesNotMatch(again.stderr, /epoch 1\/2, train loss/);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test(
  '--record: a new run folder continues the study from the record, redoing nothing it holds',
  { timeout: 300_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-correlation-record-'));
    const record = path.join(dir, 'correlation-tiny.json');
    const common = ['correlation', ...tinySearchFlags(dir), '--archs', '4', '--spaces', 'stage1', '--json'];
    const first = await glitProcess('reproduce', [...common, '--record', record, '--out', path.join(dir, 'a')]);
    assert.equal(first.code, 0, first.stderr);
    const whole = JSON.parse(first.stdout) as CorrelationResult;
    const saved = JSON.parse(fs.readFileSync(record, 'utf8')) as CorrelationResult;
    assert.deepEqual(saved.spaces, whole.spaces);
    assert.deepEqual(saved.partial, {});

    // As if the session had stopped after two of the four stand-alone trainings: the rest is trained, nothing else.
    const [space] = saved.spaces;
    const trained = space.candidates.map((x, k) => {
      const curve = fs.readFileSync(
        path.join(dir, 'a', 'correlation', 'stage1', 'standalone', `a${k + 1}`, 'result.json'),
      );
      const r = JSON.parse(curve.toString()) as { valCurve: number[] };
      const unit = { flops: x.flops, params: x.params, valAccuracy: x.valAccuracy, testAccuracy: x.testAccuracy };
      return k < 2 ? { ...unit, valCurve: r.valCurve, commit: 'x', date: 'y' } : null;
    });
    const codes = space.candidates.map((x) => x.code);
    const scores = space.candidates.map((x) => x.supernetScore);
    fs.writeFileSync(record, JSON.stringify({ ...saved, spaces: [], partial: { stage1: { codes, scores, trained } } }));
    const b = path.join(dir, 'b');
    const second = await glitProcess('reproduce', [...common, '--record', record, '--out', b]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual((JSON.parse(second.stdout) as CorrelationResult).spaces, whole.spaces);
    assert.ok(!fs.existsSync(path.join(b, 'correlation', 'stage1', 'supernet')), 'the supernet was trained again');
    const standalone = path.join(b, 'correlation', 'stage1', 'standalone');
    assert.deepEqual(fs.readdirSync(standalone).sort(), ['a3', 'a4']);
    assert.deepEqual((JSON.parse(fs.readFileSync(record, 'utf8')) as CorrelationResult).spaces, whole.spaces);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
