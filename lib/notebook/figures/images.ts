// Figures of images: sample images of a dataset by class, and heatmaps of per-patch values over the patch grid.
// Pixels go in as numbers, so the figures need no image encoder and hover shows the values.
import type { PlotlyFigure } from '../display';
import { labelCounts, type ImageSet } from '../../data/datasets';
import { axisLayoutName, axisName } from './layout';

/** Gap between tiles, in image pixels; it shows the page background. */
const GAP = 2;

/**
 * A grid of sample images: one row per class with its first `perClass` images (default 8) and the class name on the
 * left, for at most `maxClasses` classes (default 10). Grey and RGB images.
 */
export function classSamplesFigure(
  set: ImageSet,
  classes: string[],
  options: { perClass?: number; maxClasses?: number; title?: string } = {},
): PlotlyFigure {
  const perClass = options.perClass ?? 8;
  const rows = classes
    .slice(0, options.maxClasses ?? 10)
    .map((name, label) => ({ name, indices: firstWithLabel(set, label, perClass) }));
  const { height: h, width: w } = set;
  const mosaicHeight = rows.length * (h + GAP) - GAP;
  const mosaicWidth = perClass * (w + GAP) - GAP;
  const z: number[][][] = Array.from({ length: mosaicHeight }, () =>
    Array.from({ length: mosaicWidth }, () => [255, 255, 255]),
  );
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
export function classCountsFigure(
  splits: { name: string; set: ImageSet }[],
  classes: string[],
  title = 'Images per class',
): PlotlyFigure {
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

/** Copies image `index` into the mosaic with its top-left corner at (top, left). */
function drawTile(z: number[][][], set: ImageSet, index: number, top: number, left: number): void {
  imagePixels(set, index).forEach((row, y) => row.forEach((pixel, x) => (z[top + y][left + x] = pixel)));
}

/** Image `index` of the set as rows of [r, g, b] pixels (grey as r = g = b): an image trace's z. */
export function imagePixels(set: ImageSet, index: number): number[][][] {
  const { height: h, width: w, channels: c } = set;
  if (c !== 1 && c !== 3)
    throw new Error(`image grids show grey (1 channel) or RGB (3 channels) images, not ${c} channels`);
  const base = index * h * w * c;
  return Array.from({ length: h }, (_, y) =>
    Array.from({ length: w }, (_, x) => {
      const p = base + (y * w + x) * c;
      return c === 1
        ? [set.images[p], set.images[p], set.images[p]]
        : [set.images[p], set.images[p + 1], set.images[p + 2]];
    }),
  );
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
export function patchGridsFigure(
  panels: PatchGridPanel[],
  options: { title?: string; columns?: number; valueName?: string } = {},
): PlotlyFigure {
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
      colorscale: [
        [0, '#e8e8e8'],
        [1e-6, '#c6dbef'],
        [1, '#08519c'],
      ],
      showscale: false,
      xgap: 1,
      ygap: 1,
      hovertemplate: `row %{y}, col %{x}: ${valueName} %{z}<extra></extra>`,
    });
    if (panel.mark) {
      const [row, col] = panel.mark;
      data.push({
        type: 'scatter',
        mode: 'markers',
        x: [col],
        y: [row],
        xaxis,
        yaxis,
        marker: { symbol: 'x-thin-open', size: 9, color: '#d62728', line: { width: 2.5, color: '#d62728' } },
        hoverinfo: 'skip',
      });
    }
    const size = panel.values.length;
    layout[axisLayoutName('x', i)] = {
      range: [-0.5, size - 0.5],
      showgrid: false,
      zeroline: false,
      showticklabels: false,
      ticks: '',
      constrain: 'domain',
    };
    layout[axisLayoutName('y', i)] = {
      range: [size - 0.5, -0.5],
      showgrid: false,
      zeroline: false,
      showticklabels: false,
      ticks: '',
      scaleanchor: xaxis,
      constrain: 'domain',
    };
  });
  return { data, layout };
}
