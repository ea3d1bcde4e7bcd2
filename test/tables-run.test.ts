// What notebooks 05-08 show of the recorded tables (lib/notebook/tables-run.ts): every recorded scale side by side
// with the paper's numbers, a record still being made shown as far as it got, flat val curves counted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { RowResult, TableResult } from '../lib/experiments/records';
import { TABLE_SPECS } from '../lib/experiments/reproduce';
import { modelsFlopsFigure } from '../lib/notebook/figures';
import { readRecordings, recordingRows, resultRows, sideBySideRows, trainedModels } from '../lib/notebook/tables-run';

function table1(scale: string, tests: Record<string, number[]>, curve?: number[]): TableResult {
  const rows: RowResult[] = Object.entries(tests).map(([id, accs]) => ({
    id,
    label: TABLE_SPECS.table1.rows.find((r) => r.id === id)!.label,
    runs: accs.map((testAccuracy, seed) => ({
      seed,
      name: id,
      params: 1,
      flops: 1,
      valAccuracy: testAccuracy,
      testAccuracy,
      seconds: 1,
      ...(curve && { valCurve: curve }),
    })),
    meanTest: accs.reduce((a, b) => a + b, 0) / accs.length,
    stdTest: 0,
    meanVal: 0,
  }));
  return {
    table: 'table1',
    title: '',
    claim: '',
    scale,
    dataset: 'fashion-mnist',
    seeds: [0, 1],
    backend: 'wasm',
    device: 'cpu',
    commit: 'x',
    date: '',
    rows,
  };
}

test('recorded scales side by side: a row not yet recorded at a scale is a dash; the paper where it gives a number', () => {
  const cpu = table1('cpu', {
    'G3-L0': [0.3, 0.32],
    'G2-L1': [0.6, 0.62],
    'G1-L2': [0.61, 0.63],
    'G0-L3': [0.59, 0.6],
  });
  const converge = table1('converge', { 'G3-L0': [0.82] });
  const rows = sideBySideRows('table1', [cpu, converge]);
  assert.deepEqual(
    rows.map((r) => r.row),
    TABLE_SPECS.table1.rows.map((r) => r.label),
  );
  assert.equal(rows[0]['cpu: test %'], '31.00 ± 0.00 (2 seeds)');
  assert.equal(rows[0]['converge: test %'], '82.00 (1 seed)');
  assert.equal(rows[1]['converge: test %'], '–');
  assert.equal(rows[0]["paper's ImageNet top-1 % of the model"], 72.2, 'DeiT-Tiny');
  assert.equal(rows[2]["paper's ImageNet top-1 % of the model"], '–');
});

test('a row counts its flat val curves, and says so when its runs kept none', () => {
  const flat = table1('converge', { 'G3-L0': [0.8, 0.81] }, [0.5, 0.7, 0.8, 0.805, 0.803]);
  assert.equal(resultRows(flat)[0]['val curve flat'], '2 of 2');
  const rising = table1('converge', { 'G3-L0': [0.8] }, [0.5, 0.6, 0.7, 0.8]);
  assert.equal(resultRows(rising)[0]['val curve flat'], '0 of 1');
  assert.equal(resultRows(table1('cpu', { 'G3-L0': [0.3] }))[0]['val curve flat'], '–');
});

test('GLIT_RECORDED shows the one folder it names instead of the committed recordings', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-recorded-'));
  fs.writeFileSync(path.join(dir, 'table1.json'), JSON.stringify(table1('gpu', { 'G3-L0': [0.9, 0.91] })));
  const shown = readRecordings('table1', { GLIT_RECORDED: dir });
  assert.deepEqual(
    shown.map((r) => r.result!.scale),
    ['gpu'],
  );
  assert.deepEqual(readRecordings('table5', { GLIT_RECORDED: dir }), [], 'no table5.json there');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every model once, of the kind its row says: a model shared by tables counts once', () => {
  const t1 = table1('cpu', { 'G3-L0': [0.3], 'G1-L2': [0.6] });
  const models = trainedModels([t1, t1]);
  assert.deepEqual(
    models.map((m) => [m.kind, m.label]),
    [
      ['designed', 'Table 1: (3, 0) = DeiT, seed 0'],
      ['designed', 'Table 1: (1, 2), seed 0'],
    ],
  );
  const figure = modelsFlopsFigure([...models, { ...models[0], kind: 'resnet', label: 'r' }]) as {
    data: { name: string; x: number[] }[];
  };
  assert.deepEqual(
    figure.data.map((d) => [d.name, d.x.length]),
    [
      ['transformer, fixed design (DeiT and the ablations)', 2],
      ['ResNet-proxy', 1],
    ],
  );
});

test('a recording says which of its rows another table trained', () => {
  const t = table1('converge', { 'G3-L0': [0.8, 0.81], 'G1-L2': [0.9] });
  const field = (r: TableResult) =>
    recordingRows({ file: 'f', result: r }).find((x) => x.field === 'read from other tables')?.value;
  assert.equal(field(t), undefined);
  t.rows[0].runs[1].from = 'table4';
  assert.equal(field(t), '(3, 0) = DeiT: from Table 4');
});
