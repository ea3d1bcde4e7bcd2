// Notebooks in a real front end: Debian's classic Jupyter Notebook serves a temporary copy of the repository on
// 127.0.0.1, headless Chromium (driven by puppeteer-core) works a small notebook built on lib/ as a researcher would:
// Run All, Kernel > Interrupt of a training cell (and its progress: one display), an edit of the parameters cell, an
// edit of a lib/ file imported through another, a page reload, a second tab, save and reopen, and the HTML export.
// Skipped, saying what to install, where jupyter-notebook or Chromium is missing.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { JUPYTER, ROOT, exportHtml } from '../scripts/run-notebooks';
import { writeCodeNotebook } from './helpers';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const NOTEBOOK = 'browser-test.ipynb';
const WAIT_MS = 60_000;

// The cells, in order. The training cell runs far longer than the test waits: only the interrupt ends it.
const PARAMS_CELL = `import { notebookParams } from './lib/notebook/params';
import { notebookLoggers, notebookSearch } from './lib/notebook/search-run';
const params = notebookParams({ scale: 'smoke', seed: 1, backend: 'wasm' });
const search = notebookSearch(params);
console.log('run folder: ' + search.dir.split('/').pop());`;
const FIGURE_CELL = `import { showFigure } from './lib/notebook/display';
import { lineChartFigure } from './lib/notebook/figures';
showFigure(lineChartFigure([{ name: 'a line', x: [1, 2, 3], y: [3, 1, 2] }], { xTitle: 'x', yTitle: 'y' }));`;
const TRAIN_CELL = `import { openNotebookSearch } from './lib/notebook/search-run';
import { loadArchitecture } from './lib/model/arch';
import { budgetFor } from './lib/search/pipeline';
import { stage1Space } from './lib/search/space';
import { trainSupernet } from './lib/search/stages';
const data = await openNotebookSearch(search, params);
const config = search.settings.config;
const { log, progress } = notebookLoggers(search);
const long = { ...config, supernet: { ...config.supernet, epochs: 300 } };
const space1 = stage1Space(loadArchitecture(config.baseline).model);
await trainSupernet(search.dir + '/stage1/supernet', space1, data, long, budgetFor(config), log, progress);`;
// lib/probe/ exists only in the test's copy: the cell imports outer.ts, which imports inner.ts, which the test edits.
const PROBE_CELL = `import { outerProbe } from './lib/probe/outer';
console.log('probe: ' + outerProbe());`;
const [PARAMS, FIGURE, TRAIN, PROBE] = [0, 1, 2, 3];

/** Why this test cannot run here, or undefined. */
async function frontEndMissing(): Promise<string | undefined> {
  const works = (command: string, args: string[]) =>
    new Promise<boolean>((resolve) => execFile(command, args, { timeout: 60_000 }, (error) => resolve(!error)));
  if (!(await works(JUPYTER, ['notebook', '--version'])))
    return `\`${JUPYTER} notebook\` does not run: install the classic Notebook (Debian: apt-get install --no-install-recommends jupyter-notebook; npm run setup does) or set JUPYTER`;
  if (!(await works(CHROMIUM, ['--version'])))
    return `${CHROMIUM} does not run: install Chromium (Debian: apt-get install chromium; npm run setup does) or set CHROMIUM`;
  return undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The repository as the server sees it: lib/ and the kernelspec copied, node_modules and data/ linked. */
function repoCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-browser-'));
  for (const part of ['lib', 'jupyter']) fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  for (const part of ['node_modules', 'data']) fs.symlinkSync(path.join(ROOT, part), path.join(dir, part));
  fs.mkdirSync(path.join(dir, 'lib', 'probe'));
  fs.writeFileSync(path.join(dir, 'lib', 'probe', 'inner.ts'), "export const probe = () => 'before';\n");
  fs.writeFileSync(
    path.join(dir, 'lib', 'probe', 'outer.ts'),
    "import { probe } from './inner';\nexport const outerProbe = () => probe();\n",
  );
  fs.mkdirSync(path.join(dir, 'notebooks'));
  fs.symlinkSync('../lib', path.join(dir, 'notebooks', 'lib'));
  writeCodeNotebook(path.join(dir, 'notebooks', NOTEBOOK), [PARAMS_CELL, FIGURE_CELL, TRAIN_CELL, PROBE_CELL]);
  return dir;
}

/** The server's log (the kernel's own stderr included), its last 20,000 characters. */
let serverLog = '';

async function startServer(dir: string, port: number, token: string): Promise<ChildProcess> {
  const jupyterDirs = path.join(dir, '.jupyter-state'); // config, signatures and runtime files of this server only
  const server = spawn(
    JUPYTER,
    ['notebook', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, `--NotebookApp.token=${token}`, '--allow-root'],
    {
      cwd: dir,
      env: {
        ...process.env,
        JUPYTER_PATH: path.join(dir, 'jupyter'),
        JUPYTER_CONFIG_DIR: path.join(jupyterDirs, 'config'),
        JUPYTER_DATA_DIR: path.join(jupyterDirs, 'data'),
        JUPYTER_RUNTIME_DIR: path.join(jupyterDirs, 'runtime'),
        PYDEVD_DISABLE_FILE_VALIDATION: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  serverLog = '';
  server.stderr!.on('data', (chunk) => (serverLog = (serverLog + chunk).slice(-20_000)));
  const until = Date.now() + WAIT_MS;
  while (Date.now() < until) {
    if (server.exitCode !== null) throw new Error(`jupyter notebook exited (${server.exitCode}):\n${serverLog}`);
    const up = await fetch(`http://127.0.0.1:${port}/api/status?token=${token}`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return server;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  server.kill();
  throw new Error(`jupyter notebook did not answer on port ${port} within ${WAIT_MS / 1000} s:\n${serverLog}`);
}

// What runs in the page, against the classic Notebook's own API (window.Jupyter).
interface JupyterPage {
  Jupyter: {
    notebook: {
      kernel?: { is_connected(): boolean };
      dirty: boolean;
      get_cell(i: number): {
        element: { [0]: HTMLElement };
        output_area: {
          outputs: { output_type: string; name?: string; text?: string; data?: Record<string, string> }[];
        };
        set_text(text: string): void;
        execute(): void;
      };
      get_cells(): { element: { [0]: HTMLElement } }[];
    };
  };
}

/** Opens the test notebook and waits until its kernel is connected and idle. */
async function openNotebook(page: Page, base: string): Promise<void> {
  if (page.listenerCount('dialog') === 0) page.on('dialog', (dialog) => void dialog.accept()); // "leave this page?"
  await page.goto(`${base}/notebooks/notebooks/${NOTEBOOK}`, { waitUntil: 'load' });
  await page.waitForFunction(() => (window as unknown as JupyterPage).Jupyter?.notebook?.kernel?.is_connected(), {
    timeout: WAIT_MS,
  });
  await idle(page);
}

/** Waits until no cell runs or waits to run, and the kernel says it is idle. */
async function idle(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      document.querySelector('#kernel_indicator_icon')?.classList.contains('kernel_idle_icon') &&
      (window as unknown as JupyterPage).Jupyter.notebook
        .get_cells()
        .every((c) => !c.element[0].querySelector('.input_prompt')!.textContent!.includes('*')),
    { timeout: WAIT_MS, polling: 100 },
  );
}

async function runCell(page: Page, index: number): Promise<void> {
  await page.evaluate((i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).execute(), index);
  await page.waitForFunction(
    (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).output_area.outputs.length > 0,
    { timeout: WAIT_MS },
    index,
  );
  await idle(page);
}

/** Waits until `shows` holds for the cell, else fails with `what` and what the cell shows instead. */
async function cellShows(page: Page, cell: number, what: string, shows: (i: number) => boolean): Promise<void> {
  try {
    await page.waitForFunction(shows, { timeout: WAIT_MS, polling: 50 }, cell);
  } catch {
    const text = await page.evaluate(
      (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).element[0].innerText,
      cell,
    );
    assert.fail(`${what} within ${WAIT_MS / 1000} s; the cell shows: ${text.slice(-600)}`);
  }
}

/**
 * Waits until plotly has drawn a plot with a trace in it in the cell's output. A minute: on a 2-core machine busy with
 * training, a reopened page once had drawn its axes but no trace after 20 s (and drew it in 1 s when rerun idle).
 */
async function figureDrawn(page: Page, cell: number, what: string): Promise<void> {
  // A page still loading has no cells yet: the check must not throw then (a throw ends the polling for good).
  await cellShows(page, cell, `${what}: the figure was not drawn`, (i) =>
    Boolean(
      (window as unknown as Partial<JupyterPage>).Jupyter?.notebook
        ?.get_cell(i)
        ?.element[0].querySelector('.js-plotly-plot .plot-container .main-svg .scatterlayer .trace'),
    ),
  );
}

/** Clicks a menu item by its element id, as a person would after opening the menu. */
async function menu(page: Page, id: string): Promise<void> {
  await page.evaluate((i) => document.querySelector<HTMLElement>(`#${i} > a`)!.click(), id);
}

test('a notebook in the classic Jupyter Notebook, driven in headless Chromium', { timeout: 5 * 60_000 }, async (t) => {
  const missing = await frontEndMissing();
  if (missing) return t.skip(missing);
  const dir = repoCopy();
  const token = randomBytes(12).toString('hex');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  try {
    server = await startServer(dir, port, token);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    // What the pages' scripts threw or logged as errors, for a failed step's diagnostics (a figure half drawn).
    const pageErrors: string[] = [];
    const newPage = async () => {
      const p = await browser!.newPage();
      p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${(e as Error).message}`));
      p.on('console', (m) => m.type() === 'error' && pageErrors.push(`${p.url()}: console: ${m.text()}`));
      return p;
    };
    const page = await newPage();
    await page.goto(`${base}/tree?token=${token}`); // the token becomes a login cookie for every later page
    await openNotebook(page, base);
    // Each step builds on the one before: after a failure the rest are skipped, not failed again by waiting.
    let failed = false;
    const step = (name: string, body: () => Promise<void>) =>
      t.test(name, { skip: failed && 'an earlier step failed' }, () =>
        body().catch(async (e: unknown) => {
          failed = true;
          // What the notebook showed when the step failed.
          const cells = await page.evaluate(() =>
            (window as unknown as JupyterPage).Jupyter.notebook.get_cells().map((c) => c.element[0].innerText),
          );
          t.diagnostic(`${name} failed; the notebook shows:\n${cells.join('\n----\n').slice(-3000)}`);
          t.diagnostic(`the server's log ends:\n${serverLog.slice(-3000)}`);
          t.diagnostic(`the pages' errors: ${pageErrors.length ? pageErrors.join('\n').slice(-3000) : 'none'}`);
          throw e;
        }),
      );

    await step('Run All draws the figure; Kernel > Interrupt stops training within 2 s', async () => {
      await menu(page, 'run_all_cells');
      await figureDrawn(page, FIGURE, 'Run All'); // the first import compiles lib/
      // Interrupted once the second epoch began: well into training, after the progress of one epoch gave way to the
      // next. Any epoch from the second on: a smoke epoch can pass between two looks at the page (CI once missed it).
      await cellShows(page, TRAIN, 'Run All: the training cell did not reach its second epoch', (i) =>
        (window as unknown as JupyterPage).Jupyter.notebook
          .get_cell(i)
          .output_area.outputs.some(
            (o) => o.output_type === 'display_data' && /epoch ([2-9]|\d\d+)\/\d+:/.test(o.data?.['text/plain'] ?? ''),
          ),
      );
      const progressNow = () =>
        page.evaluate(
          (i) =>
            (window as unknown as JupyterPage).Jupyter.notebook
              .get_cell(i)
              .output_area.outputs.filter((o) => o.output_type === 'display_data')
              .map((o) => o.data?.['text/plain'])
              .join('\n'),
          TRAIN,
        );
      t.diagnostic(`Kernel > Interrupt at: ${await progressNow()}`);
      const started = Date.now();
      await menu(page, 'int_kernel');
      await page.waitForFunction(
        (i) =>
          !(window as unknown as JupyterPage).Jupyter.notebook
            .get_cell(i)
            .element[0].querySelector('.input_prompt')!
            .textContent!.includes('*'),
        { timeout: WAIT_MS, polling: 50 },
        TRAIN,
      );
      const seconds = (Date.now() - started) / 1000;
      await idle(page); // the cells queued behind it are dropped
      t.diagnostic(`Kernel > Interrupt to idle: ${seconds.toFixed(2)} s`);
      assert.ok(seconds < 2.5, `the training cell stopped ${seconds.toFixed(1)} s after Kernel > Interrupt`);
      const text = await page.evaluate(
        (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).element[0].innerText,
        TRAIN,
      );
      assert.match(
        text,
        /Interrupted/,
        `the training cell should end with the interrupt; it shows: ${text.slice(-600)}`,
      );
      // The cell ends at once (tslab stops waiting for it); the training itself must stop too, at its next step.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const stopped = await progressNow();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal(await progressNow(), stopped, 'training went on after the interrupt');
    });

    await step('progress is one display updated in place, not stderr lines', async () => {
      const outputs = await page.evaluate(
        (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).output_area.outputs,
        TRAIN,
      );
      const displays = outputs.filter((o) => o.output_type === 'display_data');
      assert.equal(displays.length, 1, `one progress display expected, found ${JSON.stringify(displays)}`);
      const progressLines = outputs.filter((o) => o.output_type === 'stream' && /\d+\/\d+ \(/.test(o.text ?? ''));
      assert.deepEqual(progressLines, [], 'progress went to the stream outputs');
    });

    await step('an edit of the parameters cell takes effect when it is rerun', async () => {
      await page.evaluate(
        (i, source) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).set_text(source),
        PARAMS,
        PARAMS_CELL.replace('seed: 1', 'seed: 2'),
      );
      await runCell(page, PARAMS);
      const text = await page.evaluate(
        (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).element[0].innerText,
        PARAMS,
      );
      assert.match(text, /run folder: search-smoke-seed2-/);
    });

    await step('an edit of a file imported through another reaches the cell when it is rerun', async () => {
      const shown = async () => {
        await runCell(page, PROBE);
        return page.evaluate(
          (i) => (window as unknown as JupyterPage).Jupyter.notebook.get_cell(i).element[0].innerText,
          PROBE,
        );
      };
      assert.match(await shown(), /probe: before/);
      fs.writeFileSync(path.join(dir, 'lib', 'probe', 'inner.ts'), "export const probe = () => 'after';\n");
      await new Promise((resolve) => setTimeout(resolve, 3000)); // tslab polls lib/ files for changes
      assert.match(await shown(), /probe: after/);
    });

    await step('after a reload, rerunning the figure cell draws it', async () => {
      await openNotebook(page, base); // the same address again: a reload
      await runCell(page, FIGURE);
      await figureDrawn(page, FIGURE, 'after a reload');
    });

    const second = await newPage();
    await step('in a second tab, the figure cell draws it', async () => {
      await openNotebook(second, base);
      await runCell(second, FIGURE);
      await figureDrawn(second, FIGURE, 'in a second tab');
    });

    const saved = path.join(dir, 'notebooks', NOTEBOOK);
    await step('saved and reopened, the figure shows without a rerun', async () => {
      await menu(second, 'save_checkpoint');
      await second.waitForFunction(() => !(window as unknown as JupyterPage).Jupyter.notebook.dirty, {
        timeout: WAIT_MS,
      });
      const reopened = await newPage();
      await reopened.goto(`${base}/notebooks/notebooks/${NOTEBOOK}`, { waitUntil: 'load' });
      await figureDrawn(reopened, FIGURE, 'after save and reopen');
      const cells = JSON.parse(fs.readFileSync(saved, 'utf8')).cells;
      assert.ok(cells[FIGURE].outputs.length > 0, 'the saved notebook has no figure output');
    });

    await step('its HTML export draws the figure offline', async () => {
      const html = await exportHtml(saved, path.join(dir, 'export'));
      const exported = await newPage();
      await exported.setOfflineMode(true);
      await exported.goto(`file://${html}`, { waitUntil: 'load' });
      await exported.waitForSelector('.glit-plotly .main-svg .scatterlayer .trace', { timeout: 20_000 });
    });
  } finally {
    await browser?.close();
    if (server) {
      await fetch(`${base}/api/shutdown?token=${token}`, { method: 'POST' }).catch(() => undefined);
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      const killer = setTimeout(() => server!.kill('SIGKILL'), 10_000);
      if (server.exitCode === null) await exited;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
