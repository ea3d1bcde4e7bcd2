// The figure builders of notebooks 02-04 (lib/notebook/figures.ts) on small hand-made inputs: the numbers in the traces are the
// ones given (scaled as labelled), markers and rings land where asked, and an architecture draws as the paper's Figure 5.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presetArchitecture } from '../lib/model/arch';
import type { Evaluation, GenerationRecord } from '../lib/search/evolution';
import {
  architectureFigure,
  distributionsFigure,
  evolutionFigure,
  groupedBarsFigure,
  histogramPanelsFigure,
  lossCurveFigure,
  populationFigure,
} from '../lib/notebook/figures';

type Trace = Record<string, any>;
const traces = (f: { data: Record<string, unknown>[] }) => f.data as Trace[];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const evaluation = (
  key: string,
  generation: number,
  score: number,
  flops: number,
  origin: Evaluation['origin'],
): Evaluation => ({
  key,
  code: [0],
  flops,
  params: 1e5,
  origin,
  generation,
  score,
});

const GENERATIONS: GenerationRecord[] = [
  {
    generation: 0,
    population: [evaluation('a', 0, 0.2, 30e6, 'random'), evaluation('b', 0, 0.4, 32e6, 'random')],
    best: 0.4,
    mean: 0.3,
    bestSoFar: 0.4,
  },
  {
    generation: 1,
    population: [evaluation('c', 1, 0.5, 34e6, 'mutation'), evaluation('d', 1, 0.1, 36e6, 'crossover')],
    best: 0.5,
    mean: 0.3,
    bestSoFar: 0.5,
  },
];

test('histogram panels: shared bins, each panel summing to 100%, markers across all panels', () => {
  const figure = histogramPanelsFigure(
    [
      { name: 'one', values: [1, 2, 2, 3] },
      { name: 'two', values: [2, 4], note: '50% within budget' },
    ],
    { xTitle: 'MFLOPs', bins: 3, markers: [{ x: 3.5, label: 'budget', color: 'red' }] },
  );
  const [one, two] = traces(figure);
  assert.deepEqual(one.x, two.x, 'both panels use the same bins');
  assert.equal(one.yaxis, 'y');
  assert.equal(two.yaxis, 'y2');
  for (const t of [one, two]) assert.ok(Math.abs(sum(t.y) - 100) < 1e-9);
  assert.equal(two.y[two.y.length - 1], 50, 'the largest value lands in the last bin');
  const layout = figure.layout as Record<string, any>;
  assert.deepEqual(
    layout.shapes.map((s: Trace) => [s.x0, s.yref, s.name]),
    [[3.5, 'paper', 'budget']],
  );
  assert.match(layout.annotations[1].text, /two.*50% within budget/);
});

test('grouped bars on a log axis start at 1, so small counts keep their bars', () => {
  const figure = groupedBarsFigure(
    ['0', '1'],
    [
      { name: 'a', values: [4, 198] },
      { name: 'b', values: [9, null] },
    ],
    { yTitle: 'choices', logY: true, showValues: false },
  );
  const yaxis = (figure.layout as Record<string, any>).yaxis;
  assert.equal(yaxis.type, 'log');
  assert.equal(yaxis.range[0], 0);
  assert.ok(yaxis.range[1] > Math.log10(198));
  assert.equal(traces(figure)[0].texttemplate, undefined);
});

test('the EA figure: every candidate in %, and the best, mean and best-so-far lines per generation', () => {
  const figure = evolutionFigure(GENERATIONS);
  const byName = new Map(traces(figure).map((t) => [t.name, t]));
  assert.deepEqual(
    [...byName.keys()],
    [
      'candidate (random)',
      'candidate (mutation)',
      'candidate (crossover)',
      'best so far',
      'generation best',
      'generation mean',
    ],
  );
  assert.deepEqual(byName.get('candidate (random)')!.y, [20, 40]);
  assert.ok(
    byName.get('candidate (random)')!.x.every((x: number) => Math.abs(x - 1) <= 0.15 + 1e-12),
    'the first generation candidates stay near x = 1 (generations count from 1, as in the logs)',
  );
  assert.deepEqual(byName.get('best so far')!.y, [40, 50]);
  assert.deepEqual(byName.get('generation mean')!.x, [1, 2]);
});

test('the population figure: FLOPs in millions, colour by generation, rings around the chosen keys only', () => {
  const all = GENERATIONS.flatMap((g) => g.population);
  const figure = populationFigure(all, {
    highlight: { keys: ['c'], label: 'retrained' },
    markers: [{ x: 35, label: 'budget', color: 'red' }],
  });
  const shown = traces(figure);
  const random = shown.find((t) => t.name === 'random' && t.showlegend === false)!;
  const ring = shown.find((t) => t.name === 'retrained')!;
  assert.deepEqual(random.x, [30, 32]);
  assert.deepEqual(random.marker.color, [1, 1]);
  assert.deepEqual([ring.x, ring.y], [[34], [50]]);
  // plotly draws a legend symbol in one colour: an array there warns "Invalid color specifier" and comes out black.
  const inLegend = shown.filter((t) => t.showlegend !== false);
  assert.deepEqual(
    inLegend.map((t) => t.name),
    ['random', 'mutation', 'crossover', 'retrained'].filter((n) => shown.some((t) => t.name === n)),
  );
  for (const t of inLegend) assert.equal(typeof t.marker.color, 'string', `legend entry ${t.name}: ${t.marker.color}`);
  const layout = figure.layout as Record<string, any>;
  assert.equal(layout.coloraxis.cmax, 2);
  assert.equal(layout.shapes[0].x0, 35);
});

test("an architecture as the paper's Figure 5: G and L stacked to N per block, the used choices written above", () => {
  const glit = presetArchitecture('glit-tiny');
  const figure = architectureFigure(glit);
  const [global, local] = traces(figure);
  assert.deepEqual(
    global.y,
    glit.blocks.map((g) => g.globalHeads),
  );
  glit.blocks.forEach((_, i) => assert.equal(global.y[i] + local.y[i], 3));
  const labels = (figure.layout as Record<string, any>).annotations.map((a: Trace) => a.text);
  assert.equal(labels[0], 'ev 0.5<br>r 4', 'an all-global block shows ev and r only');
  assert.equal(labels[1], 'E 2<br>K 31<br>r 4', 'an all-local block shows E, K and r');
  assert.equal(labels[2], 'ev 1<br>E 4<br>K 31<br>r 6', 'a mixed block shows all four');
});

test('distributions as a heatmap: one row per architecture, one colour step per G', () => {
  const figure = distributionsFigure(
    [
      { name: 'a', distribution: [0, 3] },
      { name: 'b', distribution: [1, 2] },
    ],
    3,
  );
  const [heatmap] = traces(figure);
  assert.deepEqual(heatmap.z, [
    [0, 3],
    [1, 2],
  ]);
  assert.deepEqual(heatmap.text, [
    ['0/3', '3/0'],
    ['1/2', '2/1'],
  ]);
  assert.equal(heatmap.colorscale.length, 8, 'two stops for each of the four values of G');
  assert.equal(new Set(heatmap.colorscale.map((s: [number, string]) => s[1])).size, 4);
});

test('a loss curve of one epoch still shows its point, next to the uniform-guess loss', () => {
  const [loss, chance] = traces(lossCurveFigure([{ epoch: 1, trainLoss: 2.2 }], { numClasses: 10 }));
  assert.deepEqual([loss.x, loss.y, loss.mode], [[1], [2.2], 'lines+markers']);
  assert.ok(Math.abs(chance.y[0] - Math.log(10)) < 1e-12);
  assert.equal(chance.mode, 'lines');
});
