// Progress lines (lib/core/progress.ts): a task's start is shown once, then at most one line per interval and the last
// one; a pool's tally that stays at 0 while its workers train does not print a line at every tick.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSeconds, progressLines } from '../lib/core/progress';

test('a task shows its start, then one line per interval, then its end', (t) => {
  let clock = 0;
  t.mock.method(Date, 'now', () => clock);
  const lines = progressLines(2000);
  const shown: string[] = [];
  const at = (ms: number, done: number, total = 4) => {
    clock = ms;
    const l = lines({ task: 'tasks on 2 local workers', done, total });
    if (l) shown.push(`${ms}:${done}${l.first ? ' first' : ''}${l.finished ? ' finished' : ''}`);
  };
  for (let ms = 0; ms <= 5000; ms += 1000) at(ms, 0); // a pool whose first task has not ended yet
  at(5500, 1);
  at(6100, 2);
  at(6200, 4);
  assert.deepEqual(shown, ['0:0 first', '2000:0', '4000:0', '6100:2', '6200:4 finished']);
});

test('a quick task that does not announce itself shows nothing', (t) => {
  let clock = 0;
  t.mock.method(Date, 'now', () => clock);
  const lines = progressLines(2000);
  assert.equal(lines({ task: 'decoding', done: 3, total: 10 }), null);
  clock = 100;
  assert.equal(lines({ task: 'decoding', done: 10, total: 10 }), null);
});

test('quick tasks that follow each other show a line per interval', (t) => {
  // Epochs of two 300 ms steps, as a smoke supernet trains: a notebook's progress must still move on (CI once saw it
  // stay on the first epoch while 57 epochs went by).
  let clock = 0;
  t.mock.method(Date, 'now', () => clock);
  const lines = progressLines(500);
  const shown: string[] = [];
  for (let epoch = 1; epoch <= 4; epoch++)
    for (const done of [1, 2]) {
      clock += 300;
      const l = lines({ task: `supernet epoch ${epoch}/4`, done, total: 2 });
      if (l) shown.push(`${clock}:${epoch}:${done}`);
    }
  assert.deepEqual(shown, ['600:1:2', '1200:2:2', '1800:3:2', '2400:4:2']);
});

test('seconds read as a person writes them', () => {
  assert.equal(formatSeconds(8.2), '8.2s');
  assert.equal(formatSeconds(75), '1m15s');
  assert.equal(formatSeconds(3700), '1h01m');
});
