// The kernel's transitive reload (jupyter/kernels/tslab/reload.cjs): when tslab recompiles an edited lib/ file, every
// loaded file that imports it, directly or through others, is handed back too, so that it loads afresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';

type Output = { path: string; data: string };
const { createReloader } = require('../jupyter/kernels/tslab/reload.cjs') as {
  createReloader: () => (outputs: Output[]) => Output[];
};

const file = (path: string, ...requires: string[]): Output => ({
  path,
  data: requires.map((r) => `const x = require("${r}");`).join('\n') + '\nrequire("@tensorflow/tfjs");',
});

test('an edit reloads its importers, transitively, and nothing else', () => {
  const reload = createReloader();
  const first = [
    file('/nb/lib/notebook/run.js', '../core/progress', './display'),
    file('/nb/lib/search/stages.js', '../train/train'),
    file('/nb/lib/train/train.js', '../core/progress.js'),
    file('/nb/lib/core/progress.js'),
    file('/nb/lib/notebook/display.js'),
  ];
  assert.deepEqual(reload(first), first, 'a first compilation is handed back as it is');
  const edited = { path: '/nb/lib/core/progress.js', data: 'exports.v = 2;' };
  const widened = reload([edited]);
  assert.deepEqual(widened[0], edited);
  assert.deepEqual(widened.map((o) => o.path).sort(), [
    '/nb/lib/core/progress.js',
    '/nb/lib/notebook/run.js',
    '/nb/lib/search/stages.js',
    '/nb/lib/train/train.js',
  ]);
  assert.equal(widened.find((o) => o.path === '/nb/lib/train/train.js')!.data, first[2].data);
});

test('new files alone reload nothing else', () => {
  const reload = createReloader();
  reload([file('/nb/lib/a.js', './b'), file('/nb/lib/b.js')]);
  const added = [file('/nb/lib/c.js', './b')];
  assert.deepEqual(reload(added), added);
});
