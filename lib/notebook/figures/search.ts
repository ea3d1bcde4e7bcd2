// Figures of an evolutionary search run: its generations, and every candidate it scored by cost and score.
import type { PlotlyFigure } from '../display';
import type { Evaluation, GenerationRecord, Origin } from '../../search/evolution';
import { LEGEND_ON_TOP, markerShape, titled, type VerticalMarker } from './layout';

const ORIGIN_SYMBOLS: Record<Origin, string> = { random: 'circle', mutation: 'diamond', crossover: 'triangle-up' };

/** What an origin's trace of candidates shows besides their scores (y, in %) and its marker symbol. */
interface OriginTrace {
  name: string;
  x: unknown[];
  text: string[];
  marker: Record<string, unknown>;
  hovertemplate: string;
  legendgroup?: string;
  showlegend?: boolean;
}

/** One scatter trace of candidates per way they were made (random, mutation, crossover) present in `evaluated`. */
function tracesByOrigin(
  evaluated: Evaluation[],
  trace: (origin: Origin, points: Evaluation[]) => OriginTrace,
): Record<string, unknown>[] {
  return (Object.keys(ORIGIN_SYMBOLS) as Origin[]).flatMap((origin) => {
    const points = evaluated.filter((e) => e.origin === origin);
    if (points.length === 0) return [];
    const { marker, ...rest } = trace(origin, points);
    const y = points.map((e) => 100 * e.score);
    return [{ type: 'scatter', mode: 'markers', ...rest, y, marker: { symbol: ORIGIN_SYMBOLS[origin], ...marker } }];
  });
}

/**
 * The EA generation by generation: every candidate's score (grey, shaped by how it was made), and each generation's
 * best and mean and the best so far. Scores are accuracies in 0..1, shown in %.
 */
export function evolutionFigure(
  generations: GenerationRecord[],
  options: { title?: string; scoreName?: string } = {},
): PlotlyFigure {
  const scoreName = options.scoreName ?? 'supernet val accuracy';
  const all = generations.flatMap((g) => g.population);
  // Candidates of one generation spread a little sideways, in draw order, so that equal scores do not hide each other.
  // Generations count from 1, as the logs do (the state counts from 0).
  const offset = (e: Evaluation, index: number, size: number) =>
    e.generation + 1 + (size > 1 ? 0.3 * (index / (size - 1) - 0.5) : 0);
  const spread = new Map(
    generations.flatMap((g) =>
      g.population.map((e, i): [Evaluation, number] => [e, offset(e, i, g.population.length)]),
    ),
  );
  const x = generations.map((g) => g.generation + 1);
  const line = (name: string, y: number[], color: string, dash: string) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name,
    x,
    y: y.map((v) => 100 * v),
    line: { color, dash, width: 2 },
    marker: { size: 7 },
  });
  const { layout: title, top } = titled(options.title, 2);
  return {
    data: [
      ...tracesByOrigin(all, (origin, points) => ({
        name: `candidate (${origin})`,
        x: points.map((e) => spread.get(e)),
        text: points.map((e) => e.key),
        marker: { size: 7, color: 'rgba(110,110,110,0.55)' },
        hovertemplate: `generation %{x:.0f}, ${origin}: %{y:.2f}%<br>%{text}<extra></extra>`,
      })),
      line(
        'best so far',
        generations.map((g) => g.bestSoFar),
        '#d62728',
        'solid',
      ),
      line(
        'generation best',
        generations.map((g) => g.best),
        '#1f77b4',
        'dot',
      ),
      line(
        'generation mean',
        generations.map((g) => g.mean),
        '#2ca02c',
        'dash',
      ),
    ],
    layout: {
      ...title,
      width: 850,
      height: top + 360,
      margin: { t: top },
      xaxis: { title: { text: 'generation' }, dtick: 1, tick0: 1, zeroline: false },
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
  options: {
    title?: string;
    scoreName?: string;
    markers?: VerticalMarker[];
    highlight?: { keys: string[]; label: string };
  } = {},
): PlotlyFigure {
  const scoreName = options.scoreName ?? 'supernet val accuracy';
  const lastGeneration = Math.max(0, ...evaluated.map((e) => e.generation));
  const ringed = evaluated.filter((e) => options.highlight?.keys.includes(e.key));
  const { layout: title, top } = titled(options.title, 2);
  // plotly draws a legend symbol in one colour and cannot take it from the colour axis (it warns "Invalid color
  // specifier" and draws black): the legend shows each origin's symbol in grey from a trace of no points instead.
  const origins = (Object.keys(ORIGIN_SYMBOLS) as Origin[]).filter((o) => evaluated.some((e) => e.origin === o));
  return {
    data: [
      ...origins.map((origin) => ({
        type: 'scatter',
        mode: 'markers',
        name: origin,
        legendgroup: origin,
        x: [null],
        y: [null],
        marker: { symbol: ORIGIN_SYMBOLS[origin], size: 10, color: '#999', line: { width: 0.5, color: '#333' } },
      })),
      ...tracesByOrigin(evaluated, (origin, points) => ({
        name: origin,
        legendgroup: origin,
        showlegend: false,
        x: points.map((e) => e.flops / 1e6),
        text: points.map((e) => `generation ${e.generation + 1}, ${(e.params / 1e6).toFixed(3)}M params<br>${e.key}`),
        marker: {
          size: 10,
          color: points.map((e) => e.generation + 1),
          coloraxis: 'coloraxis',
          line: { width: 0.5, color: '#333' },
        },
        hovertemplate: `%{x:.2f}M FLOPs, %{y:.2f}%<br>%{text}<extra>${origin}</extra>`,
      })),
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
      coloraxis: {
        colorscale: 'Viridis',
        cmin: 1,
        cmax: Math.max(2, lastGeneration + 1),
        colorbar: { title: { text: 'generation' }, dtick: 1, len: 0.8 },
      },
      legend: LEGEND_ON_TOP,
      shapes: (options.markers ?? []).map(markerShape),
    },
  };
}
