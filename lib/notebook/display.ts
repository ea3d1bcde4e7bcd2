// Showing figures, tables and text from a tslab notebook so that they render both in JupyterLab and in an HTML export
// (`jupyter nbconvert --to html`), offline.
//
// Jupyter's way to offer rich output with a fallback is one display_data message holding several MIME types; each
// frontend renders the richest one it can. tslab's public API (tslab.display.raw) sends one MIME type per message, so
// show() hands the whole bundle to the function display.raw itself calls (tslab's internal writer; tslab is pinned).
//
// A figure's bundle:
//   application/vnd.plotly.v1+json  JupyterLab with the plotly extension (Python package `plotly`): drawn by the extension
//   text/html                       everything else: a div and a script that draws it with plotly.js, loading plotly.js
//                                   first when the page has none (once per page): from the page itself when the project
//                                   exported it (scripts/run-notebooks.ts embeds plotly.js once per document), else from
//                                   node_modules through the notebook server's /files/ (classic Notebook). Each output
//                                   thus draws on its own: after a reload, in a second tab, after save and reopen. No
//                                   CDN is used, and plotly.js (4.8 MB) is never inlined into an output.
//   text/plain                      a one-line summary for text-only frontends
import { randomUUID } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
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
const NO_PLOTLY =
  '[plotly figure: this page has no plotly.js and is no classic Jupyter Notebook page to load it from; export ' +
  'notebooks with `npm run notebooks -- --html`, or in JupyterLab install the plotly extension (pip install plotly)]';
const CANNOT_LOAD =
  '[plotly figure: plotly.js did not load; start Jupyter from the repository root (or a folder above it) so that ' +
  'its /files/ serve node_modules. Tried: ';

/**
 * The MIME bundle for a figure. `plotlyPath` is plotly.min.js relative to the notebook's folder (default: from the
 * kernel's working folder, which Jupyter sets to the notebook's), used when the page has no plotly.js yet.
 */
export function figureBundle(figure: PlotlyFigure, options: { plotlyPath?: string } = {}): MimeBundle {
  const id = `glit-plot-${randomUUID()}`;
  const plotlyPath = options.plotlyPath ?? path.relative(process.cwd(), plotlyFile()).split(path.sep).join('/');
  // The classic Notebook's page names its base URL and the notebook's path (URL-encoded) on <body>; the file's URL
  // under /files/ is the notebook's folder joined with plotlyPath. One promise on window loads it once per page.
  const html =
    `<div id="${id}" class="glit-plotly">${NOT_RUN}</div>\n<script>(function () {\n` +
    `  var el = document.getElementById(${scriptJson(id)});\n` +
    `  var fig = ${scriptJson(figure)};\n` +
    `  function draw() { el.textContent = ''; window.Plotly.newPlot(el, fig.data, fig.layout || {}, fig.config || {}); }\n` +
    `  if (window.Plotly) return draw();\n` +
    `  var page = document.body.dataset;\n` +
    `  if (page.notebookPath === undefined) { el.textContent = ${scriptJson(NO_PLOTLY)}; return; }\n` +
    `  var parts = decodeURIComponent(page.notebookPath).split('/').slice(0, -1).concat(${scriptJson(plotlyPath)}.split('/'));\n` +
    `  var file = [];\n` +
    `  parts.forEach(function (p) { if (p === '..') file.pop(); else if (p && p !== '.') file.push(encodeURIComponent(p)); });\n` +
    `  var src = (page.baseUrl || '/').replace(/\\/?$/, '/') + 'files/' + file.join('/');\n` +
    `  window.glitPlotly = window.glitPlotly || new Promise(function (resolve, reject) {\n` +
    `    var s = document.createElement('script');\n` +
    `    s.src = src; s.onload = resolve; s.onerror = reject;\n` +
    `    document.head.appendChild(s);\n` +
    `  });\n` +
    `  window.glitPlotly.then(draw, function () { window.glitPlotly = undefined; el.textContent = ${scriptJson(CANNOT_LOAD)} + src + ']'; });\n` +
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

/** Shows a plotly figure in the notebook (see the top of this file for how it renders where). */
export function showFigure(figure: PlotlyFigure): void {
  show(figureBundle(figure));
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

/**
 * plotly.min.js in the repository's node_modules. Not require.resolve: that follows symlinks (a linked node_modules),
 * and the path must stay inside the folder the notebook server serves.
 */
function plotlyFile(): string {
  return path.resolve(realpathSync(__dirname), '..', '..', 'node_modules', 'plotly.js-dist-min', 'plotly.min.js');
}

/** A <script> element holding plotly.js, for an HTML document to embed once (its figures then find window.Plotly). */
export function plotlyScriptElement(): string {
  return `<script>\n${readFileSync(plotlyFile(), 'utf8').replace(/<(\/script|!--)/gi, '\\x3C$1')}\n</script>`;
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
