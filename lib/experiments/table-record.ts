// A table's record (or the correlation study's), a small JSON file meant for results/ and committed as its units (a
// row's seed, a candidate) finish: a reproduction that outlasts a session or a machine continues on another from the
// record, never retraining a unit it holds. The record names the settings that decide its numbers, so units made
// under other settings never mix in.
import * as fs from 'node:fs';
import type { SplitLimit } from '../data/datasets';
import { writeJsonAtomic } from '../io/atomic-files';
import { FileError, readJsonFile } from '../io/read-file';
import type { SearchConfig } from '../search/pipeline';
import type { TableName, TableResult, TableSettings } from './records';

export function tableSettings(
  scale: string,
  dataset: string,
  limit: SplitLimit | undefined,
  config: SearchConfig,
): TableSettings {
  const unseeded: Partial<SearchConfig> = {
    ...config,
    supernet: { ...config.supernet, seed: 0 },
    retrain: { ...config.retrain, seed: 0 },
  };
  delete unseeded.seed;
  // Through JSON, as the record is read back: undefined fields gone.
  return JSON.parse(JSON.stringify({ scale, dataset, limit: limit ?? null, config: unseeded }));
}

/** The dotted paths at which two JSON values differ (objects compared field by field, anything else whole). */
export function differences(a: unknown, b: unknown, at = ''): string[] {
  const isObject = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObject(a) && isObject(b))
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) =>
      differences(a[k], b[k], at ? `${at}.${k}` : k),
    );
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at || '(the whole value)'];
}

/**
 * The record in `file` of `what` (a table, or the correlation study: `isIt` tells) under `settings`, or undefined when
 * there is none yet. A file that records something else, no settings, or other settings is refused with what
 * differs: its units could not be compared with new ones.
 */
export function readRecord<T extends { settings?: unknown }>(
  file: string,
  what: string,
  isIt: (record: Partial<T>) => boolean,
  settings: unknown,
): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  const record = readJsonFile(file, 'restore it from git, or name a new --record file') as Partial<T>;
  const why = unusable(record, what, isIt, settings);
  if (why) throw new FileError(file, why, 'name a new --record file, or run with the settings it records');
  return record as T;
}

/** Why `record`'s units cannot join new ones of `what` made under `settings`, or undefined when they can. */
function unusable<T extends { settings?: unknown }>(
  record: Partial<T>,
  what: string,
  isIt: (record: Partial<T>) => boolean,
  settings: unknown,
): string | undefined {
  if (!isIt(record)) return `does not record ${what}`;
  if (!record.settings) return 'records no settings (it was written without --record)';
  const differ = differences(record.settings, settings);
  return differ.length
    ? `its units were made with other settings (${differ.slice(0, 6).join(', ')} differ)`
    : undefined;
}

const isTable = (table: TableName) => (r: Partial<TableResult>) => r.table === table && Array.isArray(r.rows);

export const readTableRecord = (file: string, table: TableName, settings: TableSettings) =>
  readRecord<TableResult>(file, table, isTable(table), settings);

/** Why a table's file (a run folder's <table>.json or a record) cannot lend units made under `settings`, if it cannot. */
export const unusableTable = (record: Partial<TableResult>, table: TableName, settings: TableSettings) =>
  unusable(record, table, isTable(table), settings);

/** Writes a record (atomically) with its `how`: the run's own words, else those the record had. */
export function writeRecord(file: string, record: object, how: string | undefined): void {
  writeJsonAtomic(file, how === undefined ? record : { ...record, how });
}
