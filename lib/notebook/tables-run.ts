// How notebooks 05-08 reproduce the paper's ablation tables. Live: at the notebook's scale, all four tables in one run
// folder, runs/notebooks/reproduce-<scale>-seed<seed>-<dataset>/, laid out as `glit reproduce --out` lays it out (so
// tables 4 and 5 share its hierarchical search, a rerun reads finished rows back, and `glit reproduce <table> --out
// <it> --resume` can continue it). Recorded: larger runs' results JSON, committed as results/<table>-<scale>.json for the
// cpu and converge scales (or the <table>.json of the `glit reproduce` folder GLIT_RECORDED names), shown side by side
// with the paper's ImageNet numbers and judged against its claim. The show*
// functions at the end are the cells the four notebooks share; each notebook tells its own table's story around them.
import * as aq from 'arquero';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset, type DatasetSplits } from '../data/datasets';
import { showFigure, showMarkdown, showTable } from './display';
import { ablationFlopsFigure, ablationRowsFigure, modelsFlopsFigure, type TrainedModel } from './figures';
import type { NotebookParams } from './params';
import { liveRun, notebookProgress, openNotebookSearch, ROOT, withRunner, type NotebookSearch } from './search-run';
import { formatSeconds } from '../core/progress';
import { loadArchitecture } from '../model/arch';
import { reproduceTable, TABLE_SPECS } from '../experiments/reproduce';
import { TABLES, type RowResult, type TableName, type TableResult } from '../experiments/records';
import { curveFlattened, judgeTable, type TableVerdict } from '../experiments/verdict';
import { budgetFor, type SearchConfig } from '../search/pipeline';
import { fullSpace, nlpNasSpace, spaceSize, stage1Space } from '../search/space';
import { SCALE_CONFIGS, SCALES, type Scale } from '../config/scales';

/** The scales of the committed recordings, results/<table>-<scale>.json, smallest first. */
const RECORDED_SCALES: Scale[] = ['cpu', 'converge'];

/**
 * The run folder of the live tables (one seed), continued from its config.json if it exists. Delete it to run the
 * tables again from scratch.
 */
export const notebookReproduction = (params: NotebookParams): NotebookSearch =>
  liveRun('reproduce', params, { seeds: 1 });

/** Starts the backend, records a new folder's settings in its config.json (as `glit reproduce` does) and loads the data. */
export const openNotebookReproduction = (run: NotebookSearch, params: NotebookParams): Promise<DatasetSplits> =>
  openNotebookSearch(run, params, 'reproduce');

/** Runs (or reads back) every row of `table` in the folder, logging under the cell. */
export const runNotebookTable = (table: TableName, run: NotebookSearch, data: DatasetSplits): Promise<TableResult> =>
  withRunner(run, data, (runner, { log, progress }) =>
    reproduceTable(table, run.dir, data, run.settings.config, {
      seeds: run.settings.seeds ?? 1,
      scale: run.settings.scale,
      dataset: data.name,
      log,
      progress,
      runner,
      limit: run.settings.limit,
    }),
  );

export interface Recording {
  /** Relative to the repository root when inside it. */
  file: string;
  /** null when the file does not exist (yet). */
  result: TableResult | null;
  /** A free-text note on how and where the run was made, when the file has one. */
  how?: string;
}

/** The recorded run of `table` at `scale`: results/<table>-<scale>.json, or <GLIT_RECORDED>/<table>.json. */
export function readRecording(table: TableName, scale: Scale = 'cpu', env: NodeJS.ProcessEnv = process.env): Recording {
  const given = env.GLIT_RECORDED?.trim();
  const file = given
    ? path.join(path.resolve(ROOT, given), `${table}.json`)
    : path.join(ROOT, 'results', `${table}-${scale}.json`);
  const shown = path.relative(ROOT, file).startsWith('..') ? file : path.relative(ROOT, file);
  if (!fs.existsSync(file)) return { file: shown, result: null };
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as TableResult;
  if (json.table !== table) throw new Error(`${file} holds ${json.table}, not ${table}`);
  return { file: shown, result: json, ...(json.how ? { how: json.how } : {}) };
}

/** Every recording of `table` that exists, smallest scale first (the one GLIT_RECORDED names, when set). */
export function readRecordings(table: TableName, env: NodeJS.ProcessEnv = process.env): Recording[] {
  const scales = env.GLIT_RECORDED?.trim() ? RECORDED_SCALES.slice(0, 1) : RECORDED_SCALES;
  return scales.map((scale) => readRecording(table, scale, env)).filter((r) => r.result);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const percent = (x: number) => (100 * x).toFixed(2);

const rowSeconds = (row: RowResult) => row.runs.reduce((a, x) => a + x.seconds, 0);

/** Retraining seconds summed over rows and seeds: all the JSON records of a run's time (a search's supernet and EA are not in it). */
export const retrainingSeconds = (result: TableResult): number => result.rows.reduce((a, r) => a + rowSeconds(r), 0);

/**
 * A table's rows for display: params and FLOPs (the mean over seeds: searched rows find an architecture per seed),
 * test accuracy per seed, mean ± sample standard deviation over seeds, mean val accuracy and retraining time.
 */
export function resultRows(result: TableResult): Record<string, string | number | null>[] {
  return result.rows.map((r) => ({
    row: r.label,
    'params (M)': mean(r.runs.map((x) => x.params)) / 1e6,
    'FLOPs (M)': mean(r.runs.map((x) => x.flops)) / 1e6,
    ...Object.fromEntries(
      result.seeds.map((seed) => {
        const run = r.runs.find((x) => x.seed === seed);
        // Fixed decimals, so that a column never mixes 30.10 with 32.5 (accuracies on 1,000 images step by 0.1%).
        return [`test % seed ${seed}`, run ? (100 * run.testAccuracy).toFixed(1) : null];
      }),
    ),
    'test % mean ± std':
      r.runs.length > 1 ? `${percent(r.meanTest)} ± ${percent(r.stdTest)}` : `${percent(r.meanTest)} (1 seed)`,
    'val % mean': percent(r.meanVal),
    'val curve flat': flatCount(r),
    'retraining s': rowSeconds(r),
  }));
}

/** How many of a row's final trainings ended on a flat val curve (curveFlattened), of those long enough to tell. */
function flatCount(r: RowResult): string {
  const flags = r.runs.flatMap((x) => (x.valCurve ? [curveFlattened(x.valCurve)] : [])).filter((f) => f !== null);
  return flags.length ? `${flags.filter((f) => f).length} of ${flags.length}` : '–';
}

/** How, where and when a recording was made, as rows of a table. */
export function recordingRows(recording: Recording & { result: TableResult }): { field: string; value: string }[] {
  const t = recording.result;
  return [
    { field: 'file', value: recording.file },
    ...(recording.how ? [{ field: 'how', value: recording.how }] : []),
    {
      field: 'scale',
      value: `${t.scale}${t.scale in SCALE_CONFIGS ? `: ${SCALE_CONFIGS[t.scale as Scale].description}` : ''}`,
    },
    { field: 'dataset', value: t.dataset },
    { field: 'seeds', value: t.seeds.join(', ') },
    { field: 'backend, device', value: `${t.backend} on ${t.device}` },
    { field: 'commit, date', value: `${t.commit}, ${t.date}` },
    ...sharedRows(t),
  ];
}

/** The rows whose units another table trained (the same model, trained the same way), as rows of the table above. */
function sharedRows(t: TableResult): { field: string; value: string }[] {
  const shared = t.rows.flatMap((r) => {
    const from = [...new Set(r.runs.flatMap((x) => (x.from ? [x.from] : [])))];
    return from.length ? [`${r.label}: from ${from.map(paperName).join(', ')}`] : [];
  });
  return shared.length ? [{ field: 'read from other tables', value: shared.join('; ') }] : [];
}

/** What a notebook says in place of a recording that does not exist (yet). */
export const recordingNote = (table: TableName, recording: Recording): string =>
  `*No recorded run to show: \`${recording.file}\` does not exist yet. Make one with \`npx glit reproduce ${table} --scale ` +
  `cpu --seeds 3 --out <dir> --record results/${table}-cpu.json\`, or set ` +
  `\`GLIT_RECORDED=<dir>\`; the cells below then show it, its figures and the verdict.*`;

/** How long the recorded run's retrainings took and where it ran, in a line of markdown. */
export function recordedTimeMarkdown(t: TableResult): string {
  return (
    `The ${t.scale}-scale recording retrained ${unitsLine(t)} in ` +
    `**${formatSeconds(retrainingSeconds(t))}** of retraining, with ${t.backend} on ${t.device}; dated ${t.date}, commit ${t.commit}.`
  );
}

/** The verdict's comparisons as rows of a table, in percentage points, rows named by their labels. */
export function verdictRows(result: TableResult, verdict: TableVerdict): Record<string, string | number>[] {
  const label = (id: string) => TABLE_SPECS[result.table].rows.find((r) => r.id === id)?.label ?? id;
  return verdict.comparisons.map((c) => ({
    'claimed better': label(c.better),
    'claimed worse': label(c.worse),
    'difference (pts)': c.difference === null ? '–' : 100 * c.difference,
    'noise threshold (pts)': c.threshold === null ? '–' : 100 * c.threshold,
    outcome: c.outcome,
  }));
}

/** The verdict in a line of markdown. */
export const verdictMarkdown = (verdict: TableVerdict): string =>
  `**Verdict: ${verdict.verdict}.** ${verdict.reason[0].toUpperCase()}${verdict.reason.slice(1)} (the claim as tested: ${verdict.check.statement}).`;

/** Training images in the whole training split of a built-in dataset (what presets without a limit train on), or null for others. */
export async function fullTrainImages(dataset: string): Promise<number | null> {
  if (dataset !== 'fashion-mnist' && dataset !== 'mnist') return null;
  return (await loadDataset(dataset, { onProgress: notebookProgress() })).train.count;
}

/**
 * What each scale asks of every row, against the recording: training images and epochs of a retraining (the work
 * scales with their product), the supernet and the EA of searched rows, and the retraining time at the recording's
 * speed, scaled linearly by images x epochs (assuming the recording used its scale's data limit; a GPU backend
 * runs far faster than that).
 */
export function budgetRows(
  recorded: TableResult,
  trainImages: number | null,
): Record<string, string | number | null>[] {
  const images = (scale: Scale) => SCALE_CONFIGS[scale].limit?.train ?? trainImages;
  const work = (scale: Scale) => {
    const n = images(scale);
    return n === null ? null : n * SCALE_CONFIGS[scale].search.retrain.epochs;
  };
  const base = recorded.scale in SCALE_CONFIGS ? work(recorded.scale as Scale) : null;
  return SCALES.map((scale) => {
    const s = SCALE_CONFIGS[scale].search;
    const w = work(scale);
    const ratio = w !== null && base !== null ? w / base : null;
    return {
      scale,
      'train images': images(scale) ?? 'whole split',
      retraining: `${s.retrain.epochs} epoch(s), batch ${s.retrain.batchSize}`,
      'supernet (searched rows)': `${s.supernet.epochs} epoch(s)`,
      'EA (searched rows)': `${s.evolution.generations} x ${s.evolution.population} candidates`,
      'retraining work (x recording)': ratio,
      "retraining at the recording's speed": ratio === null ? null : formatSeconds(ratio * retrainingSeconds(recorded)),
    };
  });
}

// --- the cells notebooks 05-08 share: each shows one part of a table's story ---------------------------------------

/** The labels of a table's rows, in order. */
export const rowLabels = (table: TableName): string[] => TABLE_SPECS[table].rows.map((r) => r.label);

/** The paper's name of a table, as titles give it: 'Table 1'. */
const paperName = (table: TableName): string => `Table ${table.slice('table'.length)}`;

/** Loads the data, runs (or reads back) the table live in the notebook's run folder and shows its rows. */
export async function showLiveTable(table: TableName, run: NotebookSearch, params: NotebookParams): Promise<void> {
  const data = await openNotebookReproduction(run, params);
  const live = await runNotebookTable(table, run, data);
  showMarkdown(
    `**Live, ${live.scale} scale** (${data.name}: ${data.train.count} training, ${data.test.count} test images; ` +
      `${live.backend} on ${live.device}):`,
  );
  showTable(aq.from(resultRows(live)), { maxdigits: 2 });
}

/**
 * Shows each recording of the table (how, where and when it was made, then its rows; or how to make one), then the
 * recordings side by side with the paper's ImageNet numbers; returns them, smallest scale first.
 */
export function showRecording(table: TableName): TableResult[] {
  const recordings = readRecordings(table);
  if (!recordings.length) showMarkdown(recordingNote(table, readRecording(table)));
  for (const recording of recordings) {
    const recorded = recording.result!;
    showMarkdown(`**Recorded at ${recorded.scale} scale** (${unitsLine(recorded)}):`);
    showTable(aq.from(recordingRows({ ...recording, result: recorded })));
    showTable(aq.from(resultRows(recorded)), { maxdigits: 2 });
  }
  const results = recordings.map((r) => r.result!);
  if (results.length) {
    showMarkdown(
      "**Side by side**, test accuracy (mean ± std over seeds), with the paper's ImageNet top-1 where it gives one:",
    );
    showTable(aq.from(sideBySideRows(table, results)));
  }
  return results;
}

/** How many of a recording's units (row x seed) have finished: a record being made fills in as they do. */
function unitsLine(t: TableResult): string {
  const done = t.rows.reduce((a, r) => a + r.runs.length, 0);
  const rowCount = TABLE_SPECS[t.table].rows.length;
  const all = rowCount * t.seeds.length;
  const rows = `${rowCount} rows x ${t.seeds.length} seed(s)`;
  return done === all ? `${done} models (${rows})` : `${done} of ${all} models (${rows}) so far, still being recorded`;
}

/** One line per row: its test accuracy in each recording, and the paper's ImageNet top-1 for its model. */
export function sideBySideRows(table: TableName, results: TableResult[]): Record<string, string | number>[] {
  return TABLE_SPECS[table].rows.map((spec) => {
    const cells = results.map((t) => {
      const r = t.rows.find((x) => x.id === spec.id);
      const n = r?.runs.length ?? 0;
      const value = !r
        ? '–'
        : n > 1
          ? `${percent(r.meanTest)} ± ${percent(r.stdTest)} (${n} seeds)`
          : `${percent(r.meanTest)} (1 seed)`;
      return [`${t.scale}: test %`, value];
    });
    return {
      row: spec.label,
      ...Object.fromEntries(cells),
      "paper's ImageNet top-1 % of the model": spec.paperTop1 ?? '–',
    };
  });
}

/** Each recording's test accuracies by row and seed, then against FLOPs. */
export function showRecordedFigures(recorded: TableResult[]): void {
  for (const t of recorded) {
    const name = `${paperName(t.table)}, recorded at ${t.scale} scale`;
    showFigure(ablationRowsFigure(t.rows, { title: `${name}: test accuracy by row` }));
    showFigure(ablationFlopsFigure(t.rows, { title: `${name}: test accuracy against FLOPs` }));
  }
}

/** The paper's claim, then for each recording the comparisons it is judged by and the verdict. */
export function showVerdict(table: TableName, recorded: TableResult[]): void {
  showMarkdown(`**The paper's claim:** ${TABLE_SPECS[table].claim}.`);
  for (const t of recorded) {
    const verdict = judgeTable(t);
    showMarkdown(`At **${t.scale} scale** (${unitsLine(t)}):`);
    showTable(aq.from(verdictRows(t, verdict)), { maxdigits: 2 });
    showMarkdown(verdictMarkdown(verdict));
  }
}

/** How long each recording's retrainings took, and what each scale would ask of the same table (against the first). */
export async function showBudgets(recorded: TableResult[]): Promise<void> {
  if (!recorded.length) return;
  for (const t of recorded) showMarkdown(recordedTimeMarkdown(t));
  showTable(aq.from(budgetRows(recorded[0], await fullTrainImages(recorded[0].dataset))), { maxdigits: 1 });
}

/** The spaces tables 4 and 5 search, by size, with the FLOPs budget and the EA's budget of candidates. */
export function showSearchSpaces(config: SearchConfig): void {
  const model = loadArchitecture(config.baseline).model;
  const spaces = [
    ['stage 1: head distribution (G per block)', stage1Space(model)],
    ['NLP-NAS: ev and r of plain attention blocks', nlpNasSpace(model)],
    ['full space, flat (G with every low-level choice)', fullSpace(model)],
  ] as const;
  showTable(
    aq.from(
      spaces.map(([name, space]) => {
        const size = spaceSize(space);
        const architectures = size.log10 < 9 ? size.exact : `about 1e${size.log10.toFixed(1)}`;
        return { space: name, 'choices per block': space.choices[0].length, architectures };
      }),
    ),
  );
  const e = config.evolution;
  showMarkdown(
    `FLOPs budget: ${(budgetFor(config).maxFlops! / 1e6).toFixed(2)}M. Each EA scores ` +
      `${e.generations} generations x ${e.population} candidates; random search scores as many.`,
  );
}

/**
 * Every model a table recorded trains, once each (tables 3, 4 and 5 share the hierarchical search's model), with the
 * kind of its row.
 */
export function trainedModels(results: TableResult[]): TrainedModel[] {
  const seen = new Set<string>();
  return results.flatMap((t) =>
    t.rows.flatMap((row) =>
      row.runs.flatMap((run) => {
        const key = JSON.stringify([run.seed, run.name, run.flops, run.testAccuracy]);
        if (seen.has(key)) return [];
        seen.add(key);
        const kind = TABLE_SPECS[t.table].rows.find((r) => r.id === row.id)?.kind ?? 'designed';
        const label = `${paperName(t.table)}: ${row.label}, seed ${run.seed}`;
        return [{ kind, label, flops: run.flops, params: run.params, testAccuracy: run.testAccuracy }];
      }),
    ),
  );
}

/**
 * The paper's Figure 1 at proxy scale, per recorded scale: every model of every recorded table, test accuracy against
 * FLOPs, after a table of how many models of each kind and their best.
 */
export function showEveryModel(): void {
  const recordings = TABLES.flatMap((t) => readRecordings(t)).map((r) => r.result!);
  const scales = [...new Set(recordings.map((t) => t.scale))];
  const byScale = scales.map((scale) => ({
    scale,
    models: trainedModels(recordings.filter((t) => t.scale === scale)),
  }));
  showTable(
    aq.from(
      byScale.flatMap(({ scale, models }) =>
        (['designed', 'searched', 'resnet'] as const).flatMap((kind) => {
          const of = models.filter((m) => m.kind === kind);
          if (!of.length) return [];
          const best = of.reduce((a, m) => (m.testAccuracy > a.testAccuracy ? m : a));
          return [{ scale, kind, models: of.length, 'best test %': percent(best.testAccuracy), best: best.label }];
        }),
      ),
    ),
  );
  for (const { scale, models } of byScale)
    showFigure(
      modelsFlopsFigure(models, { title: `Every model recorded at ${scale} scale: test accuracy against FLOPs` }),
    );
}
