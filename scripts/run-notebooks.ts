// Runs notebooks headless on this repository's tslab kernel (jupyter/kernels/tslab) with `jupyter nbconvert --execute`,
// and exports them to HTML. The notebook tests use these functions; as a command it runs notebooks for people:
//
//   GLIT_SCALE=cpu npx tsx scripts/run-notebooks.ts [--html] [--out DIR] [--timeout SECONDS] [NOTEBOOK ...]
//
// (default: every notebooks/*.ipynb into runs/notebooks/). The committed notebooks are never overwritten: executed
// copies go to the output folder. The first failing cell stops a notebook (no --allow-errors: after an error tslab
// drops requests for 200 ms, so later cells would be skipped silently) and its error is reported.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { plotlyScriptElement } from '../lib/notebook/display';

export const ROOT = path.resolve(__dirname, '..');
export const NOTEBOOK_DIR = path.join(ROOT, 'notebooks');
/** The kernelspec folder: JUPYTER_PATH points here so that no global kernel install is needed. */
export const KERNELSPEC_PATH = path.join(ROOT, 'jupyter');
/** The `jupyter` command (JUPYTER overrides it; on Debian /usr/bin/jupyter, not a pyenv python's). */
export const JUPYTER = process.env.JUPYTER ?? 'jupyter';

export class NotebookError extends Error {
  constructor(
    readonly notebook: string,
    detail: string,
  ) {
    super(`${path.relative(ROOT, notebook) || notebook}: ${detail}`);
    this.name = 'NotebookError';
  }
}

/** Every notebook in `dir`, sorted by name (their numbers give the reading order). */
export function listNotebooks(dir = NOTEBOOK_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Why notebooks cannot run here (no jupyter, or no nbconvert), or undefined when they can. */
export async function jupyterMissing(): Promise<string | undefined> {
  try {
    await run(JUPYTER, ['nbconvert', '--version'], process.env, 60);
    return undefined;
  } catch (e) {
    return `\`${JUPYTER} nbconvert\` does not run (${String((e as Error).message).split('\n')[0]}): install Jupyter's nbconvert and nbclient (Debian: apt-get install --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client) or set JUPYTER`;
  }
}

export interface ExecuteOptions {
  /** Extra environment for the kernel (notebook parameters such as GLIT_SCALE). */
  env?: NodeJS.ProcessEnv;
  /** Longest a single cell may run, in seconds (nbclient has no limit by default). */
  cellTimeoutS?: number;
}

/** Executes `notebook` into `outDir` (same file name) and returns the executed copy's path. */
export async function executeNotebook(notebook: string, outDir: string, options: ExecuteOptions = {}): Promise<string> {
  if (path.resolve(outDir) === path.dirname(path.resolve(notebook))) {
    throw new NotebookError(
      notebook,
      `the output folder is the notebook's own folder: the committed notebook would be overwritten`,
    );
  }
  fs.mkdirSync(outDir, { recursive: true });
  const env = {
    ...process.env,
    ...options.env,
    JUPYTER_PATH: [KERNELSPEC_PATH, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    GLIT_KERNEL_STDERR: '1', // the kernel copies cell errors to its stderr (see jupyter/kernels/tslab/launch.cjs)
    PYDEVD_DISABLE_FILE_VALIDATION: '1', // quiets a debugger warning that Debian's ipykernel prints on every start
  };
  const args = [
    'nbconvert',
    '--to',
    'notebook',
    '--execute',
    notebook,
    '--output-dir',
    outDir,
    '--output',
    path.basename(notebook),
    `--ExecutePreprocessor.timeout=${options.cellTimeoutS ?? 300}`,
  ];
  try {
    await run(JUPYTER, args, env);
  } catch (e) {
    throw new NotebookError(notebook, `a cell failed or timed out:\n${failureReport(String((e as Error).message))}`);
  }
  return path.join(outDir, path.basename(notebook));
}

/**
 * Exports an executed notebook to `outDir` as HTML (outputs as they are; nothing is executed) and returns its path.
 * A document with figures gets plotly.js embedded once in its head, so that it shows them offline on its own.
 */
export async function exportHtml(executed: string, outDir: string): Promise<string> {
  await run(JUPYTER, ['nbconvert', '--to', 'html', executed, '--output-dir', outDir], {
    ...process.env,
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
  });
  const html = path.join(outDir, path.basename(executed, '.ipynb') + '.html');
  const page = fs.readFileSync(html, 'utf8');
  const head = page.indexOf('</head>');
  if (page.includes('class="glit-plotly"')) {
    if (head < 0)
      throw new NotebookError(executed, `nbconvert's HTML export ${html} has no </head> to put plotly.js in`);
    fs.writeFileSync(html, page.slice(0, head) + plotlyScriptElement() + '\n' + page.slice(head));
  }
  return html;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutS = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env, cwd: ROOT, maxBuffer: 64 << 20, timeout: timeoutS * 1000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** nbconvert's log without its Python traceback: the cell's own error output, then the cell that failed. */
function failureReport(log: string): string {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Traceback (most recent call last):'));
  const end = lines.findIndex((l) => /^\w+(\.\w+)*\.(CellExecutionError|CellTimeoutError|DeadKernelError)\b/.test(l));
  const kept = start >= 0 && end > start ? [...lines.slice(0, start), ...lines.slice(end)] : lines;
  return kept.slice(-80).join('\n').trim();
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { html: { type: 'boolean' }, out: { type: 'string' }, timeout: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'runs', 'notebooks'));
  const cellTimeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
  if (cellTimeoutS !== undefined && !(cellTimeoutS > 0))
    throw new Error(`--timeout expects seconds > 0, got '${values.timeout}'`);
  const missing = await jupyterMissing();
  if (missing) throw new Error(missing);
  const notebooks = positionals.length ? positionals.map((p) => path.resolve(p)) : listNotebooks();
  for (const notebook of notebooks) {
    const started = Date.now();
    const executed = await executeNotebook(notebook, outDir, { cellTimeoutS });
    const html = values.html ? await exportHtml(executed, outDir) : undefined;
    console.log(
      `${path.relative(ROOT, notebook)}: ${((Date.now() - started) / 1000).toFixed(1)} s -> ${path.relative(ROOT, html ?? executed)}`,
    );
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`run-notebooks: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
