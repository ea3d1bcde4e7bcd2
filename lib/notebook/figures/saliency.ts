// Where models look (the paper's Figure 6 at proxy scale): one row per test image, the image itself, then each model's
// patch-grid saliency map (lib/model/saliency.ts) laid over it, captioned with the model's prediction and whether it
// is right.
import type { PlotlyFigure } from '../display';
import type { ImageSet } from '../../data/datasets';
import { imagePixels } from './images';
import { axisLayoutName, axisName } from './layout';

/** One model's maps of the figure's images, in the figure's order. */
export interface ModelSaliency {
  name: string;
  /** Per image, grid * grid values in [0, 1], row-major (lib/model/saliency.ts's maps). */
  maps: ArrayLike<number>[];
  predicted: number[];
}

/** Transparent at 0, so the image shows through where the model does not look; opaque red at the map's peak. */
const OVERLAY = [
  [0, 'rgba(255, 230, 0, 0)'],
  [0.4, 'rgba(255, 150, 0, 0.45)'],
  [1, 'rgba(215, 25, 28, 0.85)'],
];
const PANEL = 150;
const [RIGHT, WRONG] = ['#1a9850', '#d73027'];

/** Images `indices` of `set`, each beside every model's map over it; `classes` names the labels. */
export function saliencyGridFigure(
  set: ImageSet,
  indices: number[],
  classes: string[],
  models: ModelSaliency[],
  options: { title?: string } = {},
): PlotlyFigure {
  for (const m of models) {
    if (m.maps.length !== indices.length || m.predicted.length !== indices.length)
      throw new Error(`saliencyGridFigure: ${m.name} has ${m.maps.length} maps for ${indices.length} images`);
  }
  const columns = 1 + models.length;
  const { height: h, width: w } = set;
  const top = options.title ? 80 : 40;
  const layout: Record<string, unknown> = {
    grid: { rows: indices.length, columns, pattern: 'independent', xgap: 0.06, ygap: 0.2 },
    width: 110 + columns * (PANEL + 20) + 80,
    height: top + indices.length * (PANEL + 34),
    margin: { l: 110, r: 80, t: top, b: 10 },
    showlegend: false,
    ...(options.title ? { title: { text: options.title, x: 0, xanchor: 'left' } } : {}),
  };
  const data: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const label = (text: string, panel: number, at: 'above' | 'below' | 'left', color?: string) =>
    annotations.push({
      text,
      xref: `${axisName('x', panel)} domain`,
      yref: `${axisName('y', panel)} domain`,
      x: at === 'left' ? 0 : 0.5,
      y: at === 'above' ? 1 : at === 'below' ? 0 : 0.5,
      xanchor: at === 'left' ? 'right' : 'center',
      yanchor: at === 'above' ? 'bottom' : at === 'below' ? 'top' : 'middle',
      xshift: at === 'left' ? -8 : 0,
      yshift: at === 'above' ? 4 : at === 'below' ? -2 : 0,
      showarrow: false,
      ...(color ? { font: { color } } : {}),
    });

  indices.forEach((index, row) => {
    const z = imagePixels(set, index);
    const truth = set.labels[index];
    for (let column = 0; column < columns; column++) {
      const panel = row * columns + column;
      const [xaxis, yaxis] = [axisName('x', panel), axisName('y', panel)];
      data.push({ type: 'image', z, colormodel: 'rgb', xaxis, yaxis, hoverinfo: 'skip' });
      if (column > 0) {
        const model = models[column - 1];
        const map = Array.from(model.maps[row]);
        const grid = Math.round(Math.sqrt(map.length));
        if (grid * grid !== map.length || w % grid !== 0)
          throw new Error(`saliencyGridFigure: a map of ${map.length} values is no square grid over ${w}x${h} pixels`);
        const patch = w / grid;
        data.push({
          type: 'heatmap',
          z: Array.from({ length: grid }, (_, r) => map.slice(r * grid, (r + 1) * grid)),
          x0: (patch - 1) / 2,
          dx: patch,
          y0: (patch - 1) / 2,
          dy: patch,
          zmin: 0,
          zmax: 1,
          colorscale: OVERLAY,
          showscale: panel === columns - 1,
          colorbar: { title: { text: 'saliency' }, len: 0.5, y: 1, yanchor: 'top', thickness: 12 },
          xaxis,
          yaxis,
          hovertemplate: `${model.name}: patch (%{y}, %{x}) px, saliency %{z:.2f}<extra></extra>`,
        });
        const guess = model.predicted[row];
        const right = guess === truth;
        label(`${classes[guess] ?? guess} ${right ? '✓' : '✗'}`, panel, 'below', right ? RIGHT : WRONG);
      }
      if (row === 0) label(column === 0 ? 'image' : models[column - 1].name, panel, 'above');
      if (column === 0) label(classes[truth] ?? String(truth), panel, 'left');
      const hidden = { showgrid: false, zeroline: false, showticklabels: false, ticks: '' };
      layout[axisLayoutName('x', panel)] = { ...hidden, range: [-0.5, w - 0.5], constrain: 'domain' };
      layout[axisLayoutName('y', panel)] = {
        ...hidden,
        range: [h - 0.5, -0.5],
        scaleanchor: xaxis,
        constrain: 'domain',
      };
    }
  });
  layout.annotations = annotations;
  return { data, layout };
}
