// Notebooks: every notebooks/*.ipynb (found by listing the folder, so new notebooks are tested too) runs top to bottom
// at GLIT_SCALE=smoke on this repository's tslab kernel, and the first failing cell fails the test with its error.
// Executed copies go to test-artifacts/notebooks/; the committed notebooks stay as they are: outputs cleared.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { NotebookError, ROOT, executeNotebook, jupyterMissing, listNotebooks } from '../scripts/run-notebooks';
import { writeCodeNotebook } from './helpers';

const OUT = path.join(ROOT, 'test-artifacts', 'notebooks');
const CELL_TIMEOUT_S = 120;

interface Notebook {
  metadata: { kernelspec?: { name?: string } };
  cells: { cell_type: string; source: string | string[]; outputs?: unknown[]; execution_count?: number | null }[];
}

const readNotebook = (file: string): Notebook => JSON.parse(fs.readFileSync(file, 'utf8'));

test('the committed notebooks use the tslab kernel and are stored without outputs', () => {
  const notebooks = listNotebooks();
  assert.ok(notebooks.length > 0, 'no notebooks found in notebooks/');
  for (const file of notebooks) {
    const nb = readNotebook(file);
    const name = path.basename(file);
    assert.equal(nb.metadata.kernelspec?.name, 'tslab', `${name}: kernelspec must be 'tslab' (jupyter/kernels/tslab)`);
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type !== 'code') return;
      assert.deepEqual(
        cell.outputs,
        [],
        `${name}: cell ${i} has outputs: clear them before committing (Edit > Clear Outputs of All Cells)`,
      );
      assert.equal(
        cell.execution_count,
        null,
        `${name}: cell ${i} has an execution count: clear outputs before committing`,
      );
    });
  }
});

for (const notebook of listNotebooks()) {
  test(`${path.basename(notebook)} runs at smoke scale`, { timeout: 10 * 60_000 }, async (t) => {
    const missing = await jupyterMissing();
    if (missing) return t.skip(missing);
    const executed = await executeNotebook(notebook, OUT, {
      env: { GLIT_SCALE: 'smoke' },
      cellTimeoutS: CELL_TIMEOUT_S,
    });
    const cells = readNotebook(executed).cells;
    const outputs = cells.flatMap((c) => c.outputs ?? []);
    assert.ok(outputs.length > 0, `${executed}: the notebook ran but showed nothing`);
    // The kernel announces each cell's count (jupyter/kernels/tslab/launch.cjs): the copy shows In [1], In [2], ...
    const counts = cells.filter((c) => c.cell_type === 'code').map((c) => c.execution_count);
    assert.deepEqual(
      counts,
      counts.map((_, i) => i + 1),
      `${executed}: execution counts`,
    );
    // git's clean filter (configured by npm run setup) turns the executed copy back into the committed file exactly.
    const cleaned = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'strip-notebook-outputs.js')], {
      input: fs.readFileSync(executed),
      encoding: 'utf8',
    });
    assert.equal(cleaned.stdout, fs.readFileSync(notebook, 'utf8'), `${executed}: the output filter left a difference`);
  });
}

test('a notebook with a failing cell fails the run and reports the error', { timeout: 5 * 60_000 }, async (t) => {
  const missing = await jupyterMissing();
  if (missing) return t.skip(missing);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-notebook-'));
  try {
    const notebook = path.join(dir, 'failing.ipynb');
    const sources = ['console.log(1);', "throw new Error('deliberate ' + 'failure in a test notebook');"];
    writeCodeNotebook(notebook, sources);
    // The message is assembled at run time, so matching it proves the kernel's error text was reported, not the source.
    await assert.rejects(
      executeNotebook(notebook, path.join(dir, 'out'), { cellTimeoutS: CELL_TIMEOUT_S }),
      (e: unknown) => {
        assert.ok(e instanceof NotebookError, String(e));
        assert.match(e.message, /deliberate failure in a test notebook/);
        // The stack lists the cell's frames, not the kernel's (jupyter/kernels/tslab/launch.cjs trims them).
        assert.match(e.message, /at evalmachine/);
        assert.doesNotMatch(e.message, /tslab[\\/]dist|node:vm|launch\.cjs/);
        return true;
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
