// What the figures of lib/notebook/figures/ share: the colour sequence, subplot axis names, titles, legends and
// vertical markers.

/** plotly's default colour sequence, so that a series keeps its colour across panels and figures. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** The trace-side axis name of subplot i ('x', 'x2', ...) and its layout key ('xaxis', 'xaxis2', ...). */
export const axisName = (axis: 'x' | 'y', i: number): string => (i === 0 ? axis : `${axis}${i + 1}`);
export const axisLayoutName = (axis: 'x' | 'y', i: number): string => (i === 0 ? `${axis}axis` : `${axis}axis${i + 1}`);

/** The layout's title (top left, clear of the modebar) and a top margin with room for `legendRows` rows of legend. */
export function titled(
  title: string | undefined,
  legendRows: number,
): { layout: Record<string, unknown>; top: number } {
  return {
    layout: title ? { title: { text: title, x: 0, xanchor: 'left', y: 0.985, yanchor: 'top' } } : {},
    top: (title ? 45 : 10) + 24 * legendRows,
  };
}

/** A horizontal legend above the plot area. */
export const LEGEND_ON_TOP = { orientation: 'h', x: 0, y: 1, yanchor: 'bottom' };

/** A vertical line across a figure (a budget, a baseline's FLOPs), named in the legend. */
export interface VerticalMarker {
  x: number;
  label: string;
  color: string;
  dash?: 'solid' | 'dash' | 'dot';
}

export const markerShape = (m: VerticalMarker) => ({
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
