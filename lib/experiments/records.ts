// What `glit reproduce` records per table (<table>.json), as plain JSON types: a leaf module, so that verdicts, figures
// and notebooks read results without importing the experiments that make them.
import type { SplitLimit } from '../data/datasets';
import type { SearchConfig } from '../search/pipeline';

export const TABLES = ['table1', 'table3', 'table4', 'table5', 'table6'] as const;
export type TableName = (typeof TABLES)[number];

/** What makes a row's model: a fixed transformer design, an architecture search, or the ResNet-proxy (Table 3). */
export type ModelKind = 'designed' | 'searched' | 'resnet';

export interface RowResult {
  id: string;
  label: string;
  /** Per seed, in seed order. */
  runs: {
    seed: number;
    name: string;
    params: number;
    flops: number;
    valAccuracy: number;
    testAccuracy: number;
    seconds: number;
    /** Val accuracy after each epoch of the final training (absent in records made before it was kept). */
    valCurve?: number[];
    /** The commit and date of the run that made this unit (a record can span sessions and machines). */
    commit?: string;
    date?: string;
    /** The device and kernels of the run that made it (absent in units made before it was kept). */
    device?: string;
    /** The table this unit was trained for and read from (the same model, trained the same way: modelKey). */
    from?: TableName;
  }[];
  meanTest: number;
  stdTest: number;
  meanVal: number;
}

/** What decides a table's numbers besides the seeds. */
export interface TableSettings {
  scale: string;
  dataset: string;
  limit: SplitLimit | null;
  /** The search config without its seeds (each unit has its own). */
  config: Omit<SearchConfig, 'seed'>;
}

export interface TableResult {
  table: TableName;
  title: string;
  claim: string;
  scale: string;
  dataset: string;
  seeds: number[];
  backend: string;
  device: string;
  commit: string;
  date: string;
  rows: RowResult[];
  /** What decides the numbers besides the seeds (a record's key: lib/experiments/table-record.ts); absent in older records. */
  settings?: TableSettings;
  /** How and where a recording was made, in words (kept when a record is updated). */
  how?: string;
  /**
   * In a record: the small files of the finished stages of units still in progress (a search's EA, its retrainings),
   * by path in the run folder (lib/io/run-folder.ts, finishedFiles); a run continued elsewhere starts from them.
   */
  partial?: Record<string, unknown>;
}
