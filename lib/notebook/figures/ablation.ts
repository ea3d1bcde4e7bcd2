// Figures of an ablation table's results: test accuracy per row and seed, and against FLOPs.
import type { PlotlyFigure } from '../display';
import type { ModelKind, RowResult } from '../../experiments/records';
import { LEGEND_ON_TOP, PALETTE, titled } from './layout';

/** A legend entry with nothing drawn: explains a marker style shared by several traces. */
const legendKey = (name: string, marker: Record<string, unknown>) => ({
  type: 'scatter',
  mode: 'markers',
  name,
  x: [null],
  y: [null],
  marker,
  hoverinfo: 'skip',
});

const seedHover = (row: RowResult) =>
  row.runs.map(
    (r) =>
      `${row.label}<br>seed ${r.seed} (${r.name}): ${(100 * r.testAccuracy).toFixed(2)}%<br>${(r.params / 1e6).toFixed(3)}M params, ${(r.flops / 1e6).toFixed(2)}M FLOPs`,
  );
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
    layout: flopsLayout(title, width, top, 'test accuracy (%, mean ± std over seeds)'),
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
            error_y: {
              type: 'data',
              array: [100 * row.stdTest],
              visible: row.runs.length > 1,
              thickness: 2,
              width: 14,
              color,
            },
            marker: { symbol: 'line-ew-open', size: 34, color, line: { width: 3, color } },
            hovertemplate: `${row.label}<br>mean over ${row.runs.length} seed(s): %{y:.2f}% ± ${(100 * row.stdTest).toFixed(2)}<extra></extra>`,
          },
        ];
      }),
      legendKey('one seed', { size: 9, color: '#555', opacity: 0.75 }),
      legendKey('mean ± std over seeds', {
        symbol: 'line-ew-open',
        size: 20,
        color: '#555',
        line: { width: 3, color: '#555' },
      }),
    ],
    layout: {
      ...title,
      width: Math.min(850, Math.max(700, 160 + 140 * rows.length)),
      height: top + 440,
      margin: { t: top, l: 70, r: 20, b: 90 },
      xaxis: {
        tickvals: rows.map((_, i) => i),
        ticktext: rows.map((r) => wrapLabel(r.label, 16)),
        range: [-0.5, rows.length - 0.5],
        zeroline: false,
        showgrid: false,
      },
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

/** The layout of a figure of test accuracy against FLOPs, `width` pixels wide with a title and legend on top. */
const flopsLayout = (title: Record<string, unknown>, width: number, top: number, yTitle: string) => ({
  ...title,
  width,
  height: top + 420,
  margin: { t: top, l: 70, r: 20 },
  xaxis: { title: { text: 'FLOPs (millions, official count)' } },
  yaxis: { title: { text: yTitle }, ticksuffix: '%' },
  legend: LEGEND_ON_TOP,
});

/** One trained model of a recorded table, for modelsFlopsFigure. */
export interface TrainedModel {
  kind: ModelKind;
  /** Where it comes from, e.g. 'Table 1: (1, 2), seed 3'. */
  label: string;
  flops: number;
  params: number;
  testAccuracy: number;
}

const KINDS: Record<ModelKind, { name: string; color: string }> = {
  designed: { name: 'transformer, fixed design (DeiT and the ablations)', color: PALETTE[0] },
  searched: { name: 'transformer, found by a search', color: PALETTE[2] },
  resnet: { name: 'ResNet-proxy', color: PALETTE[3] },
};

/**
 * The paper's Figure 1 at proxy scale: test accuracy against FLOPs of every model trained, one colour per kind of
 * model (fixed transformer designs, searched ones, the ResNet), each model a dot named on hover.
 */
export function modelsFlopsFigure(models: TrainedModel[], options: { title?: string } = {}): PlotlyFigure {
  const kinds = (Object.keys(KINDS) as ModelKind[]).filter((k) => models.some((m) => m.kind === k));
  const width = 850;
  const { layout: title, top } = titled(
    options.title,
    legendRows(
      kinds.map((k) => KINDS[k].name),
      width,
    ),
  );
  return {
    data: kinds.map((kind) => {
      const of = models.filter((m) => m.kind === kind);
      return {
        type: 'scatter',
        mode: 'markers',
        name: KINDS[kind].name,
        x: of.map((m) => m.flops / 1e6),
        y: of.map((m) => 100 * m.testAccuracy),
        text: of.map((m) => `${m.label}<br>${(m.params / 1e6).toFixed(3)}M params`),
        marker: { size: 9, color: KINDS[kind].color, opacity: 0.8, line: { width: 1, color: '#333' } },
        hovertemplate: '%{text}<br>%{x:.2f}M FLOPs: %{y:.1f}%<extra></extra>',
      };
    }),
    layout: flopsLayout(title, width, top, 'test accuracy (%)'),
  };
}
