// Showing figures, tables and text from a tslab notebook so that they render both in JupyterLab and in an HTML export
// (`jupyter nbconvert --to html`), offline.
//
// Jupyter's way to offer rich output with a fallback is one display_data message holding several MIME types; each
// frontend renders the richest one it can. tslab's public API (tslab.display.raw) sends one MIME type per message, so
// show() hands the whole bundle to the function display.raw itself calls (tslab's internal writer; tslab is pinned).
//
// A figure's bundle:
//   application/vnd.plotly.v1+json  JupyterLab with the plotly extension (Python package `plotly`): drawn by the extension
//   text/html                       everything else (JupyterLab without the extension, nbconvert's HTML): a div and a
//                                   script calling Plotly.newPlot; plotly.js comes from node_modules, inlined into the
//                                   first figure of each kernel session (4.8 MB, no CDN); later figures reuse window.Plotly
//   text/plain                      a one-line summary for text-only frontends
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ColumnTable } from 'arquero';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** MIME type -> content: strings for text types, plain objects for JSON types. */
export type MimeBundle = Record<string, string | object>;

/** A plotly.js figure as plain JSON: what Plotly.newPlot takes and what the plotly MIME renderer reads. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** What a figure's placeholder says until its script runs (JupyterLab runs scripts only in trusted outputs). */
const NOT_RUN = '[plotly figure: its script has not run here; in JupyterLab rerun the cell, or trust the notebook]';
const NO_PLOTLY = '[plotly figure: plotly.js is not loaded on this page; run the notebook from the top to show it]';

/**
 * The MIME bundle for a figure. With inlinePlotly the HTML carries plotly.js itself (guarded, so a page that already
 * has it does not load it twice); without it the HTML relies on an earlier output having loaded it, and says so in
 * place of the plot when none did.
 */
export function figureBundle(figure: PlotlyFigure, options: { inlinePlotly: boolean }): MimeBundle {
  const id = `glit-plot-${randomUUID()}`;
  const library = options.inlinePlotly ? `<script>if (!window.Plotly) {\n${plotlyScript()}\n}</script>\n` : '';
  const html =
    `${library}<div id="${id}" class="glit-plotly">${NOT_RUN}</div>\n<script>(function () {\n` +
    `  var el = document.getElementById(${scriptJson(id)});\n` +
    `  if (!window.Plotly) { el.textContent = ${scriptJson(NO_PLOTLY)}; return; }\n` +
    `  el.textContent = '';\n` +
    `  var fig = ${scriptJson(figure)};\n` +
    `  window.Plotly.newPlot(el, fig.data, fig.layout || {}, fig.config || {});\n` +
    `})();</script>`;
  return { [PLOTLY_MIME]: figure, 'text/html': html, 'text/plain': describeFigure(figure) };
}

export interface TableOptions {
  /** Rows shown (default 100); a note says how many were left out. */
  limit?: number;
  /** Fractional digits shown for numbers (default 4). */
  maxdigits?: number;
}

/** The MIME bundle for an arquero table: HTML for notebooks and HTML exports, markdown and text for the rest. */
export function tableBundle(table: ColumnTable, options: TableOptions = {}): MimeBundle {
  const format = { limit: options.limit ?? 100, maxdigits: options.maxdigits ?? 4 };
  const more = table.numRows() > format.limit ? `(${format.limit} of ${table.numRows()} rows)` : '';
  const markdown = table.toMarkdown(format) + (more ? `\n${more}\n` : '');
  return {
    'text/html': table.toHTML(format) + (more ? `<p>${more}</p>` : ''),
    'text/markdown': markdown,
    'text/plain': markdown,
  };
}

let plotlyShown = false;

/** Shows a plotly figure in the notebook (see the top of this file for how it renders where). */
export function showFigure(figure: PlotlyFigure): void {
  show(figureBundle(figure, { inlinePlotly: !plotlyShown }));
  plotlyShown = true;
}

/** Shows an arquero table. */
export function showTable(table: ColumnTable, options: TableOptions = {}): void {
  show(tableBundle(table, options));
}

/** Shows markdown text (rendered as such in JupyterLab and in the HTML export). */
export function showMarkdown(markdown: string): void {
  show({ 'text/markdown': markdown, 'text/plain': markdown });
}

type DisplayWriter = (content: { data: MimeBundle; metadata: object; transient: object }, update: boolean) => void;

/**
 * Sends one display_data message carrying every MIME type of the bundle. Works only inside a tslab kernel whose tslab
 * is this repository's node_modules/tslab (jupyter/kernels/tslab starts that one; a global tslab hands over to it too).
 */
export function show(bundle: MimeBundle): void {
  // Loaded here, not at the top: outside a kernel (tests, CLI) nothing should pull in tslab and its zeromq binding.
  const { lastWriteDisplayData } = require('tslab/dist/jupyter') as { lastWriteDisplayData?: DisplayWriter | null };
  if (typeof lastWriteDisplayData !== 'function') {
    throw new Error(
      'show() works only in a notebook cell run by the tslab kernel of this repository (tslab 1.0.22: start Jupyter with ' +
        'JUPYTER_PATH=<repo>/jupyter and pick "TypeScript (tslab, this repo)")',
    );
  }
  lastWriteDisplayData({ data: bundle, metadata: {}, transient: {} }, false);
}

let plotlySource: string | undefined;

/** plotly.min.js from node_modules, made safe to inline in a <script> element. */
function plotlyScript(): string {
  plotlySource ??= readFileSync(require.resolve('plotly.js-dist-min'), 'utf8').replace(/<(\/script|!--)/gi, '\\x3C$1');
  return plotlySource;
}

/** JSON that can sit inside a <script> element: no `</script>` or `<!--` can appear in it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function describeFigure(figure: PlotlyFigure): string {
  const layoutTitle = figure.layout?.title;
  const title =
    typeof layoutTitle === 'object' && layoutTitle !== null ? (layoutTitle as { text?: string }).text : undefined;
  const types = figure.data.map((t) => String(t.type ?? 'scatter'));
  return `<plotly figure${title ? ` '${title}'` : ''}: ${types.length} trace(s) (${[...new Set(types)].join(', ')})>`;
}
