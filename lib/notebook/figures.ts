// Plotly figures of the data, the model, the search spaces, search runs and ablation tables, built as plain JSON
// (never plotly.js itself, which does not load in Node); lib/notebook/display.ts shows them in notebooks. Pixels go in as
// numbers, so the figures need no image encoder and hover shows the values.
import type { Architecture, BlockGene } from '../model/arch';
import type { PlotlyFigure } from './display';
import { labelCounts, type ImageSet } from '../data/datasets';
import type { Evaluation, GenerationRecord, Origin } from '../search/evolution';
import type { RowResult } from '../experiments/records';

/** Gap between tiles, in image pixels; it shows the page background. */
const GAP = 2;

/**
 * A grid of sample images: one row per class with its first `perClass` images (default 8) and the class name on the
 * left, for at most `maxClasses` classes (default 10). Grey and RGB images.
 */
export function classSamplesFigure(set: ImageSet, classes: string[], options: { perClass?: number; maxClasses?: number; title?: string } = {}): PlotlyFigure {
  const perClass = options.perClass ?? 8;
  const rows = classes.slice(0, options.maxClasses ?? 10).map((name, label) => ({ name, indices: firstWithLabel(set, label, perClass) }));
  const { height: h, width: w } = set;
  const mosaicHeight = rows.length * (h + GAP) - GAP;
  const mosaicWidth = perClass * (w + GAP) - GAP;
  const z: number[][][] = Array.from({ length: mosaicHeight }, () => Array.from({ length: mosaicWidth }, () => [255, 255, 255]));
  rows.forEach((row, r) => row.indices.forEach((index, c) => drawTile(z, set, index, r * (h + GAP), c * (w + GAP))));

  const scale = Math.max(1, Math.floor(640 / mosaicWidth)); // screen pixels per image pixel: about 640 px wide
  const margin = { l: 110, r: 10, t: options.title ? 40 : 10, b: 10 };
  return {
    data: [{ type: 'image', z, colormodel: 'rgb', hovertemplate: 'x %{x}, y %{y}: %{z}<extra></extra>' }],
    layout: {
      ...(options.title ? { title: { text: options.title, x: 0, xanchor: 'left' } } : {}), // left: clear of the modebar
      width: mosaicWidth * scale + margin.l + margin.r,
      height: mosaicHeight * scale + margin.t + margin.b,
      margin,
      xaxis: { visible: false },
      yaxis: { visible: false },
      annotations: rows.map((row, r) => ({
        text: row.indices.length < perClass ? `${row.name} (${row.indices.length})` : row.name,
        x: 0,
        xref: 'paper',
        xanchor: 'right',
        xshift: -6,
        y: r * (h + GAP) + (h - 1) / 2,
        yref: 'y',
        showarrow: false,
      })),
    },
  };
}

/** Images per class in each split, as grouped bars. */
export function classCountsFigure(splits: { name: string; set: ImageSet }[], classes: string[], title = 'Images per class'): PlotlyFigure {
  return {
    data: splits.map(({ name, set }) => ({ type: 'bar', name, x: classes, y: labelCounts(set, classes.length) })),
    layout: { title: { text: title }, barmode: 'group', yaxis: { title: { text: 'images' } }, margin: { t: 40 } },
  };
}

/** The first `n` indices whose label is `label`, in order. */
function firstWithLabel(set: ImageSet, label: number, n: number): number[] {
  const found: number[] = [];
  for (let i = 0; i < set.count && found.length < n; i++) if (set.labels[i] === label) found.push(i);
  return found;
}

/** Copies image `index` into the mosaic with its top-left corner at (top, left), grey as r = g = b. */
function drawTile(z: number[][][], set: ImageSet, index: number, top: number, left: number): void {
  const { height: h, width: w, channels: c } = set;
  if (c !== 1 && c !== 3) throw new Error(`image grids show grey (1 channel) or RGB (3 channels) images, not ${c} channels`);
  const base = index * h * w * c;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = base + (y * w + x) * c;
      z[top + y][left + x] = c === 1 ? [set.images[p], set.images[p], set.images[p]] : [set.images[p], set.images[p + 1], set.images[p + 2]];
    }
  }
}

/** One heatmap of per-patch values over the patch grid (row 0 at the top), with one patch marked. */
export interface PatchGridPanel {
  title: string;
  /** values[row][col]. */
  values: number[][];
  /** The patch to mark (the query token), as [row, col]. */
  mark?: [number, number];
}

/**
 * Heatmaps of patch grids side by side, `columns` per row (default: all in one row), each scaled to its own maximum
 * (grey = 0), with thin gaps so every patch shows. Hover gives the row, column and raw value.
 */
export function patchGridsFigure(panels: PatchGridPanel[], options: { title?: string; columns?: number; valueName?: string } = {}): PlotlyFigure {
  const columns = options.columns ?? panels.length;
  const rows = Math.ceil(panels.length / columns);
  const valueName = options.valueName ?? 'value';
  const layout: Record<string, unknown> = {
    grid: { rows, columns, pattern: 'independent', xgap: 0.12, ygap: 0.22 },
    width: 80 + columns * 270,
    height: (options.title ? 60 : 20) + rows * 290,
    margin: { l: 30, r: 30, t: options.title ? 80 : 40, b: 20 },
    showlegend: false,
    ...(options.title ? { title: { text: options.title, x: 0, xanchor: 'left' } } : {}),
    annotations: panels.map((panel, i) => ({
      text: panel.title,
      xref: `${axisName('x', i)} domain`,
      yref: `${axisName('y', i)} domain`,
      x: 0.5,
      y: 1,
      yanchor: 'bottom',
      yshift: 4,
      showarrow: false,
    })),
  };
  const data: Record<string, unknown>[] = [];
  panels.forEach((panel, i) => {
    const [xaxis, yaxis] = [axisName('x', i), axisName('y', i)];
    const peak = Math.max(...panel.values.flat());
    data.push({
      type: 'heatmap',
      z: panel.values,
      xaxis,
      yaxis,
      zmin: 0,
      zmax: peak > 0 ? peak : 1,
      // Grey where the value is 0, light to dark blue above it, so the faintest reach still shows.
      colorscale: [[0, '#e8e8e8'], [1e-6, '#c6dbef'], [1, '#08519c']],
      showscale: false,
      xgap: 1,
      ygap: 1,
      hovertemplate: `row %{y}, col %{x}: ${valueName} %{z}<extra></extra>`,
    });
    if (panel.mark) {
      const [row, col] = panel.mark;
      data.push({ type: 'scatter', mode: 'markers', x: [col], y: [row], xaxis, yaxis, marker: { symbol: 'x-thin-open', size: 9, color: '#d62728', line: { width: 2.5, color: '#d62728' } }, hoverinfo: 'skip' });
    }
    const size = panel.values.length;
    layout[axisLayoutName('x', i)] = { range: [-0.5, size - 0.5], showgrid: false, zeroline: false, showticklabels: false, ticks: '', constrain: 'domain' };
    layout[axisLayoutName('y', i)] = { range: [size - 0.5, -0.5], showgrid: false, zeroline: false, showticklabels: false, ticks: '', scaleanchor: xaxis, constrain: 'domain' };
  });
  return { data, layout };
}

/** One bar series of a two-panel bar chart: its values in the left and the right panel (null: no bar). */
export interface TwoPanelSeries {
  name: string;
  left: (number | null)[];
  right: (number | null)[];
}

/**
 * Two bar charts side by side over the same categories (e.g. parameters | FLOPs), one legend entry per series, bars
 * grouped or stacked, values printed on the bars with d3 format `valueFormat` (default '.2f').
 */
export function twoPanelBarsFigure(
  categories: string[],
  series: TwoPanelSeries[],
  options: { leftTitle: string; rightTitle: string; title?: string; barmode?: 'group' | 'stack'; valueFormat?: string },
): PlotlyFigure {
  const format = options.valueFormat ?? '.2f';
  const data = series.flatMap((s, i) =>
    (['left', 'right'] as const).map((side) => ({
      type: 'bar',
      name: s.name,
      legendgroup: s.name,
      showlegend: side === 'left',
      x: categories,
      y: s[side],
      xaxis: side === 'left' ? 'x' : 'x2',
      yaxis: side === 'left' ? 'y' : 'y2',
      marker: { color: PALETTE[i % PALETTE.length] },
      texttemplate: `%{y:${format}}`,
      textposition: options.barmode === 'stack' ? 'inside' : 'outside',
      cliponaxis: false,
      hovertemplate: `${s.name}, %{x}: %{y:${format}}<extra></extra>`,
    })),
  );
  return {
    data,
    layout: {
      ...(options.title ? { title: { text: options.title, x: 0, xanchor: 'left' } } : {}),
      barmode: options.barmode ?? 'group',
      uniformtext: { mode: 'hide', minsize: 9 }, // no value on a bar too small to hold it legibly
      grid: { rows: 1, columns: 2, pattern: 'independent', xgap: 0.15 },
      width: 900,
      height: 420,
      margin: { t: options.title ? 70 : 30, b: 50 },
      yaxis: { title: { text: options.leftTitle }, rangemode: 'tozero' },
      yaxis2: { title: { text: options.rightTitle }, rangemode: 'tozero' },
      legend: { orientation: 'h', x: 0, y: -0.15 },
    },
  };
}

/** plotly's default colour sequence, so that a series keeps its colour in both panels. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** The trace-side axis name of subplot i ('x', 'x2', ...) and its layout key ('xaxis', 'xaxis2', ...). */
const axisName = (axis: 'x' | 'y', i: number): string => (i === 0 ? axis : `${axis}${i + 1}`);
const axisLayoutName = (axis: 'x' | 'y', i: number): string => (i === 0 ? `${axis}axis` : `${axis}axis${i + 1}`);

// --- search spaces and search runs ----------------------------------------------------------------------------------

/** The layout's title (top left, clear of the modebar) and a top margin with room for `legendRows` rows of legend. */
function titled(title: string | undefined, legendRows: number): { layout: Record<string, unknown>; top: number } {
  return {
    layout: title ? { title: { text: title, x: 0, xanchor: 'left', y: 0.985, yanchor: 'top' } } : {},
    top: (title ? 45 : 10) + 24 * legendRows,
  };
}

/** A horizontal legend above the plot area. */
const LEGEND_ON_TOP = { orientation: 'h', x: 0, y: 1, yanchor: 'bottom' };

/** One histogram of a column of small multiples. */
export interface HistogramPanel {
  name: string;
  values: number[];
  /** Shown after the name, e.g. the share within the budget. */
  note?: string;
}

/** A vertical line across a figure (a budget, a baseline's FLOPs), named in the legend. */
export interface VerticalMarker {
  x: number;
  label: string;
  color: string;
  dash?: 'solid' | 'dash' | 'dot';
}

const markerShape = (m: VerticalMarker) => ({
  type: 'line',
  xref: 'x',
  yref: 'paper',
  x0: m.x,
  x1: m.x,
  y0: 0,
  y1: 1,
  line: { color: m.color, width: 2, dash: m.dash ?? 'dash' },
  showlegend: true,
  name: m.label,
});

/**
 * Histograms stacked in one column over a shared x axis and shared bins, each as the share of its own values (so
 * panels compare whatever their sample counts), with vertical markers across all of them.
 */
export function histogramPanelsFigure(panels: HistogramPanel[], options: { xTitle: string; title?: string; bins?: number; markers?: VerticalMarker[] }): PlotlyFigure {
  const markers = options.markers ?? [];
  const all = [...panels.flatMap((p) => p.values), ...markers.map((m) => m.x)];
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const bins = options.bins ?? 40;
  const size = hi > lo ? (hi - lo) / bins : 1;
  const rowHeight = 1 / panels.length;
  const { layout: title, top } = titled(options.title, markers.length > 0 ? 1 : 0);
  const layout: Record<string, unknown> = {
    ...title,
    width: 850,
    height: top + 60 + 130 * panels.length,
    margin: { l: 60, r: 20, t: top, b: 50 },
    bargap: 0.05,
    legend: { ...LEGEND_ON_TOP, x: 1, xanchor: 'right' },
    xaxis: { title: { text: options.xTitle }, anchor: axisName('y', panels.length - 1), range: [lo - size, hi + size] },
    shapes: markers.map(markerShape),
    annotations: panels.map((p, i) => ({
      text: p.note ? `<b>${p.name}</b> · ${p.note}` : `<b>${p.name}</b>`,
      xref: 'paper',
      yref: `${axisName('y', i)} domain`,
      x: 0,
      y: 1,
      xanchor: 'left',
      yanchor: 'top',
      showarrow: false,
      bgcolor: 'rgba(255,255,255,0.8)',
    })),
  };
  const data = panels.map((p, i) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of p.values) counts[Math.min(bins - 1, Math.floor((v - lo) / size))]++; // the maximum closes the last bin
    layout[axisLayoutName('y', i)] = {
      domain: [1 - (i + 1) * rowHeight + 0.03, 1 - i * rowHeight - 0.02],
      ticksuffix: '%',
      rangemode: 'tozero',
      ...(i === Math.floor(panels.length / 2) ? { title: { text: 'share of samples' } } : {}),
    };
    return {
      type: 'bar',
      name: p.name,
      showlegend: false,
      x: counts.map((_, b) => lo + (b + 0.5) * size),
      y: counts.map((c) => (100 * c) / Math.max(1, p.values.length)),
      width: size,
      xaxis: 'x',
      yaxis: axisName('y', i),
      marker: { color: PALETTE[i % PALETTE.length] },
      hovertemplate: `${p.name}: %{y:.1f}% of samples near %{x:.4g}<extra></extra>`,
    };
  });
  return { data, layout };
}

/** One bar series of a grouped bar chart (null: no bar). */
export interface BarSeries {
  name: string;
  values: (number | null)[];
}

/**
 * Grouped bars, with their values printed on them (d3 format `valueFormat`, default '.3g') unless `showValues` is
 * false; optionally a log y axis.
 */
export function groupedBarsFigure(
  categories: string[],
  series: BarSeries[],
  options: { yTitle: string; xTitle?: string; title?: string; valueFormat?: string; valueSuffix?: string; showValues?: boolean; logY?: boolean },
): PlotlyFigure {
  const format = options.valueFormat ?? '.3g';
  const suffix = options.valueSuffix ?? '';
  const { layout: title, top } = titled(options.title, Math.ceil(series.length / 3));
  return {
    data: series.map((s, i) => ({
      type: 'bar',
      name: s.name,
      x: categories,
      y: s.values,
      marker: { color: PALETTE[i % PALETTE.length] },
      ...(options.showValues === false ? {} : { texttemplate: `%{y:${format}}${suffix}`, textposition: 'outside', cliponaxis: false }),
      hovertemplate: `${s.name}, %{x}: %{y:${format}}${suffix}<extra></extra>`,
    })),
    layout: {
      ...title,
      barmode: 'group',
      uniformtext: { mode: 'hide', minsize: 9 },
      width: 850,
      height: top + 380,
      margin: { t: top, b: 60 },
      xaxis: { ...(options.xTitle ? { title: { text: options.xTitle } } : {}), type: 'category' },
      yaxis: { title: { text: options.yTitle }, ticksuffix: suffix, ...(options.logY ? logAxisFrom1(series) : { rangemode: 'tozero' }) },
      legend: LEGEND_ON_TOP,
    },
  };
}

/**
 * A log axis from 1, so that bars of small values keep their height, with ticks at powers of ten only (plotly's minor
 * labels 2, 3, 5... crowd a short axis).
 */
function logAxisFrom1(series: BarSeries[]) {
  const top = Math.max(1, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  return { type: 'log', dtick: 1, range: [0, Math.log10(top) * 1.05] };
}

/** One line of a line chart. */
export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  /** A dashed or dotted series is a reference line: drawn without markers. */
  dash?: 'solid' | 'dash' | 'dot';
}

/** Lines with a marker on every point, so that a series of one point (a one-epoch run) still shows. */
export function lineChartFigure(series: LineSeries[], options: { xTitle: string; yTitle: string; title?: string; integerX?: boolean }): PlotlyFigure {
  const { layout: title, top } = titled(options.title, 1);
  return {
    data: series.map((s, i) => ({
      type: 'scatter',
      mode: (s.dash ?? 'solid') === 'solid' ? 'lines+markers' : 'lines',
      name: s.name,
      x: s.x,
      y: s.y,
      line: { color: PALETTE[i % PALETTE.length], dash: s.dash ?? 'solid' },
      marker: { size: 8 },
    })),
    layout: {
      ...title,
      showlegend: true, // also for one series: the legend names what the line is
      width: 800,
      height: top + 330,
      margin: { t: top },
      xaxis: { title: { text: options.xTitle }, ...(options.integerX ? { dtick: 1, tick0: 0 } : {}) },
      yaxis: { title: { text: options.yTitle } },
      legend: LEGEND_ON_TOP,
    },
  };
}

/**
 * Training loss per epoch (the mean over the epoch's steps), with the loss of a uniform guess, ln(classes), for scale:
 * near it the model has learnt little.
 */
export function lossCurveFigure(
  epochs: { epoch: number; trainLoss: number }[],
  options: { numClasses: number; title?: string; name?: string; steps?: { step: number; epoch: number; loss: number }[] },
): PlotlyFigure {
  const x = epochs.map((e) => e.epoch);
  const chance = Math.log(options.numClasses);
  // Steps sit on the epoch axis at their fraction of the run: step s (counted from 1) of n per epoch at s / n.
  const steps = options.steps ?? [];
  const perEpoch = Math.max(1, steps.filter((s) => s.epoch === 0).length);
  const stepSeries: LineSeries[] = steps.length > 0 ? [{ name: 'train loss per step', x: steps.map((s) => s.step / perEpoch), y: steps.map((s) => s.loss) }] : [];
  return lineChartFigure(
    [
      ...stepSeries,
      { name: options.name ?? 'train loss (mean over the epoch)', x, y: epochs.map((e) => e.trainLoss) },
      { name: `uniform guess: ln ${options.numClasses} = ${chance.toFixed(2)}`, x: [0, Math.max(1, ...x)], y: [chance, chance], dash: 'dot' },
    ],
    { xTitle: 'epoch', yTitle: 'train loss (cross-entropy)', title: options.title, integerX: true },
  );
}

const ORIGIN_SYMBOLS: Record<Origin, string> = { random: 'circle', mutation: 'diamond', crossover: 'triangle-up' };
const originsIn = (evaluated: Evaluation[]): Origin[] => (Object.keys(ORIGIN_SYMBOLS) as Origin[]).filter((o) => evaluated.some((e) => e.origin === o));

/**
 * The EA generation by generation: every candidate's score (grey, shaped by how it was made), and each generation's
 * best and mean and the best so far. Scores are accuracies in 0..1, shown in %.
 */
export function evolutionFigure(generations: GenerationRecord[], options: { title?: string; scoreName?: string } = {}): PlotlyFigure {
  const scoreName = options.scoreName ?? 'supernet val accuracy';
  const all = generations.flatMap((g) => g.population);
  // Candidates of one generation spread a little sideways, in draw order, so that equal scores do not hide each other.
  const offset = (e: Evaluation, index: number, size: number) => e.generation + (size > 1 ? 0.3 * (index / (size - 1) - 0.5) : 0);
  const spread = new Map(generations.flatMap((g) => g.population.map((e, i): [Evaluation, number] => [e, offset(e, i, g.population.length)])));
  const x = generations.map((g) => g.generation);
  const line = (name: string, y: number[], color: string, dash: string) => ({
    type: 'scatter', mode: 'lines+markers', name, x, y: y.map((v) => 100 * v), line: { color, dash, width: 2 }, marker: { size: 7 },
  });
  const { layout: title, top } = titled(options.title, 2);
  return {
    data: [
      ...originsIn(all).map((origin) => {
        const points = all.filter((e) => e.origin === origin);
        return {
          type: 'scatter',
          mode: 'markers',
          name: `candidate (${origin})`,
          x: points.map((e) => spread.get(e)),
          y: points.map((e) => 100 * e.score),
          text: points.map((e) => e.key),
          marker: { symbol: ORIGIN_SYMBOLS[origin], size: 7, color: 'rgba(110,110,110,0.55)' },
          hovertemplate: `generation %{x:.0f}, ${origin}: %{y:.2f}%<br>%{text}<extra></extra>`,
        };
      }),
      line('best so far', generations.map((g) => g.bestSoFar), '#d62728', 'solid'),
      line('generation best', generations.map((g) => g.best), '#1f77b4', 'dot'),
      line('generation mean', generations.map((g) => g.mean), '#2ca02c', 'dash'),
    ],
    layout: {
      ...title,
      width: 850,
      height: top + 360,
      margin: { t: top },
      xaxis: { title: { text: 'generation' }, dtick: 1, tick0: 0, zeroline: false },
      yaxis: { title: { text: `${scoreName} (%)` }, ticksuffix: '%' },
      legend: LEGEND_ON_TOP,
    },
  };
}

/**
 * Every evaluated candidate by FLOPs (official count, millions) and score, coloured by generation and shaped by how it
 * was made, with vertical markers (x in millions of FLOPs) and rings around chosen candidates (by key).
 */
export function populationFigure(
  evaluated: Evaluation[],
  options: { title?: string; scoreName?: string; markers?: VerticalMarker[]; highlight?: { keys: string[]; label: string } } = {},
): PlotlyFigure {
  const scoreName = options.scoreName ?? 'supernet val accuracy';
  const lastGeneration = Math.max(0, ...evaluated.map((e) => e.generation));
  const ringed = evaluated.filter((e) => options.highlight?.keys.includes(e.key));
  const { layout: title, top } = titled(options.title, 2);
  return {
    data: [
      ...originsIn(evaluated).map((origin) => {
        const points = evaluated.filter((e) => e.origin === origin);
        return {
          type: 'scatter',
          mode: 'markers',
          name: origin,
          x: points.map((e) => e.flops / 1e6),
          y: points.map((e) => 100 * e.score),
          text: points.map((e) => `generation ${e.generation}, ${(e.params / 1e6).toFixed(3)}M params<br>${e.key}`),
          marker: { symbol: ORIGIN_SYMBOLS[origin], size: 10, color: points.map((e) => e.generation), coloraxis: 'coloraxis', line: { width: 0.5, color: '#333' } },
          hovertemplate: `%{x:.2f}M FLOPs, %{y:.2f}%<br>%{text}<extra>${origin}</extra>`,
        };
      }),
      ...(ringed.length > 0
        ? [
            {
              type: 'scatter',
              mode: 'markers',
              name: options.highlight!.label,
              x: ringed.map((e) => e.flops / 1e6),
              y: ringed.map((e) => 100 * e.score),
              marker: { symbol: 'circle-open', size: 20, color: '#d62728', line: { width: 2 } },
              hoverinfo: 'skip',
            },
          ]
        : []),
    ],
    layout: {
      ...title,
      width: 850,
      height: top + 400,
      margin: { t: top },
      xaxis: { title: { text: 'FLOPs (millions, official count)' } },
      yaxis: { title: { text: `${scoreName} (%)` }, ticksuffix: '%' },
      coloraxis: { colorscale: 'Viridis', cmin: 0, cmax: Math.max(1, lastGeneration), colorbar: { title: { text: 'generation' }, dtick: 1, len: 0.8 } },
      legend: LEGEND_ON_TOP,
      shapes: (options.markers ?? []).map(markerShape),
    },
  };
}

const GLOBAL_COLOR = '#1f77b4';
const LOCAL_COLOR = '#ff7f0e';

/** A block's low-level choices in the paper's symbols, only those it uses: "ev 1", "E 2", "K 31", "r 4". */
const geneLabels = (gene: BlockGene, heads: number): string[] => [
  ...(gene.globalHeads > 0 ? [`ev ${gene.qkvRatio}`] : []),
  ...(gene.globalHeads < heads ? [`E ${gene.convExpansion}`, `K ${gene.kernelSize}`] : []),
  `r ${gene.ffnRatio}`,
];

/**
 * An architecture block by block, as the paper's Figure 5 draws GLiT: per block its G global and L local heads as
 * stacked bars, with the block's ev / E / K / r written above it.
 */
export function architectureFigure(arch: Architecture, options: { title?: string } = {}): PlotlyFigure {
  const heads = arch.model.heads;
  const blocks = arch.blocks.map((_, i) => `block ${i}`);
  const hover = arch.blocks.map((g) => `G ${g.globalHeads}, L ${heads - g.globalHeads}: ${geneLabels(g, heads).join(', ')}`);
  const bars = (name: string, values: number[], color: string) => ({
    type: 'bar',
    name,
    x: blocks,
    y: values,
    marker: { color },
    text: hover,
    textposition: 'none',
    hovertemplate: `%{x}: %{text}<extra></extra>`,
  });
  const { layout: title, top } = titled(options.title, 1);
  return {
    data: [
      bars('global heads (G, attention)', arch.blocks.map((g) => g.globalHeads), GLOBAL_COLOR),
      bars('local heads (L, conv)', arch.blocks.map((g) => heads - g.globalHeads), LOCAL_COLOR),
    ],
    layout: {
      ...title,
      barmode: 'stack',
      width: Math.min(850, Math.max(700, 200 + 55 * arch.blocks.length)),
      height: top + 380,
      margin: { t: top, b: 50, l: 60, r: 20 },
      yaxis: { title: { text: `heads (N = ${heads})` }, range: [0, heads * 1.55], tickvals: Array.from({ length: heads + 1 }, (_, g) => g) },
      legend: { ...LEGEND_ON_TOP, traceorder: 'normal' },
      annotations: arch.blocks.map((g, i) => ({
        text: geneLabels(g, heads).join('<br>'),
        x: blocks[i],
        y: heads,
        yanchor: 'bottom',
        yshift: 3,
        showarrow: false,
        font: { size: 11 },
      })),
    },
  };
}

/** G per block of several architectures (one row each) as a heatmap, each cell labelled "G/L", one colour per G. */
export function distributionsFigure(rows: { name: string; distribution: number[] }[], heads: number, options: { title?: string } = {}): PlotlyFigure {
  const blocks = (rows[0]?.distribution ?? []).map((_, i) => `block ${i}`);
  // A stepped colour scale over z in [-0.5, N + 0.5], one colour per G: all local orange, through pale mixes, to all
  // global blue (plotly picks a legible text colour on each cell).
  const colorOf = (g: number) => (2 * g < heads ? mixColors(LOCAL_COLOR, '#eeeeee', (2 * g) / heads) : mixColors('#eeeeee', GLOBAL_COLOR, (2 * g - heads) / heads));
  const colorscale = Array.from({ length: heads + 1 }, (_, g) => [[g / (heads + 1), colorOf(g)], [(g + 1) / (heads + 1), colorOf(g)]]).flat();
  const { layout: title, top } = titled(options.title, 0);
  return {
    data: [
      {
        type: 'heatmap',
        x: blocks,
        y: rows.map((r) => r.name),
        z: rows.map((r) => r.distribution),
        zmin: -0.5,
        zmax: heads + 0.5,
        colorscale,
        text: rows.map((r) => r.distribution.map((g) => `${g}/${heads - g}`)),
        texttemplate: '%{text}',
        xgap: 2,
        ygap: 2,
        colorbar: { title: { text: 'G' }, tickvals: Array.from({ length: heads + 1 }, (_, g) => g), len: 1, thickness: 15 },
        hovertemplate: '%{y}, %{x}: G/L = %{text}<extra></extra>',
      },
    ],
    layout: {
      ...title,
      width: Math.min(850, Math.max(700, 260 + 60 * blocks.length)),
      height: top + 60 + 36 * rows.length,
      margin: { t: top, l: 150, b: 40 },
      yaxis: { autorange: 'reversed', type: 'category' },
      xaxis: { type: 'category', side: 'bottom' },
    },
  };
}

/** The colour a fraction t of the way from `a` to `b` (both '#rrggbb'). */
function mixColors(a: string, b: string, t: number): string {
  const channel = (c: string, i: number) => parseInt(c.slice(1 + 2 * i, 3 + 2 * i), 16);
  return `#${[0, 1, 2].map((i) => Math.round(channel(a, i) + t * (channel(b, i) - channel(a, i))).toString(16).padStart(2, '0')).join('')}`;
}

// --- ablation tables ------------------------------------------------------------------------------------------------

/** A legend entry with nothing drawn: explains a marker style shared by several traces. */
const legendKey = (name: string, marker: Record<string, unknown>) => ({ type: 'scatter', mode: 'markers', name, x: [null], y: [null], marker, hoverinfo: 'skip' });

const seedHover = (row: RowResult) => row.runs.map((r) => `${row.label}<br>seed ${r.seed} (${r.name}): ${(100 * r.testAccuracy).toFixed(2)}%<br>${(r.params / 1e6).toFixed(3)}M params, ${(r.flops / 1e6).toFixed(2)}M FLOPs`);
const rowFlops = (row: RowResult) => row.runs.reduce((a, r) => a + r.flops, 0) / row.runs.length / 1e6;

/**
 * Test accuracy against FLOPs (official count, millions) for the rows of an ablation table: per row the mean over seeds
 * at its mean FLOPs, with a bar of one standard deviation over seeds, and every seed as an open dot at its own FLOPs
 * (a searched row finds its own architecture per seed). One colour per row, as in ablationRowsFigure.
 */
export function ablationFlopsFigure(rows: RowResult[], options: { title?: string } = {}): PlotlyFigure {
  const width = 850;
  const { layout: title, top } = titled(options.title, legendRows([...rows.map((r) => r.label), 'one seed'], width));
  return {
    data: [
      ...rows.flatMap((row, i) => [
        {
          type: 'scatter',
          mode: 'markers',
          name: row.label,
          legendgroup: row.id,
          x: [rowFlops(row)],
          y: [100 * row.meanTest],
          error_y: { type: 'data', array: [100 * row.stdTest], visible: row.runs.length > 1, thickness: 2, width: 8 },
          marker: { size: 13, color: PALETTE[i % PALETTE.length], line: { width: 1, color: '#333' } },
          hovertemplate: `${row.label}<br>mean over ${row.runs.length} seed(s): %{y:.2f}% ± ${(100 * row.stdTest).toFixed(2)}<br>%{x:.2f}M FLOPs<extra></extra>`,
        },
        {
          type: 'scatter',
          mode: 'markers',
          name: `${row.label} (seeds)`,
          legendgroup: row.id,
          showlegend: false,
          x: row.runs.map((r) => r.flops / 1e6),
          y: row.runs.map((r) => 100 * r.testAccuracy),
          text: seedHover(row),
          marker: { size: 8, symbol: 'circle-open', color: PALETTE[i % PALETTE.length], line: { width: 2 } },
          hovertemplate: '%{text}<extra></extra>',
        },
      ]),
      legendKey('one seed', { size: 8, symbol: 'circle-open', color: '#555', line: { width: 2 } }),
    ],
    layout: {
      ...title,
      width,
      height: top + 420,
      margin: { t: top, l: 70, r: 20 },
      xaxis: { title: { text: 'FLOPs (millions, official count)' } },
      yaxis: { title: { text: 'test accuracy (%, mean ± std over seeds)' }, ticksuffix: '%' },
      legend: LEGEND_ON_TOP,
    },
  };
}

/**
 * The rows of an ablation table side by side: the mean over seeds as a dash with a bar of one standard deviation, and
 * to its right each seed's test accuracy as a dot (spread sideways in seed order, so that equal values stay apart). The
 * y axis fits the values, not zero: the differences between rows are what matters.
 */
export function ablationRowsFigure(rows: RowResult[], options: { title?: string } = {}): PlotlyFigure {
  const { layout: title, top } = titled(options.title, 1);
  const offsets = (n: number) => Array.from({ length: n }, (_, k) => (n > 1 ? 0.1 + (0.2 * k) / (n - 1) : 0.15));
  return {
    data: [
      ...rows.flatMap((row, i) => {
        const color = PALETTE[i % PALETTE.length];
        return [
          {
            type: 'scatter',
            mode: 'markers',
            name: row.label,
            showlegend: false,
            x: offsets(row.runs.length).map((dx) => i + dx),
            y: row.runs.map((r) => 100 * r.testAccuracy),
            text: seedHover(row),
            marker: { size: 9, color, opacity: 0.75 },
            hovertemplate: '%{text}<extra></extra>',
          },
          {
            type: 'scatter',
            mode: 'markers',
            name: `${row.label} (mean)`,
            showlegend: false,
            x: [i - 0.1],
            y: [100 * row.meanTest],
            error_y: { type: 'data', array: [100 * row.stdTest], visible: row.runs.length > 1, thickness: 2, width: 14, color },
            marker: { symbol: 'line-ew-open', size: 34, color, line: { width: 3, color } },
            hovertemplate: `${row.label}<br>mean over ${row.runs.length} seed(s): %{y:.2f}% ± ${(100 * row.stdTest).toFixed(2)}<extra></extra>`,
          },
        ];
      }),
      legendKey('one seed', { size: 9, color: '#555', opacity: 0.75 }),
      legendKey('mean ± std over seeds', { symbol: 'line-ew-open', size: 20, color: '#555', line: { width: 3, color: '#555' } }),
    ],
    layout: {
      ...title,
      width: Math.min(850, Math.max(700, 160 + 140 * rows.length)),
      height: top + 440,
      margin: { t: top, l: 70, r: 20, b: 90 },
      xaxis: { tickvals: rows.map((_, i) => i), ticktext: rows.map((r) => wrapLabel(r.label, 16)), range: [-0.5, rows.length - 0.5], zeroline: false, showgrid: false },
      yaxis: { title: { text: 'test accuracy (%)' }, ticksuffix: '%' },
      legend: LEGEND_ON_TOP,
    },
  };
}

/** About how many rows a horizontal legend of these entries takes in a figure `width` pixels wide (12 px text). */
function legendRows(names: string[], width: number): number {
  const entry = (name: string) => 45 + 7 * name.length; // symbol and gaps, then the text
  let rows = 1;
  let used = 0;
  for (const name of names) {
    if (used > 0 && used + entry(name) > width - 80) [rows, used] = [rows + 1, 0];
    used += entry(name);
  }
  return rows;
}

/** Breaks `text` into lines of about `width` characters at spaces, joined with <br> for plotly. */
function wrapLabel(text: string, width: number): string {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines.join('<br>');
}
