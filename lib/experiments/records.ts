// What `glit reproduce` records per table (<table>.json), as plain JSON types: a leaf module, so that verdicts, figures
// and notebooks read results without importing the experiments that make them.

export const TABLES = ['table1', 'table3', 'table4', 'table5', 'table6'] as const;
export type TableName = (typeof TABLES)[number];

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
  }[];
  meanTest: number;
  stdTest: number;
  meanVal: number;
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
}
