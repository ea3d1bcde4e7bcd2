// Figures render in an HTML export: 00_setup runs at smoke scale, nbconvert exports it to HTML, headless Chromium
// (offline) loads it and runs its scripts, and every plotly output must have become a drawn plot (plotly's SVG with a
// trace in it), not an empty placeholder. A screenshot stays in test-artifacts/render/ for people to look at.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PLOTLY_MIME, figureBundle, type PlotlyFigure } from '../lib/notebook/display';
import { NOTEBOOK_DIR, ROOT, executeNotebook, exportHtml, jupyterMissing } from '../scripts/run-notebooks';

const OUT = path.join(ROOT, 'test-artifacts', 'render');
const CHROMIUM = process.env.CHROMIUM ?? 'chromium';

interface RenderedFigure {
  id: string;
  /** Plotly drew it: its SVG is there with at least one trace layer that has content. */
  drawn: boolean;
  /** The text in the figure's placeholder (when not drawn: why, as lib/notebook/display.ts says it). */
  text: string;
}

/** Loads `page` in headless Chromium, lets its scripts run, and returns the DOM as it then is (and a screenshot). */
function renderPage(page: string, screenshot?: string): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox', // needed as root; the page is our own file
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    '--virtual-time-budget=3000', // lets timers and promises after the load event settle before the dump
    '--window-size=1100,4000',
    ...(screenshot ? [`--screenshot=${screenshot}`] : []),
    '--dump-dom',
    page.startsWith('http') ? page : `file://${page}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { maxBuffer: 256 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (error) reject(new Error(`${CHROMIUM} failed (${error.code ?? error.signal}): ${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

/** The figures lib/notebook/display.ts put on the page, found by their placeholder divs, and whether plotly drew each. */
function renderedFigures(dom: string): RenderedFigure[] {
  // Script text (plotly.js itself) mentions the same class names as a drawn plot: look at elements only.
  const html = dom.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '');
  return html
    .split(/(?=<div id="glit-plot-)/)
    .slice(1)
    .map((part) => ({
      id: /^<div id="([^"]+)"/.exec(part)![1],
      drawn: part.includes('class="main-svg"') && /<g class="\w+layer mlayer"><g\b/.test(part),
      text: part
        .slice(0, part.indexOf('</div>'))
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    }));
}

async function chromiumMissing(): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile(CHROMIUM, ['--version'], { timeout: 60_000 }, (error) =>
      resolve(
        error
          ? `${CHROMIUM} does not run (${error.message.split('\n')[0]}): install Chromium (Debian: apt-get install chromium) or set CHROMIUM`
          : undefined,
      ),
    ),
  );
}

test(
  'the figures of 00_setup render in its HTML export (headless Chromium, offline)',
  { timeout: 10 * 60_000 },
  async (t) => {
    const missing = (await jupyterMissing()) ?? (await chromiumMissing());
    if (missing) return t.skip(missing);
    const executed = await executeNotebook(path.join(NOTEBOOK_DIR, '00_setup.ipynb'), OUT, {
      env: { GLIT_SCALE: 'smoke' },
      cellTimeoutS: 120,
    });
    const outputs = JSON.parse(fs.readFileSync(executed, 'utf8')).cells.flatMap(
      (c: { outputs?: { data?: object }[] }) => c.outputs ?? [],
    );
    const plotlyOutputs = outputs.filter((o: { data?: object }) => o.data && PLOTLY_MIME in o.data).length;
    assert.ok(plotlyOutputs >= 2, `expected 00_setup to show at least 2 plotly figures, found ${plotlyOutputs}`);

    const screenshot = path.join(OUT, '00_setup.png');
    const html = await exportHtml(executed, OUT);
    assert.match(fs.readFileSync(html, 'utf8'), /In&nbsp;\[1\]:/, 'the export should show execution counts');
    const figures = renderedFigures(await renderPage(html, screenshot));
    assert.equal(figures.length, plotlyOutputs, 'every plotly output should have its placeholder in the HTML export');
    for (const f of figures) assert.ok(f.drawn, `figure ${f.id} was not drawn; it shows: '${f.text}'`);
    assert.ok(fs.statSync(screenshot).size > 10_000, `${screenshot} looks empty`);
  },
);

test(
  'a figure draws on its own: on a notebook page it loads plotly.js once, elsewhere it says why not',
  {
    timeout: 5 * 60_000,
  },
  async (t) => {
    const missing = await chromiumMissing();
    if (missing) return t.skip(missing);
    const figure: PlotlyFigure = {
      data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }],
      layout: { title: { text: '</script> in a title' } },
    };
    // As the classic Notebook serves it: the notebook at notebooks/x.ipynb, files under /files/, plotly.js from
    // node_modules relative to the notebook's folder. Two figures, one request for plotly.js.
    const html = () =>
      figureBundle(figure, { plotlyPath: '../node_modules/plotly.js-dist-min/plotly.min.js' })['text/html'] as string;
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url!);
      if (req.url === '/') {
        res.setHeader('content-type', 'text/html');
        res.end(
          `<!DOCTYPE html><html><body data-base-url="/" data-notebook-path="notebooks/x.ipynb">${html()}${html()}</body></html>`,
        );
      } else if (req.url!.startsWith('/files/')) {
        fs.createReadStream(path.join(ROOT, decodeURIComponent(req.url!.slice('/files/'.length))))
          .on('error', () => res.writeHead(404).end())
          .pipe(res);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-render-'));
    try {
      const { port } = server.address() as { port: number };
      const served = renderedFigures(await renderPage(`http://127.0.0.1:${port}/`));
      assert.equal(served.length, 2);
      for (const f of served) assert.ok(f.drawn, `a figure on a notebook page was not drawn; it shows: '${f.text}'`);
      assert.deepEqual(
        requests.filter((r) => r !== '/' && !r.endsWith('favicon.ico')),
        ['/files/node_modules/plotly.js-dist-min/plotly.min.js'],
      );
      // A page that is no notebook page and has no plotly.js (a plain nbconvert export): not drawn, and says why.
      const page = path.join(dir, 'page.html');
      fs.writeFileSync(page, `<!DOCTYPE html><html><body>${html()}</body></html>`);
      const [alone] = renderedFigures(await renderPage(page));
      assert.equal(alone.drawn, false, 'a figure without plotly.js cannot have been drawn');
      assert.match(alone.text, /this page has no plotly\.js/);
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
