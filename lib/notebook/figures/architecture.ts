// Figures of architectures: one block by block (as the paper's Figure 5), and the head distributions of several.
import type { Architecture, BlockGene } from '../../model/arch';
import type { PlotlyFigure } from '../display';
import { LEGEND_ON_TOP, titled } from './layout';

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
  const hover = arch.blocks.map(
    (g) => `G ${g.globalHeads}, L ${heads - g.globalHeads}: ${geneLabels(g, heads).join(', ')}`,
  );
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
      bars(
        'global heads (G, attention)',
        arch.blocks.map((g) => g.globalHeads),
        GLOBAL_COLOR,
      ),
      bars(
        'local heads (L, conv)',
        arch.blocks.map((g) => heads - g.globalHeads),
        LOCAL_COLOR,
      ),
    ],
    layout: {
      ...title,
      barmode: 'stack',
      width: Math.min(850, Math.max(700, 200 + 55 * arch.blocks.length)),
      height: top + 380,
      margin: { t: top, b: 50, l: 60, r: 20 },
      yaxis: {
        title: { text: `heads (N = ${heads})` },
        range: [0, heads * 1.55],
        tickvals: Array.from({ length: heads + 1 }, (_, g) => g),
      },
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
export function distributionsFigure(
  rows: { name: string; distribution: number[] }[],
  heads: number,
  options: { title?: string } = {},
): PlotlyFigure {
  const blocks = (rows[0]?.distribution ?? []).map((_, i) => `block ${i}`);
  // A stepped colour scale over z in [-0.5, N + 0.5], one colour per G: all local orange, through pale mixes, to all
  // global blue (plotly picks a legible text colour on each cell).
  const colorOf = (g: number) =>
    2 * g < heads
      ? mixColors(LOCAL_COLOR, '#eeeeee', (2 * g) / heads)
      : mixColors('#eeeeee', GLOBAL_COLOR, (2 * g - heads) / heads);
  const colorscale = Array.from({ length: heads + 1 }, (_, g) => [
    [g / (heads + 1), colorOf(g)],
    [(g + 1) / (heads + 1), colorOf(g)],
  ]).flat();
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
        colorbar: {
          title: { text: 'G' },
          tickvals: Array.from({ length: heads + 1 }, (_, g) => g),
          len: 1,
          thickness: 15,
        },
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
  return `#${[0, 1, 2]
    .map((i) =>
      Math.round(channel(a, i) + t * (channel(b, i) - channel(a, i)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}
