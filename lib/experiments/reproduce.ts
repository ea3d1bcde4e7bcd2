// The paper's ablation tables as experiments: each row is a way to get an architecture (a fixed design, a search), run
// for several seeds with the same training budget, in its own folder of the output; a row (or seed) that finished is
// read back on a rerun, so a long reproduction can be stopped and continued. The paper's Tables 1, 4, 5 and 6.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { gridSize, loadArchitecture, scaleKernel, withLocalModule, type Architecture } from '../model/arch';
import { backendInfo } from '../kernels/backend';
import type { DatasetSplits, SplitLimit } from '../data/datasets';
import { writeJsonAtomic } from '../io/atomic-files';
import { readJsonFile } from '../io/read-file';
import type { ProgressCallback } from '../core/progress';
import { finishedFiles, readRetrainResult, restoreFiles, type FinishedFiles } from '../io/run-folder';
import {
  budgetFor,
  hierarchicalSearch,
  retrainStep,
  stage1,
  supernetSearch,
  type PipelineContext,
  type SearchConfig,
  type SearchLog,
} from '../search/pipeline';
import { eachUnit, inlineRunner, type TaskRunner } from '../tasks/runner';
import type { Task, TaskSpec } from '../tasks/task';
import { inRun, taskId } from '../tasks/task';
import { resnetForFlops } from '../model/resnet';
import type { RetrainResult } from '../search/records';
import {
  TABLES,
  type ModelKind,
  type RowResult,
  type TableName,
  type TableResult,
  type TableSettings,
} from './records';
import { readTableRecord, tableSettings, unusableTable, writeRecord } from './table-record';
import { decode, fullSpace, nlpNasSpace, uniformArchitecture, type SearchSpace } from '../search/space';
import { PAPER_WINDOWS } from '../model/local-modules';
import type { WeightSharing } from '../search/supernet';

/** What one row needs to produce its architecture and retrain it, for one seed, in its own folder. */
interface RowContext extends PipelineContext {
  dir: string;
  /** Shared runs (the hierarchical search) live here, so tables 4 and 5 use the same one. */
  shared: string;
  /** One promise per shared run, so that rows running at once wait for the same search instead of each running it. */
  once: <T>(key: string, run: () => Promise<T>) => Promise<T>;
}

export interface RowSpec {
  id: string;
  label: string;
  /** The ImageNet top-1 (%) the paper reports for this row's model, where the text we have gives it. */
  paperTop1?: number;
  /** What makes its model: a fixed transformer design (the default), a search, or the ResNet-proxy. */
  kind?: ModelKind;
  /** A fixed design's architecture (derived from the search config's baseline): the row retrains it. */
  design?: (config: SearchConfig) => Architecture;
  /** A searched row's model, named across tables: the rows that name the same one run the same search. */
  model?: string;
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
  const state = await supernetSearch(c, space, supernetDir, path.join(c.dir, method), method);
  return retrainStep(c, path.join(c.dir, 'retrain'), name, decode(space, state.topK[0].code));
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
const fixedRow = (c: RowContext, arch: Architecture) => retrainStep(c, c.dir, arch.name ?? 'fixed', arch);
/** A row that retrains a fixed design. */
const designedRow = (
  id: string,
  label: string,
  design: (config: SearchConfig) => Architecture,
  extra: Partial<RowSpec> = {},
): RowSpec => ({ id, label, design, run: (c) => fixedRow(c, design(c.config)), ...extra });
/** Table 6's rows: G = 1 global and L = 2 local heads in every block, the local heads' module changed. */
const oneGlobal = (config: SearchConfig) => uniformArchitecture(baselineModel(config), 1);
// Stage 1 on its own first, so that a row needing only its result (Table 4's) is done, and recorded, hours sooner.
const hierarchicalDir = (c: RowContext) => path.join(c.shared, 'hierarchical');
const hierarchicalStage1 = (c: RowContext) =>
  c.once(`${hierarchicalDir(c)} stage 1`, () => stage1(hierarchicalDir(c), c));
const hierarchical = (c: RowContext) =>
  c.once(hierarchicalDir(c), async () => {
    await hierarchicalStage1(c);
    // Not its baseline: a table compares with its own rows (Tables 3 and 4 have DeiT rows, the same model trained the
    // same way).
    return hierarchicalSearch(hierarchicalDir(c), c, { baseline: false });
  });

// The paper's ImageNet top-1 for its Tiny models (Table 3; DeiT-Tiny is Table 1's (3, 0) row and Table 4's baseline,
// GLiT-Tiny the hierarchical search's result in Tables 4 and 5); Table 4 also gives the NLP-NAS space's 73.4%.
const DEIT_TINY_TOP1 = 72.2;
const GLIT_TINY_TOP1 = 76.3;

/** The row of the hand-designed baseline, and of the hierarchical search's result (shared by tables 3, 4 and 5). */
const deitRow = (label: string): RowSpec =>
  designedRow('deit', label, (config) => loadArchitecture(config.baseline), { paperTop1: DEIT_TINY_TOP1 });
const hierarchicalRow = (id: string, label: string): RowSpec => ({
  id,
  label,
  kind: 'searched',
  model: 'hierarchical',
  paperTop1: GLIT_TINY_TOP1,
  run: async (c) => (await hierarchical(c)).found,
});

export const TABLE_SPECS: Record<TableName, TableSpec> = {
  table1: {
    title: 'Table 1: the same head distribution (G global, L local heads) in every block',
    claim: 'adding local heads to DeiT-Tiny helps; best at G = 1, L = 2',
    rows: [3, 2, 1, 0].map((g) =>
      designedRow(
        `G${g}-L${3 - g}`,
        `(${g}, ${3 - g})${g === 3 ? ' = DeiT' : ''}`,
        (config) => uniformArchitecture(baselineModel(config), g),
        g === 3 ? { paperTop1: DEIT_TINY_TOP1 } : {},
      ),
    ),
  },
  table3: {
    title: 'Table 3: the searched transformer against a ResNet and DeiT of the same FLOPs budget',
    claim:
      'GLiT beats ResNets of similar FLOPs and DeiT (on ImageNet: GLiT-Tiny 76.3%, DeiT-Tiny 72.2% top-1 at 1.4G and 1.3G FLOPs)',
    rows: [
      hierarchicalRow('glit', 'GLiT-proxy (hierarchical search)'),
      deitRow('DeiT-proxy (hand-designed)'),
      {
        id: 'resnet18',
        kind: 'resnet',
        label: 'ResNet-18-proxy, basic blocks, at the budget',
        run: async (c) => {
          const m = baselineModel(c.config);
          const config = resnetForFlops(budgetFor(c.config).maxFlops!, m.imageSize, m.inChannels, m.numClasses);
          const id = taskId(c.runner.run, c.dir);
          const spec = { kind: 'resnet' as const, dir: inRun(c.runner.run, c.dir), config, train: c.config.retrain };
          const [r] = await c.runner.runStep(id, [{ id, spec }]);
          return { ...r, arch: loadArchitecture(c.config.baseline) };
        },
      },
    ],
  },
  table4: {
    title: 'Table 4: the search space',
    claim:
      'distribution-only search beats DeiT; the full GLiT space beats an NLP-NAS style space (attention only: qkv dim and FFN ratio)',
    rows: [
      deitRow('DeiT (hand-designed)'),
      {
        id: 'distribution-only',
        kind: 'searched',
        label: 'only distribution (stage 1)',
        // Stage 1's best retraining, from the hierarchical search that the GLiT row runs anyway.
        run: async (c) => {
          const s1 = await hierarchicalStage1(c);
          return readRetrainResult(path.join(hierarchicalDir(c), 'stage1', 'retrain', s1.best.replace('stage1-', '')))!;
        },
      },
      {
        id: 'nlp-nas',
        kind: 'searched',
        label: 'NLP-NAS space',
        paperTop1: 73.4,
        run: (c) =>
          searchedRow(
            c,
            nlpNasSpace(baselineModel(c.config)),
            path.join(c.dir, 'supernet'),
            'evolution',
            'nlp-nas-best',
          ),
      },
      hierarchicalRow('glit', 'GLiT space (hierarchical)'),
    ],
  },
  table6: {
    title: 'Table 6: the local module of the local heads (G = 1 global, L = 2 local heads in every block)',
    claim:
      'the 1-D conv heads beat self-attention restricted to a local window (14, 28, 49 of 196 tokens) and a 2-D conv module (no CLS token, average-pooling head)',
    rows: [
      ...PAPER_WINDOWS.map((w) =>
        designedRow(`window-${w}`, `window attention, ${w} of 196 tokens`, (config) => {
          const base = oneGlobal(config);
          return withLocalModule(base, 'window-attention', scaleKernel(w, gridSize(base.model)));
        }),
      ),
      designedRow('conv2d', '2-D conv (no CLS, GAP head)', (config) => withLocalModule(oneGlobal(config), 'conv2d')),
      designedRow('conv1d', '1-D conv heads (GLiT)', oneGlobal),
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
        kind: 'searched',
        label: 'random search (full space)',
        run: (c) => fullSpaceRow(c, 'separate', 'random', 'random-best'),
      },
      {
        id: 'spos',
        label: 'SPOS (full space)',
        kind: 'searched',
        run: (c) => fullSpaceRow(c, 'separate', 'evolution', 'spos-best'),
      },
      // Not in the paper: SPOS with AutoFormer's weight sharing by slicing, where the flat space's 100s of candidates
      // per block share one set of weights instead of each getting only the few steps that sample it.
      {
        id: 'spos-sliced',
        kind: 'searched',
        label: 'SPOS, sliced weights (full space)',
        run: (c) => fullSpaceRow(c, 'sliced', 'evolution', 'spos-sliced-best'),
      },
      hierarchicalRow('hierarchical', 'hierarchical (GLiT)'),
    ],
  },
};

type RunResult = RowResult['runs'][number];

/**
 * What a row trains, as a key: rows of two tables with the same key train the same model the same way (a fixed
 * design's architecture, whatever its name; a searched row's named search), so one's units are the other's.
 */
export function modelKey(row: RowSpec, config: SearchConfig): string | undefined {
  if (!row.design) return row.model;
  const { model, blocks } = row.design(config);
  return JSON.stringify({ model, blocks });
}

/**
 * The finished units of `table`'s rows that other tables trained (modelKey): from the other tables' files in this run
 * folder, and from their records beside `record` (results/<table>-<scale>.json) when those were made with the same
 * settings. Each keeps its name, commit and date, and says which table it came from.
 */
function sharedUnits(
  table: TableName,
  out: string,
  config: SearchConfig,
  settings: TableSettings,
  record: string | undefined,
  log: SearchLog,
): { units: { row: string; run: RunResult }[]; stages: { from: string; files: FinishedFiles }[] } {
  const keyed = (t: TableName) => TABLE_SPECS[t].rows.map((r) => ({ id: r.id, key: modelKey(r, config) }));
  const rows = keyed(table).filter((r) => r.key);
  const found: { row: string; run: RunResult }[] = [];
  const stages: { from: string; files: FinishedFiles }[] = [];
  for (const other of TABLES.filter((t) => t !== table)) {
    const partners = keyed(other);
    const pairs = rows.flatMap((row) => partners.filter((p) => p.key === row.key).map((p) => [row.id, p.id]));
    if (!pairs.length) continue;
    const sources = [path.join(out, `${other}.json`)];
    if (record) sources.push(path.join(path.dirname(record), `${other}-${settings.scale}.json`));
    for (const file of sources.filter((f) => fs.existsSync(f))) {
      const source = readJsonFile(file, 'restore it from git, or delete it') as TableResult;
      const why = unusableTable(source, other, settings);
      if (why) {
        log(`${table}: not reading ${file}'s units: it ${why}`);
        continue;
      }
      for (const [row, partner] of pairs)
        for (const run of source.rows.find((r) => r.id === partner)?.runs ?? [])
          found.push({ row, run: { ...run, from: run.from ?? other } });
      // The stages of the searches both tables run (shared/) that the other table's run finished.
      const searches = Object.entries(source.partial ?? {}).filter(([key]) => key.startsWith('shared/'));
      if (searches.length) stages.push({ from: file, files: Object.fromEntries(searches) });
    }
  }
  return { units: found, stages };
}

/** The seed of a unit's folder in a run (`<table>/<row>/seedN/...`, `shared/seedN/...`). */
const seedOf = (key: string) => Number(/(?:^|\/)seed(\d+)\//.exec(key)?.[1]);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/** The commit this code is at, recorded with every result. */
export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Runs (or continues) every row of a table for `seeds`, writing `out`/<table>.json (and the record, if any) after each
 * unit (a row's seed). With a runner of workers, every row and seed runs at once (their tasks share the workers); in
 * this process, one after the other.
 */
export async function reproduceTable(
  table: TableName,
  out: string,
  data: DatasetSplits,
  base: SearchConfig,
  o: {
    seeds: number;
    scale: string;
    dataset: string;
    log: SearchLog;
    progress?: ProgressCallback;
    runner?: TaskRunner;
    /** The images per split the data was loaded with (part of the settings a record holds). */
    limit?: SplitLimit;
    /** A table record (lib/experiments/table-record.ts): its units are read, not rerun; each new one is added. */
    record?: string;
    /** How and where the run is made, in words, for the record (else the record's own is kept). */
    how?: string;
  },
): Promise<TableResult> {
  const spec = TABLE_SPECS[table];
  const runner = o.runner ?? inlineRunner(out, { data, log: o.log, progress: o.progress });
  const seeds = Array.from({ length: o.seeds }, (_, k) => base.seed + k);
  const settings = tableSettings(o.scale, o.dataset, o.limit, base);
  const recorded = o.record ? readTableRecord(o.record, table, settings) : undefined;
  const { backend, device } = backendInfo();
  const at = commit();
  const result: TableResult = {
    table,
    title: spec.title,
    claim: spec.claim,
    scale: o.scale,
    dataset: o.dataset,
    seeds,
    backend,
    device,
    commit: at,
    date: new Date().toISOString(),
    rows: [],
    settings,
  };
  const shared = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, run: () => Promise<T>) => {
    if (!shared.has(key)) shared.set(key, run());
    return shared.get(key) as Promise<T>;
  };
  // Every finished unit by row and seed: this folder's (a resumed run) and the record's, also seeds this run does not
  // ask for (kept in the record). Units read back keep the commit and date that made them.
  const own = path.join(out, `${table}.json`);
  const earlier = fs.existsSync(own) ? (readJsonFile(own, 'delete it to rebuild it') as TableResult) : undefined;
  const units = new Map<string, Map<number, RunResult>>(spec.rows.map((r) => [r.id, new Map()]));
  for (const source of [earlier, recorded])
    for (const row of source?.rows ?? []) for (const run of row.runs) units.get(row.id)?.set(run.seed, run);
  const lent = sharedUnits(table, out, base, settings, o.record, o.log);
  for (const { row, run } of lent.units) {
    if (units.get(row)!.has(run.seed) || !seeds.includes(run.seed)) continue;
    units.get(row)!.set(run.seed, run);
    o.log(`${table} ${row} seed ${run.seed}: read from ${run.from} (the same model, trained the same way)`);
  }
  const rowsOf = (wanted: (seed: number) => boolean): RowResult[] =>
    spec.rows.flatMap((row) => {
      const runs = [...units.get(row.id)!.values()].filter((r) => wanted(r.seed)).sort((a, b) => a.seed - b.seed);
      if (!runs.length) return [];
      const tests = runs.map((r) => r.testAccuracy);
      return [
        {
          id: row.id,
          label: row.label,
          runs,
          meanTest: mean(tests),
          stdTest: std(tests),
          meanVal: mean(runs.map((r) => r.valAccuracy)),
        },
      ];
    });
  // The finished stages of units in progress (a search's supernet EA, its retrainings), for the record: a run
  // continued elsewhere restores them into its folder and goes on from there. A seed's go once all its units are done.
  const inProgress = (): FinishedFiles => {
    const files: FinishedFiles = Object.fromEntries(
      Object.entries(recorded?.partial ?? {}).filter(([key]) => !seeds.includes(seedOf(key))),
    );
    for (const seed of seeds) {
      const open = spec.rows.filter((row) => !units.get(row.id)!.has(seed));
      if (!open.length) continue;
      Object.assign(files, finishedFiles(out, path.join('shared', `seed${seed}`)));
      for (const row of open) Object.assign(files, finishedFiles(out, path.join(table, row.id, `seed${seed}`)));
    }
    return files;
  };
  const save = (toRecord = true) => {
    result.rows = rowsOf((seed) => seeds.includes(seed));
    writeJsonAtomic(own, result);
    if (!o.record || !toRecord) return;
    const all = [...new Set([...(recorded?.seeds ?? []), ...seeds])].sort((a, b) => a - b);
    const partial = inProgress();
    const record = { ...result, seeds: all, rows: rowsOf(() => true), ...(Object.keys(partial).length && { partial }) };
    writeRecord(o.record, record, o.how ?? recorded?.how);
  };
  if (o.record) {
    const sources = [{ from: o.record, files: recorded?.partial ?? {} }, ...lent.stages];
    for (const { from, files } of sources) {
      const n = restoreFiles(out, files, from);
      if (n) o.log(`${from}: restored ${n} file(s) of finished stages into ${out}; they are read back, not redone`);
    }
  }
  // The record follows every step, so a machine lost mid-unit loses at most the steps in flight.
  const recording: TaskRunner = !o.record
    ? runner
    : {
        ...runner,
        runStep: async <S extends TaskSpec>(step: string, tasks: Task<S>[]) => {
          save();
          const outputs = await runner.runStep(step, tasks);
          save();
          return outputs;
        },
      };
  // Units read back that the record lacks (a record lost or reverted, refilled from its run folder) go in at once,
  // not only when the next unit finishes: a run stopped before then still restores them.
  if (o.record) {
    const lacking = spec.rows.reduce((n, row) => {
      const held = new Set(recorded?.rows.find((r) => r.id === row.id)?.runs.map((r) => r.seed));
      return n + [...units.get(row.id)!.keys()].filter((seed) => !held.has(seed)).length;
    }, 0);
    if (lacking) {
      save();
      o.log(`${o.record}: added ${lacking} finished unit(s) read back from ${out}`);
    }
  }
  // Seed by seed, every row of a seed: a record cut short holds whole seeds, so its rows stay comparable.
  const order = seeds.flatMap((seed) => spec.rows.map((row) => ({ row, seed })));
  await eachUnit(runner, order, async ({ row, seed }) => {
    if (units.get(row.id)!.has(seed)) return;
    const config = { ...base, seed, supernet: { ...base.supernet, seed }, retrain: { ...base.retrain, seed } };
    const r = await row.run({
      dir: path.join(out, table, row.id, `seed${seed}`),
      shared: path.join(out, 'shared', `seed${seed}`),
      data,
      config,
      log: o.log,
      progress: o.progress,
      runner: recording,
      once,
    });
    const run: RunResult = {
      seed,
      name: r.name,
      params: r.params,
      flops: r.flops,
      valAccuracy: r.valAccuracy,
      testAccuracy: r.testAccuracy,
      seconds: r.seconds,
      ...(r.valCurve && { valCurve: r.valCurve }),
      commit: at,
      date: new Date().toISOString(),
      device,
    };
    units.get(row.id)!.set(seed, run);
    save();
  });
  // The record already holds every unit: a run that trained nothing leaves it (and its commit and date) as it was.
  save(false);
  for (const row of result.rows)
    o.log(
      `${table} ${row.label}: test ${(100 * row.meanTest).toFixed(2)}%` +
        (seeds.length > 1 ? ` ± ${(100 * row.stdTest).toFixed(2)} over ${seeds.length} seeds` : ' (1 seed)'),
    );
  return result;
}
