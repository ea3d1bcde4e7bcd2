// The paper's ablation tables as experiments: each row is a way to get an architecture (a fixed design, a search), run
// for several seeds with the same training budget, in its own folder of the output; a row (or seed) that finished is
// read back on a rerun, so a long reproduction can be stopped and continued. The paper's Tables 1, 4, 5 and 6.
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { gridSize, loadArchitecture, scaleKernel, withLocalModule, type Architecture } from '../model/arch';
import { backendInfo } from '../kernels/backend';
import type { DatasetSplits } from '../data/datasets';
import { writeJsonAtomic } from '../io/atomic-files';
import type { ProgressCallback } from '../core/progress';
import { readRetrainResult } from '../io/run-folder';
import { budgetFor, hierarchicalSearch, stage1, type SearchConfig, type SearchLog } from '../search/pipeline';
import { retrain, searchSupernet, trainSupernet } from '../search/stages';
import type { RetrainResult } from '../search/records';
import type { RowResult, TableName, TableResult } from './records';
import { decode, fullSpace, nlpNasSpace, uniformArchitecture, type SearchSpace } from '../search/space';
import { PAPER_WINDOWS } from '../model/local-modules';
import { disposeSupernet, type WeightSharing } from '../search/supernet';

/** What one row needs to produce its architecture and retrain it, for one seed, in its own folder. */
interface RowContext {
  dir: string;
  /** Shared runs (the hierarchical search) live here, so tables 4 and 5 use the same one. */
  shared: string;
  data: DatasetSplits;
  config: SearchConfig;
  log: SearchLog;
  progress?: ProgressCallback;
}

export interface RowSpec {
  id: string;
  label: string;
  run: (c: RowContext) => Promise<RetrainResult>;
}

export interface TableSpec {
  title: string;
  /** The paper's claim this table tests. */
  claim: string;
  rows: RowSpec[];
}

/**
 * Supernet over `space` (in `supernetDir`: rows that search one space with different methods share it), EA or random
 * search on it, then the best candidate retrained: one searched row.
 */
async function searchedRow(
  c: RowContext,
  space: SearchSpace,
  supernetDir: string,
  method: 'evolution' | 'random',
  name: string,
): Promise<RetrainResult> {
  const budget = budgetFor(c.config);
  const net = await trainSupernet(supernetDir, space, c.data, c.config, budget, c.log, c.progress);
  const state = await searchSupernet(
    path.join(c.dir, method),
    method,
    space,
    net,
    c.data,
    c.config,
    budget,
    c.log,
    c.progress,
  );
  disposeSupernet(net);
  return retrain(
    path.join(c.dir, 'retrain'),
    name,
    decode(space, state.topK[0].code),
    c.data,
    c.config.retrain,
    c.log,
    c.progress,
  );
}

/** A searched row on the flat full space: rows with the same weight sharing search one supernet (in `shared/`). */
const fullSpaceRow = (c: RowContext, weightSharing: WeightSharing, method: 'evolution' | 'random', name: string) =>
  searchedRow(
    { ...c, config: { ...c.config, weightSharing } },
    fullSpace(baselineModel(c.config)),
    path.join(c.shared, weightSharing === 'separate' ? 'full-supernet' : 'full-supernet-sliced'),
    method,
    name,
  );
const baselineModel = (config: SearchConfig) => loadArchitecture(config.baseline).model;
const fixedRow = (c: RowContext, arch: Architecture) =>
  retrain(c.dir, arch.name ?? 'fixed', arch, c.data, c.config.retrain, c.log, c.progress);
const hierarchical = (c: RowContext) =>
  hierarchicalSearch(path.join(c.shared, 'hierarchical'), c.data, c.config, c.log, c.progress);

export const TABLE_SPECS: Record<TableName, TableSpec> = {
  table1: {
    title: 'Table 1: the same head distribution (G global, L local heads) in every block',
    claim: 'adding local heads to DeiT-Tiny helps; best at G = 1, L = 2',
    rows: [3, 2, 1, 0].map((g) => ({
      id: `G${g}-L${3 - g}`,
      label: `(${g}, ${3 - g})${g === 3 ? ' = DeiT' : ''}`,
      run: (c) => fixedRow(c, uniformArchitecture(baselineModel(c.config), g)),
    })),
  },
  table4: {
    title: 'Table 4: the search space',
    claim:
      'distribution-only search beats DeiT; the full GLiT space beats an NLP-NAS style space (attention only: qkv dim and FFN ratio)',
    rows: [
      { id: 'deit', label: 'DeiT (hand-designed)', run: (c) => fixedRow(c, loadArchitecture(c.config.baseline)) },
      {
        id: 'distribution-only',
        label: 'only distribution (stage 1)',
        run: async (c) => {
          const dir = path.join(c.shared, 'hierarchical');
          const s1 = await stage1(dir, c.data, c.config, c.log, c.progress);
          return readRetrainResult(path.join(dir, 'stage1', 'retrain', s1.best.replace('stage1-', '')))!;
        },
      },
      {
        id: 'nlp-nas',
        label: 'NLP-NAS space',
        run: (c) =>
          searchedRow(
            c,
            nlpNasSpace(baselineModel(c.config)),
            path.join(c.dir, 'supernet'),
            'evolution',
            'nlp-nas-best',
          ),
      },
      { id: 'glit', label: 'GLiT space (hierarchical)', run: async (c) => (await hierarchical(c)).found },
    ],
  },
  table6: {
    title: 'Table 6: the local module of the local heads (G = 1 global, L = 2 local heads in every block)',
    claim:
      'the 1-D conv heads beat self-attention restricted to a local window (14, 28, 49 of 196 tokens) and a 2-D conv module (no CLS token, average-pooling head)',
    rows: [
      ...PAPER_WINDOWS.map((w) => ({
        id: `window-${w}`,
        label: `window attention, ${w} of 196 tokens`,
        run: (c: RowContext) => {
          const base = uniformArchitecture(baselineModel(c.config), 1);
          return fixedRow(c, withLocalModule(base, 'window-attention', scaleKernel(w, gridSize(base.model))));
        },
      })),
      {
        id: 'conv2d',
        label: '2-D conv (no CLS, GAP head)',
        run: (c) => fixedRow(c, withLocalModule(uniformArchitecture(baselineModel(c.config), 1), 'conv2d')),
      },
      {
        id: 'conv1d',
        label: '1-D conv heads (GLiT)',
        run: (c) => fixedRow(c, uniformArchitecture(baselineModel(c.config), 1)),
      },
    ],
  },
  table5: {
    title: 'Table 5: the search method, same budget',
    claim: 'the hierarchical search beats SPOS on the flat full space and random search',
    rows: [
      // Random search and SPOS's EA score candidates on the same supernet over the flat space (separate weights per
      // candidate, as SPOS), with the same number of evaluations: the rows differ only in how candidates are proposed.
      {
        id: 'random',
        label: 'random search (full space)',
        run: (c) => fullSpaceRow(c, 'separate', 'random', 'random-best'),
      },
      { id: 'spos', label: 'SPOS (full space)', run: (c) => fullSpaceRow(c, 'separate', 'evolution', 'spos-best') },
      // Not in the paper: SPOS with AutoFormer's weight sharing by slicing, where the flat space's 100s of candidates
      // per block share one set of weights instead of each getting only the few steps that sample it.
      {
        id: 'spos-sliced',
        label: 'SPOS, sliced weights (full space)',
        run: (c) => fullSpaceRow(c, 'sliced', 'evolution', 'spos-sliced-best'),
      },
      { id: 'hierarchical', label: 'hierarchical (GLiT)', run: async (c) => (await hierarchical(c)).found },
    ],
  },
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Runs (or continues) every row of a table for `seeds`, writing `out`/<table>.json after each row. */
export async function reproduceTable(
  table: TableName,
  out: string,
  data: DatasetSplits,
  base: SearchConfig,
  o: { seeds: number; scale: string; dataset: string; log: SearchLog; progress?: ProgressCallback },
): Promise<TableResult> {
  const spec = TABLE_SPECS[table];
  const seeds = Array.from({ length: o.seeds }, (_, k) => base.seed + k);
  const { backend, device } = backendInfo();
  const result: TableResult = {
    table,
    title: spec.title,
    claim: spec.claim,
    scale: o.scale,
    dataset: o.dataset,
    seeds,
    backend,
    device,
    commit: commit(),
    date: new Date().toISOString(),
    rows: [],
  };
  for (const row of spec.rows) {
    const runs: RowResult['runs'] = [];
    for (const seed of seeds) {
      const config = { ...base, seed, supernet: { ...base.supernet, seed }, retrain: { ...base.retrain, seed } };
      const r = await row.run({
        dir: path.join(out, table, row.id, `seed${seed}`),
        shared: path.join(out, 'shared', `seed${seed}`),
        data,
        config,
        log: o.log,
        progress: o.progress,
      });
      runs.push({
        seed,
        name: r.name,
        params: r.params,
        flops: r.flops,
        valAccuracy: r.valAccuracy,
        testAccuracy: r.testAccuracy,
        seconds: r.seconds,
      });
    }
    const tests = runs.map((r) => r.testAccuracy);
    result.rows.push({
      id: row.id,
      label: row.label,
      runs,
      meanTest: mean(tests),
      stdTest: std(tests),
      meanVal: mean(runs.map((r) => r.valAccuracy)),
    });
    writeJsonAtomic(path.join(out, `${table}.json`), result);
    o.log(
      `${table} ${row.label}: test ${(100 * mean(tests)).toFixed(2)}%` +
        (seeds.length > 1 ? ` ± ${(100 * std(tests)).toFixed(2)} over ${seeds.length} seeds` : ' (1 seed)'),
    );
  }
  return result;
}
