// The ablation figures of notebooks 05-08 (lib/notebook/figures.ts) on made-up rows: accuracies in %, FLOPs in millions, each
// seed where it belongs, error bars of one standard deviation, and one colour per row in both figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ablationFlopsFigure, ablationRowsFigure } from '../lib/notebook/figures';
import type { RowResult } from '../lib/experiments/records';

type Trace = Record<string, any>;
const traces = (f: { data: Record<string, unknown>[] }) => f.data as Trace[];

const run = (seed: number, testAccuracy: number, flops: number) => ({
  seed,
  name: `arch-${seed}`,
  params: 5e5,
  flops,
  valAccuracy: 0.5,
  testAccuracy,
  seconds: 10,
});
const ROWS: RowResult[] = [
  {
    id: 'fixed',
    label: 'a fixed design with a long label',
    runs: [run(0, 0.8, 30e6), run(1, 0.82, 30e6)],
    meanTest: 0.81,
    stdTest: 0.0141,
    meanVal: 0.5,
  },
  {
    id: 'searched',
    label: 'searched',
    runs: [run(0, 0.7, 32e6), run(1, 0.74, 34e6)],
    meanTest: 0.72,
    stdTest: 0.0283,
    meanVal: 0.5,
  },
  { id: 'once', label: 'one seed', runs: [run(0, 0.6, 31e6)], meanTest: 0.6, stdTest: 0, meanVal: 0.5 },
];

test('accuracy against FLOPs: the mean at the mean FLOPs with a std bar, every seed at its own FLOPs', () => {
  const data = traces(ablationFlopsFigure(ROWS, { title: 't' }));
  const means = data.filter((t) => t.showlegend !== false && t.error_y);
  const seeds = data.filter((t) => t.showlegend === false);
  assert.deepEqual(
    means.map((t) => t.name),
    ROWS.map((r) => r.label),
  );
  assert.deepEqual(means[1].x, [33]);
  assert.deepEqual(means[1].y, [72]);
  assert.ok(Math.abs(means[1].error_y.array[0] - 2.83) < 1e-9);
  assert.equal(means[2].error_y.visible, false, 'one seed has no spread to draw');
  assert.deepEqual(seeds[1].x, [32, 34]);
  assert.deepEqual(seeds[1].y, [70, 74]);
  for (const [i, m] of means.entries()) assert.equal(m.marker.color, seeds[i].marker.color, 'a row keeps its colour');
  assert.equal(data.at(-1)!.name, 'one seed', 'a legend key explains the open dots');
});

test('accuracy by row: one x slot per row, seeds beside the mean in seed order, labels wrapped', () => {
  const figure = ablationRowsFigure(ROWS);
  const data = traces(figure);
  const seeds = data.filter((t) => !String(t.name).endsWith('(mean)') && t.x[0] !== null);
  const means = data.filter((t) => String(t.name).endsWith('(mean)'));
  assert.deepEqual(
    seeds.map((t) => t.y),
    [[80, 82], [70, 74], [60]],
  );
  seeds.forEach((t, i) =>
    assert.ok(
      t.x.every((x: number) => x > i && x < i + 0.5),
      `the seeds of row ${i} sit right of its slot`,
    ),
  );
  means.forEach((t, i) => assert.ok(Math.abs(t.x[0] - i) < 0.5 && t.x[0] < seeds[i].x[0]));
  assert.deepEqual(
    means.map((t) => t.y[0]),
    [81, 72, 60],
  );
  const xaxis = (figure.layout as Record<string, any>).xaxis;
  assert.deepEqual(xaxis.tickvals, [0, 1, 2]);
  assert.equal(xaxis.ticktext[0], 'a fixed design<br>with a long<br>label');
});
