// Does a recorded table reproduce the paper's claim? Each claim is written as comparisons between rows ("row A has a
// higher mean test accuracy than row B"), and a comparison counts only when its gap is larger than seed-to-seed noise
// could plausibly make it: the verdict says what the runs show, and "inconclusive" when they cannot show it.
// The paper's Tables 1, 4, 5 and 6.
import type { RowResult, TableName, TableResult } from './records';

export type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive at this scale';

/** Row `better` (a row id of TABLE_SPECS) has a higher mean test accuracy than row `worse`. */
export interface Comparison {
  better: string;
  worse: string;
}

export interface ClaimCheck {
  /** The claim as the comparisons test it. */
  statement: string;
  /** The claim holds when every one of them does. */
  comparisons: Comparison[];
}

const beats = (better: string, ...worse: string[]): Comparison[] => worse.map((w) => ({ better, worse: w }));

/** The machine-checkable form of each table's claim (TABLE_SPECS[table].claim). */
export const CLAIM_CHECKS: Record<TableName, ClaimCheck> = {
  table1: {
    statement: '(1, 2) is the best row, and every row with local heads beats (3, 0) = DeiT',
    comparisons: [...beats('G1-L2', 'G3-L0', 'G2-L1', 'G0-L3'), ...beats('G2-L1', 'G3-L0'), ...beats('G0-L3', 'G3-L0')],
  },
  table3: {
    statement: 'the searched GLiT beats the ResNet of the same FLOPs budget, and DeiT',
    comparisons: beats('glit', 'resnet18', 'deit'),
  },
  table4: {
    statement: 'distribution-only search beats DeiT, and the GLiT space beats the NLP-NAS space',
    comparisons: [...beats('distribution-only', 'deit'), ...beats('glit', 'nlp-nas')],
  },
  table5: {
    statement: 'the hierarchical search beats both SPOS on the flat full space and random search',
    comparisons: beats('hierarchical', 'spos', 'random'),
  },
  table6: {
    statement: 'the 1-D conv heads beat every other local module',
    comparisons: beats('conv1d', 'window-14', 'window-28', 'window-49', 'conv2d'),
  },
};

/**
 * holds / fails: the gap is beyond the noise threshold, in the claimed direction or against it; within noise: it is
 * not; one seed: a row has a single seed, so there is no spread to judge the gap by; row missing: the results lack a
 * row (an unfinished run).
 */
export type Outcome = 'holds' | 'fails' | 'within noise' | 'one seed' | 'row missing';

export interface ComparisonResult extends Comparison {
  /** Mean test accuracy of `better` minus that of `worse` (0..1 scale); null when a row is missing. */
  difference: number | null;
  /** The smallest |difference| that counts; null without a spread (one seed, or a row missing). */
  threshold: number | null;
  outcome: Outcome;
}

export interface TableVerdict {
  verdict: Verdict;
  check: ClaimCheck;
  comparisons: ComparisonResult[];
  /** Why, in a sentence. */
  reason: string;
}

/**
 * Two-sided 5% critical values of Student's t for 1..30 degrees of freedom. Welch's fractional degrees of freedom are
 * rounded down and anything beyond 30 uses 30's value: both err towards "within noise".
 */
const T_CRITICAL_5 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tCritical(degreesOfFreedom: number): number {
  return T_CRITICAL_5[Math.min(T_CRITICAL_5.length, Math.max(1, Math.floor(degreesOfFreedom))) - 1];
}

/**
 * One comparison, by Welch's t-test over the seeds: with means m, sample standard deviations s and seed counts n of
 * the two rows, the gap d = m_better - m_worse counts when |d| > t * SE, SE = sqrt(s_b^2 / n_b + s_w^2 / n_w) and t the
 * 5% two-sided critical value at Welch's degrees of freedom (so p < 0.05). A row with one seed has no spread: the
 * comparison is then undecided, however large the gap. Two rows that did not vary over seeds at all (SE = 0) are
 * decided by the sign of the gap.
 */
export function compareRows(
  better: RowResult,
  worse: RowResult,
): Pick<ComparisonResult, 'difference' | 'threshold' | 'outcome'> {
  const difference = better.meanTest - worse.meanTest;
  const [nb, nw] = [better.runs.length, worse.runs.length];
  if (nb < 2 || nw < 2) return { difference, threshold: null, outcome: 'one seed' };
  const [vb, vw] = [better.stdTest ** 2 / nb, worse.stdTest ** 2 / nw];
  const se = Math.sqrt(vb + vw);
  const threshold = se === 0 ? 0 : tCritical((vb + vw) ** 2 / (vb ** 2 / (nb - 1) + vw ** 2 / (nw - 1))) * se;
  return {
    difference,
    threshold,
    outcome: difference > threshold ? 'holds' : difference < -threshold ? 'fails' : 'within noise',
  };
}

/**
 * The verdict on a table's claim from its recorded rows: 'reproduced' when every comparison of CLAIM_CHECKS holds
 * (compareRows), 'not reproduced' when any one fails (the runs contradict the claim beyond seed noise), and otherwise
 * 'inconclusive at this scale' (some gap is within the noise, rests on one seed, or its row is missing).
 */
export function judgeTable(result: TableResult): TableVerdict {
  const check = CLAIM_CHECKS[result.table];
  const row = (id: string) => result.rows.find((r) => r.id === id);
  const comparisons = check.comparisons.map((c): ComparisonResult => {
    const [better, worse] = [row(c.better), row(c.worse)];
    return {
      ...c,
      ...(better && worse ? compareRows(better, worse) : { difference: null, threshold: null, outcome: 'row missing' }),
    };
  });
  const count = (o: Outcome) => comparisons.filter((c) => c.outcome === o).length;
  const of = `of ${comparisons.length} comparisons`;
  if (count('fails') > 0)
    return {
      verdict: 'not reproduced',
      check,
      comparisons,
      reason: `${count('fails')} ${of} go the other way beyond seed noise`,
    };
  if (count('holds') === comparisons.length)
    return {
      verdict: 'reproduced',
      check,
      comparisons,
      reason: `all ${comparisons.length} comparisons hold beyond seed noise`,
    };
  const undecided = (['within noise', 'one seed', 'row missing'] as const)
    .filter((o) => count(o) > 0)
    .map((o) => `${count(o)} ${o}`);
  return {
    verdict: 'inconclusive at this scale',
    check,
    comparisons,
    reason: `${count('holds')} ${of} hold beyond seed noise; undecided: ${undecided.join(', ')}`,
  };
}

/** The verdict as lines of text (the CLI's): the verdict and why, then each comparison's gap against its threshold. */
export function verdictLines(result: TableResult, verdict: TableVerdict = judgeTable(result)): string[] {
  const label = (id: string) => result.rows.find((r) => r.id === id)?.label ?? id;
  const points = (x: number) => `${(100 * x).toFixed(2)} points`;
  const gap = (c: ComparisonResult) =>
    c.difference === null
      ? ''
      : ` ${c.difference >= 0 ? '+' : ''}${points(c.difference)}${c.threshold === null ? '' : ` (noise threshold ${points(c.threshold)})`},`;
  return [
    `verdict: ${verdict.verdict}: ${verdict.reason} (the claim as tested: ${verdict.check.statement})`,
    ...verdict.comparisons.map((c) => `  ${label(c.better)} against ${label(c.worse)}:${gap(c)} ${c.outcome}`),
  ];
}

/** Val accuracy (0..1 scale) that a flat curve's trend may still add over its last quarter: 1 point. */
export const FLAT_TOLERANCE = 0.01;

/**
 * Whether a training's val curve has flattened: over its last quarter of epochs (at least 3), the least-squares trend
 * adds less than FLAT_TOLERANCE per quarter (slope x epochs). A trend, not the last epochs against earlier ones: a
 * curve that rose until the last quarter and then stayed has flattened. Null for a curve under 3 epochs.
 */
export function curveFlattened(curve: number[]): boolean | null {
  const q = Math.max(3, Math.floor(curve.length / 4));
  if (curve.length < q) return null;
  const ys = curve.slice(-q);
  const [xm, ym] = [(q - 1) / 2, ys.reduce((a, b) => a + b, 0) / q];
  const slope = ys.reduce((a, y, i) => a + (i - xm) * (y - ym), 0) / ys.reduce((a, _, i) => a + (i - xm) ** 2, 0);
  return slope * q < FLAT_TOLERANCE;
}
