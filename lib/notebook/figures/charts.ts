// General charts over plain numbers: bars in one or two panels, stacked histograms, lines and a loss curve.
import type { PlotlyFigure } from '../display';
import { axisLayoutName, axisName, LEGEND_ON_TOP, markerShape, PALETTE, titled, type VerticalMarker } from './layout';

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

/** One histogram of a column of small multiples. */
export interface HistogramPanel {
  name: string;
  values: number[];
  /** Shown after the name, e.g. the share within the budget. */
  note?: string;
}

/**
 * Histograms stacked in one column over a shared x axis and shared bins, each as the share of its own values (so
 * panels compare whatever their sample counts), with vertical markers across all of them.
 */
export function histogramPanelsFigure(
  panels: HistogramPanel[],
  options: { xTitle: string; title?: string; bins?: number; markers?: VerticalMarker[] },
): PlotlyFigure {
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
  options: {
    yTitle: string;
    xTitle?: string;
    title?: string;
    valueFormat?: string;
    valueSuffix?: string;
    showValues?: boolean;
    logY?: boolean;
  },
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
      ...(options.showValues === false
        ? {}
        : { texttemplate: `%{y:${format}}${suffix}`, textposition: 'outside', cliponaxis: false }),
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
      yaxis: {
        title: { text: options.yTitle },
        ticksuffix: suffix,
        ...(options.logY ? logAxisFrom1(series) : { rangemode: 'tozero' }),
      },
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
export function lineChartFigure(
  series: LineSeries[],
  options: { xTitle: string; yTitle: string; title?: string; integerX?: boolean },
): PlotlyFigure {
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
  options: {
    numClasses: number;
    title?: string;
    name?: string;
    steps?: { step: number; epoch: number; loss: number }[];
  },
): PlotlyFigure {
  const x = epochs.map((e) => e.epoch);
  const chance = Math.log(options.numClasses);
  // Steps sit on the epoch axis at their fraction of the run: step s (counted from 1) of n per epoch at s / n.
  const steps = options.steps ?? [];
  const perEpoch = Math.max(1, steps.filter((s) => s.epoch === 0).length);
  const stepSeries: LineSeries[] =
    steps.length > 0
      ? [{ name: 'train loss per step', x: steps.map((s) => s.step / perEpoch), y: steps.map((s) => s.loss) }]
      : [];
  return lineChartFigure(
    [
      ...stepSeries,
      { name: options.name ?? 'train loss (mean over the epoch)', x, y: epochs.map((e) => e.trainLoss) },
      {
        name: `uniform guess: ln ${options.numClasses} = ${chance.toFixed(2)}`,
        x: [0, Math.max(1, ...x)],
        y: [chance, chance],
        dash: 'dot',
      },
    ],
    { xTitle: 'epoch', yTitle: 'train loss (cross-entropy)', title: options.title, integerX: true },
  );
}
