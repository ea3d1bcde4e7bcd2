// Verdicts on the ablation tables (lib/experiments/verdict.ts): every claim names real rows, Welch's threshold is the textbook
// one, and each verdict follows from made-up rows: clear wins, clear losses, gaps within the noise, one seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TABLE_SPECS } from '../lib/experiments/reproduce';
import { TABLES, type RowResult, type TableName, type TableResult } from '../lib/experiments/records';
import {
  CLAIM_CHECKS,
  compareRows,
  curveFlattened,
  judgeTable,
  tCritical,
  verdictLines,
} from '../lib/experiments/verdict';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/** A row with these test accuracies, one seed each. */
function row(id: string, tests: number[]): RowResult {
  const runs = tests.map((testAccuracy, seed) => ({
    seed,
    name: id,
    params: 1e5,
    flops: 1e7,
    valAccuracy: testAccuracy,
    testAccuracy,
    seconds: 1,
  }));
  return {
    id,
    label: id,
    runs,
    meanTest: mean(tests),
    stdTest: tests.length < 2 ? 0 : std(tests),
    meanVal: mean(tests),
  };
}

function table(name: TableName, rows: RowResult[]): TableResult {
  const spec = TABLE_SPECS[name];
  return {
    table: name,
    title: spec.title,
    claim: spec.claim,
    scale: 'smoke',
    dataset: 'fashion-mnist',
    seeds: [0],
    backend: 'cpu',
    device: 'cpu',
    commit: 'x',
    date: '',
    rows,
  };
}

test('every claim compares rows that the table has, and each row it names appears', () => {
  for (const name of TABLES) {
    const ids = TABLE_SPECS[name].rows.map((r) => r.id);
    for (const c of CLAIM_CHECKS[name].comparisons) {
      assert.ok(
        ids.includes(c.better) && ids.includes(c.worse),
        `${name}: ${c.better} > ${c.worse} names a row not in ${ids}`,
      );
      assert.notEqual(c.better, c.worse);
    }
  }
  // Table 6: the 1-D conv row against every other row.
  assert.deepEqual(
    CLAIM_CHECKS.table6.comparisons.map((c) => c.worse).sort(),
    TABLE_SPECS.table6.rows
      .map((r) => r.id)
      .filter((id) => id !== 'conv1d')
      .sort(),
  );
});

test("Student's t critical values: textbook points, rounding down fractional degrees of freedom", () => {
  assert.equal(tCritical(1), 12.706);
  assert.equal(tCritical(4.9), 2.776);
  assert.equal(tCritical(10), 2.228);
  assert.equal(tCritical(500), 2.042);
  assert.equal(tCritical(0.4), 12.706);
});

test("a comparison is Welch's t-test at 5%: the threshold is t * SE at Welch's degrees of freedom", () => {
  // Equal spreads, 3 seeds each: SE = s * sqrt(2/3), df = 4, t = 2.776.
  const a = row('a', [0.8, 0.81, 0.82]);
  const b = row('b', [0.7, 0.71, 0.72]);
  const r = compareRows(a, b);
  assert.ok(Math.abs(r.threshold! - 2.776 * 0.01 * Math.sqrt(2 / 3)) < 1e-12);
  assert.ok(Math.abs(r.difference! - 0.1) < 1e-12);
  assert.equal(r.outcome, 'holds');
  assert.equal(compareRows(b, a).outcome, 'fails');
  // The same means with a wide spread: within the noise.
  assert.equal(compareRows(row('a', [0.7, 0.8, 0.93]), row('b', [0.68, 0.78, 0.67])).outcome, 'within noise');
  // One seed: undecided however large the gap.
  assert.deepEqual(compareRows(row('a', [0.9]), row('b', [0.1])), {
    difference: 0.9 - 0.1,
    threshold: null,
    outcome: 'one seed',
  });
  // No spread at all: the sign decides; a tie stays undecided.
  assert.equal(compareRows(row('a', [0.5, 0.5]), row('b', [0.4, 0.4])).outcome, 'holds');
  assert.equal(compareRows(row('a', [0.5, 0.5]), row('b', [0.5, 0.5])).outcome, 'within noise');
});

test('verdicts: all comparisons hold, one fails, some within noise, one seed, a row missing', () => {
  const clear = [0.9, 0.91, 0.92];
  const low = [0.5, 0.51, 0.52];
  const t5 = (h: number[], s: number[], r: number[]) =>
    table('table5', [row('random', r), row('spos', s), row('hierarchical', h)]);
  const reproduced = judgeTable(t5(clear, low, low));
  assert.equal(reproduced.verdict, 'reproduced');
  assert.deepEqual(
    reproduced.comparisons.map((c) => c.outcome),
    ['holds', 'holds'],
  );

  const contradicted = judgeTable(t5(low, clear, [0.1, 0.11, 0.12]));
  assert.equal(contradicted.verdict, 'not reproduced');
  assert.deepEqual(
    contradicted.comparisons.map((c) => [c.worse, c.outcome]),
    [
      ['spos', 'fails'],
      ['random', 'holds'],
    ],
  );

  const noisy = judgeTable(t5([0.66, 0.7, 0.74], [0.55, 0.72, 0.71], low));
  assert.equal(noisy.verdict, 'inconclusive at this scale');
  assert.match(noisy.reason, /1 of 2 comparisons hold.*1 within noise/);

  assert.equal(judgeTable(t5([0.9], [0.1], [0.1])).verdict, 'inconclusive at this scale');

  const partial = judgeTable(table('table5', [row('random', low), row('spos', low)]));
  assert.equal(partial.verdict, 'inconclusive at this scale');
  assert.deepEqual(
    partial.comparisons.map((c) => c.outcome),
    ['row missing', 'row missing'],
  );
});

test("table 1's claim needs (1, 2) best and every local row above DeiT", () => {
  const rows = (g3: number[], g2: number[], g1: number[], g0: number[]) => [
    row('G3-L0', g3),
    row('G2-L1', g2),
    row('G1-L2', g1),
    row('G0-L3', g0),
  ];
  assert.equal(
    judgeTable(table('table1', rows([0.5, 0.51], [0.7, 0.71], [0.9, 0.91], [0.6, 0.61]))).verdict,
    'reproduced',
  );
  // (0, 3) below DeiT: the claim fails although (1, 2) is best.
  const worse = judgeTable(table('table1', rows([0.5, 0.51], [0.7, 0.71], [0.9, 0.91], [0.3, 0.31])));
  assert.equal(worse.verdict, 'not reproduced');
  assert.deepEqual(
    worse.comparisons.filter((c) => c.outcome === 'fails').map((c) => `${c.better}>${c.worse}`),
    ['G0-L3>G3-L0'],
  );
});

test('the verdict in lines of text: why, then each gap with its threshold, a missing row named', () => {
  // Equal spreads of 0.01 over 3 seeds: threshold 2.776 * 0.01 * sqrt(2/3) = 2.27 points.
  const lines = verdictLines(
    table('table5', [row('random', [0.5, 0.51, 0.52]), row('hierarchical', [0.9, 0.91, 0.92])]),
  );
  assert.deepEqual(lines, [
    'verdict: inconclusive at this scale: 1 of 2 comparisons hold beyond seed noise; undecided: 1 row missing (the claim as tested: the hierarchical search beats both SPOS on the flat full space and random search)',
    '  hierarchical against spos: row missing',
    '  hierarchical against random: +40.00 points (noise threshold 2.27 points), holds',
  ]);
  assert.match(
    verdictLines(table('table5', [row('hierarchical', [0.9]), row('random', [0.1])]))[2],
    /\+80\.00 points, one seed$/,
  );
});

test('a val curve has flattened when the trend of its last quarter adds under a point', () => {
  // DeiT-proxy at the converge scale (seed 0): up until epoch 15, then 86.3-87.1 over the last five.
  const converge = [
    0.6045, 0.6915, 0.734, 0.713, 0.751, 0.781, 0.7905, 0.7995, 0.807, 0.8155, 0.8155, 0.825, 0.8435, 0.8565, 0.86,
    0.8695, 0.8625, 0.8675, 0.87, 0.871,
  ];
  assert.equal(curveFlattened(converge), true, '+0.5 points over the last 5 epochs');
  // The same model after 10 epochs: still rising (+1.6 points over the last 3).
  const tenEpochs = [0.6295, 0.7115, 0.7305, 0.739, 0.7685, 0.779, 0.802, 0.813, 0.826, 0.8235];
  assert.equal(curveFlattened(tenEpochs), false);
  assert.equal(curveFlattened([0.4, 0.6, 0.7, 0.75, 0.78, 0.8, 0.83, 0.85]), false, 'rising to the end');
  assert.equal(curveFlattened([0.5, 0.52]), null, 'too short to tell');
});
