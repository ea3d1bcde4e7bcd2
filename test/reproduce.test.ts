// `glit reproduce all` at smoke scale, as CI runs it: every table's results JSON, then a rerun that reads back every
// finished row instead of training again.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { modelKey, TABLE_SPECS } from '../lib/experiments/reproduce';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { TABLES, type TableResult } from '../lib/experiments/records';
import { glitProcess, runGlit, timelessRows, tinySearchFlags } from './helpers';

test(
  'glit reproduce all --preset smoke writes every table, and a rerun reads the finished rows back',
  { timeout: 900_000 },
  () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'glit-reproduce-')), 'run');
    const args = ['reproduce', 'all', '--json', '--out', out];
    const first = runGlit(
      [...args, '--preset', 'smoke', '--limit', 'train=128,val=64,test=64'],
      { GLIT_BACKEND: 'wasm' },
      900_000,
    );
    assert.equal(first.status, 0, first.stderr);
    const results = JSON.parse(first.stdout) as TableResult[];
    assert.deepEqual(
      results.map((t) => t.table),
      [...TABLES],
    );
    for (const t of results) {
      const saved = JSON.parse(fs.readFileSync(path.join(out, `${t.table}.json`), 'utf8')) as TableResult;
      assert.deepEqual(
        saved.rows.map((r) => r.id),
        TABLE_SPECS[t.table].rows.map((r) => r.id),
      );
      for (const r of saved.rows) {
        assert.equal(r.runs.length, 1);
        assert.ok(r.runs[0].params > 0 && r.runs[0].flops > 0 && r.meanTest >= 0 && r.meanTest <= 1, JSON.stringify(r));
      }
      assert.equal(saved.backend, 'wasm');
      assert.equal(saved.scale, 'smoke');
    }
    // Rows that train the same model (modelKey) are trained once, by the first table, and read by the others.
    const row = (table: string, id: string) => results.find((t) => t.table === table)!.rows.find((r) => r.id === id)!;
    const runs = (table: string, id: string) => timelessRows({ rows: [row(table, id)] })[0].runs;
    const from = (table: string, id: string, first: string) => runs(table, id).map((r) => ({ ...r, from: first }));
    assert.deepEqual(runs('table4', 'glit'), from('table3', 'glit', 'table3'));
    assert.deepEqual(runs('table5', 'hierarchical'), from('table3', 'glit', 'table3'));
    for (const table of ['table3', 'table4']) assert.deepEqual(runs(table, 'deit'), from('table1', 'G3-L0', 'table1'));
    assert.deepEqual(runs('table6', 'conv1d'), from('table1', 'G1-L2', 'table1'));
    assert.ok(!fs.existsSync(path.join(out, 'table6', 'conv1d')), 'table 6 retrained the model table 1 trained');
    assert.match(row('table3', 'resnet18').runs[0].name, /^resnet18-proxy-w\d+$/);
    assert.ok(row('table3', 'resnet18').runs[0].flops <= row('table3', 'deit').runs[0].flops * 1.5);

    const again = runGlit([...args, '--resume'], { GLIT_BACKEND: 'wasm' }, 300_000);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /epoch 1\/1, train loss/, 'a rerun should train nothing');
    const strip = (ts: TableResult[]) =>
      ts.map((t) => ({
        ...t,
        date: '',
        commit: '',
        rows: t.rows.map((r) => ({ ...r, runs: r.runs.map((x) => ({ ...x, seconds: 0 })) })),
      }));
    assert.deepEqual(strip(JSON.parse(again.stdout)), strip(results));

    // More seeds for a finished run: seed 0 is read back, seed 1 trained; fewer seeds than the run has are refused.
    const more = runGlit(
      ['reproduce', 'table1', '--json', '--out', out, '--resume', '--seeds', '2'],
      { GLIT_BACKEND: 'wasm' },
      300_000,
    );
    assert.equal(more.status, 0, more.stderr);
    const [table1] = strip(JSON.parse(more.stdout));
    const before = strip(results).find((t) => t.table === 'table1')!;
    for (const [i, r] of table1.rows.entries()) {
      assert.deepEqual(
        r.runs.map((x) => x.seed),
        [0, 1],
      );
      assert.deepEqual(r.runs[0], before.rows[i].runs[0]);
    }
    const fewer = runGlit(['reproduce', 'table1', '--out', out, '--resume', '--seeds', '1'], { GLIT_BACKEND: 'wasm' });
    assert.notEqual(fewer.status, 0);
    assert.match(fewer.stderr, /runs 2 seeds; a resumed run can add seeds, not drop them/);
  },
);

test('--record: a new run folder on another machine continues from the record, never retraining a unit it holds', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-record-'));
  const record = path.join(dir, 'results', 'table1-tiny.json');
  const flags = [...tinySearchFlags(dir), '--json', '--record', record];
  const first = runGlit(['reproduce', 'table1', ...flags, '--out', path.join(dir, 'a')], { GLIT_BACKEND: 'wasm' });
  assert.equal(first.status, 0, first.stderr);
  const [a] = JSON.parse(first.stdout) as TableResult[];
  const saved = JSON.parse(fs.readFileSync(record, 'utf8')) as TableResult;
  assert.deepEqual(saved.rows, a.rows);
  assert.equal(saved.settings?.limit?.train, 96);
  for (const r of saved.rows) assert.equal(r.runs[0].valCurve?.length, 2, 'a val accuracy per epoch');

  // Another folder (a fresh machine with the committed record), one more seed: seed 0 is read, seed 1 trained.
  const b = path.join(dir, 'b');
  const second = runGlit(['reproduce', 'table1', ...flags, '--seeds', '2', '--out', b], { GLIT_BACKEND: 'wasm' });
  assert.equal(second.status, 0, second.stderr);
  const [got] = JSON.parse(second.stdout) as TableResult[];
  for (const [i, r] of got.rows.entries()) {
    assert.deepEqual(r.runs[0], a.rows[i].runs[0], 'seed 0 comes from the record, commit and date included');
    assert.equal(r.runs[1].seed, 1);
    assert.ok(!fs.existsSync(path.join(b, 'table1', r.id, 'seed0')), `${r.id} seed 0 was retrained`);
    assert.ok(fs.existsSync(path.join(b, 'table1', r.id, 'seed1')));
  }
  const updated = JSON.parse(fs.readFileSync(record, 'utf8')) as TableResult;
  assert.deepEqual(updated.seeds, [0, 1]);
  assert.deepEqual(updated.rows, got.rows);
  // A run that trains nothing (printing the table) leaves the record as it was, its commit and date included.
  const before = fs.readFileSync(record, 'utf8');
  const print = runGlit(['reproduce', 'table1', ...flags, '--seeds', '2', '--out', path.join(dir, 'p')], {
    GLIT_BACKEND: 'wasm',
  });
  assert.equal(print.status, 0, print.stderr);
  assert.equal(fs.readFileSync(record, 'utf8'), before);

  // A lost record is refilled from the run folder as soon as the resumed run starts, before it trains anything.
  fs.rmSync(record);
  const refill = runGlit(
    ['reproduce', 'table1', '--json', '--record', record, '--seeds', '3', '--out', b, '--resume'],
    { GLIT_BACKEND: 'wasm' },
  );
  assert.equal(refill.status, 0, refill.stderr);
  const added = refill.stderr.indexOf(`${record}: added 8 finished unit(s) read back from ${b}`);
  assert.ok(added >= 0, refill.stderr);
  assert.ok(added < refill.stderr.search(/epoch 1\/\d+/), 'the record was refilled only after training began');
  const refilled = JSON.parse(fs.readFileSync(record, 'utf8')) as TableResult;
  assert.deepEqual(
    refilled.rows.map((r) => r.runs.slice(0, 2)),
    got.rows.map((r) => r.runs),
  );

  // Units made under other settings are never mixed in.
  const other = runGlit(
    ['reproduce', 'table1', ...flags, '--limit', 'train=64,val=32,test=32', '--out', path.join(dir, 'c')],
    { GLIT_BACKEND: 'wasm' },
  );
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /table1-tiny\.json: its units were made with other settings \(limit\.train differ\)/);
  assert.ok(!fs.existsSync(path.join(dir, 'c', 'config.json')), 'refused before the run folder was made');
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  "--record carries the finished stages of searches in progress: a run elsewhere reads them back, from its own record or another table's",
  { timeout: 600_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-stages-'));
    const flags = [...tinySearchFlags(dir), '--json'];
    const records = path.join(dir, 'results');
    const record = (table: string) => path.join(records, `${table}-smoke.json`);
    const read = (table: string) => JSON.parse(fs.readFileSync(record(table), 'utf8')) as TableResult;
    const table = (name: string, out: string, ...more: string[]) => {
      const r = runGlit(['reproduce', name, ...flags, '--out', path.join(dir, out), ...more], { GLIT_BACKEND: 'wasm' });
      assert.equal(r.status, 0, r.stderr);
      return { rows: (JSON.parse(r.stdout) as TableResult[])[0].rows, stderr: r.stderr };
    };
    // Units compared without what differs between runs that agree, and the table they were lent by.
    const same = (rows: TableResult['rows']) =>
      timelessRows({ rows }).map((r) => ({ ...r, runs: r.runs.map((x) => ({ ...x, commit: '', from: undefined })) }));
    const whole = table('table4', 'whole');
    const search = path.join(dir, 'whole', 'shared', 'seed0', 'hierarchical');
    assert.ok(fs.existsSync(path.join(search, 'result.json')));
    assert.ok(!fs.existsSync(path.join(search, 'baseline')), 'the search retrained the baseline its DeiT row trains');

    // Table 4 killed while its NLP-NAS row retrains: stage 1 of the hierarchical search and the row's EA are over.
    const cut = await glitProcess(
      'reproduce',
      ['table4', ...flags, '--out', path.join(dir, 'a'), '--record', record('table4')],
      path.join(dir, 'a', 'table4', 'nlp-nas', 'seed0', 'retrain', 'train.safetensors'),
    );
    assert.ok(cut.killed, cut.stderr);
    const partial = Object.keys(read('table4').partial ?? {});
    for (const key of [
      'shared/seed0/hierarchical/stage1/result.json',
      'shared/seed0/hierarchical/stage1/evolution/evolution.json',
      'shared/seed0/hierarchical/stage1/evolution/top.json',
      'shared/seed0/hierarchical/stage1/retrain/rank1/result.json',
      'table4/nlp-nas/seed0/evolution/generations.jsonl',
    ])
      assert.ok(partial.includes(key), `${key} is not in the record: ${partial.join(', ')}`);
    assert.ok(!partial.some((k) => /supernet|safetensors|config\.json|table4\/deit/.test(k)), partial.join(', '));
    assert.deepEqual(
      read('table4').rows.map((r) => r.id),
      ['deit', 'distribution-only'],
      'stage 1 alone decides a row',
    );

    // Table 5 on another machine, its record beside Table 4's: it takes stage 1 from there and trains stage 2 only.
    const five = table('table5', 'b', '--record', record('table5'));
    assert.match(five.stderr, /table4-smoke\.json: restored \d+ file\(s\) of finished stages/);
    const stage1 = path.join(dir, 'b', 'shared', 'seed0', 'hierarchical', 'stage1');
    assert.ok(!fs.existsSync(path.join(stage1, 'supernet')), "stage 1's supernet was trained again");
    assert.ok(!fs.existsSync(path.join(stage1, 'retrain', 'rank1', 'model.safetensors')), 'a rank was retrained');
    const runs = (rows: TableResult['rows'], id: string) => same(rows)[rows.findIndex((r) => r.id === id)].runs;
    assert.deepEqual(runs(five.rows, 'hierarchical'), runs(whole.rows, 'glit'));

    // Table 4 again, elsewhere: its own record's stages (the NLP-NAS EA) and Table 5's GLiT unit; only a retraining left.
    const four = table('table4', 'c', '--record', record('table4'));
    assert.match(four.stderr, /table4-smoke\.json: restored \d+ file\(s\) of finished stages/);
    assert.ok(
      !fs.existsSync(path.join(dir, 'c', 'table4', 'nlp-nas', 'seed0', 'supernet')),
      'NLP-NAS supernet retrained',
    );
    assert.ok(!fs.existsSync(path.join(dir, 'c', 'shared', 'seed0', 'hierarchical', 'stage2')), 'stage 2 ran again');
    assert.deepEqual(same(four.rows), same(whole.rows));
    assert.equal(read('table4').partial, undefined, 'a record whose units are all done carries no stages');
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test('rows share their units exactly where they train the same model', () => {
  const config = SCALE_CONFIGS.cpu.search;
  const rows = TABLES.flatMap((table) =>
    TABLE_SPECS[table].rows.map((row) => ({ at: `${table}.${row.id}`, key: modelKey(row, config) })),
  );
  const groups = [...new Set(rows.flatMap((r) => (r.key ? [r.key] : [])))]
    .map((key) => rows.filter((r) => r.key === key).map((r) => r.at))
    .filter((g) => g.length > 1);
  assert.deepEqual(groups, [
    ['table1.G3-L0', 'table3.deit', 'table4.deit'], // the deit-proxy baseline is (3, 0) in every block
    ['table1.G1-L2', 'table6.conv1d'],
    ['table3.glit', 'table4.glit', 'table5.hierarchical'],
  ]);
});

test("a table reads the units another table's record holds for the same model, and they are what it would train", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-shared-'));
  const flags = [...tinySearchFlags(dir), '--json'];
  const records = path.join(dir, 'results');
  const table = (name: string, out: string, ...more: string[]) => {
    const r = runGlit(['reproduce', name, ...flags, '--out', path.join(dir, out), ...more], { GLIT_BACKEND: 'wasm' });
    assert.equal(r.status, 0, r.stderr);
    return { result: (JSON.parse(r.stdout) as TableResult[])[0], stderr: r.stderr };
  };
  const one = table('table1', 'a', '--record', path.join(records, 'table1-smoke.json'));
  // Another folder, Table 6 with its record beside Table 1's (as in results/): its 1-D conv row is Table 1's (1, 2).
  const six = table('table6', 'b', '--record', path.join(records, 'table6-smoke.json'));
  const shared = six.result.rows.find((r) => r.id === 'conv1d')!.runs[0];
  assert.deepEqual(shared, { ...one.result.rows.find((r) => r.id === 'G1-L2')!.runs[0], from: 'table1' });
  assert.match(six.stderr, /table6 conv1d seed 0: read from table1/);
  assert.ok(!fs.existsSync(path.join(dir, 'b', 'table6', 'conv1d')), 'retrained');
  const saved = JSON.parse(fs.readFileSync(path.join(records, 'table6-smoke.json'), 'utf8')) as TableResult;
  assert.equal(saved.rows.find((r) => r.id === 'conv1d')!.runs[0].from, 'table1');
  // Trained on its own (no record beside it), the row gives the same numbers: sharing it changes nothing.
  const alone = table('table6', 'c');
  const [trained] = timelessRows({ rows: [alone.result.rows.find((r) => r.id === 'conv1d')!] })[0].runs;
  const [read] = timelessRows({ rows: [six.result.rows.find((r) => r.id === 'conv1d')!] })[0].runs;
  delete read.from;
  assert.deepEqual({ ...trained, commit: '' }, { ...read, commit: '' });
  fs.rmSync(dir, { recursive: true, force: true });
});
