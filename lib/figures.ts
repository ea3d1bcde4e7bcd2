// Plotly figures of the data, built as plain JSON (never plotly.js itself, which does not load in Node); lib/display.ts
// shows them in notebooks. Pixels go in as numbers, so the figures need no image encoder and hover shows the values.
import type { PlotlyFigure } from './display';
import { labelCounts, type ImageSet } from './data';

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
