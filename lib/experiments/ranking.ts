// How well one ranking predicts another: the statistics of the ranking-correlation study (lib/experiments/
// correlation.ts), where candidates ranked by their supernet score are compared with the same candidates ranked by
// stand-alone training. Kendall's tau-b and Spearman's rho (both handle ties), percentile bootstrap intervals, and
// the overlap of the top k.
import { Rng } from '../core/random';

/** Kendall's tau-b: concordant minus discordant pairs over the geometric mean of the untied pairs on each side. */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  checkPairs(x, y);
  let [concordant, discordant, tiedX, tiedY] = [0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const [dx, dy] = [Math.sign(x[i] - x[j]), Math.sign(y[i] - y[j])];
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiedX++;
      else if (dy === 0) tiedY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denominator = Math.sqrt((concordant + discordant + tiedX) * (concordant + discordant + tiedY));
  return denominator === 0 ? NaN : (concordant - discordant) / denominator;
}

/** Ranks from 1, ties sharing the mean of the ranks they span. */
export function ranks(x: readonly number[]): number[] {
  const order = x.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(x.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
    for (let k = start; k <= end; k++) out[order[k][1]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return out;
}

/** Spearman's rho: Pearson's correlation of the ranks. */
export function spearmanRho(x: readonly number[], y: readonly number[]): number {
  checkPairs(x, y);
  const [rx, ry] = [ranks(x), ranks(y)];
  const mean = (r: number[]) => r.reduce((a, b) => a + b, 0) / r.length;
  const [mx, my] = [mean(rx), mean(ry)];
  let [sxy, sxx, syy] = [0, 0, 0];
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** How many of the k best by `x` are among the k best by `y` (higher is better on both; ties by position). */
export function topKOverlap(x: readonly number[], y: readonly number[], k: number): number {
  checkPairs(x, y);
  const best = (v: readonly number[]) =>
    new Set(
      v
        .map((s, i) => [s, i] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k)
        .map(([, i]) => i),
    );
  const [bx, by] = [best(x), best(y)];
  return [...bx].filter((i) => by.has(i)).length;
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** The confidence level, e.g. 0.95. */
  level: number;
}

/**
 * A percentile bootstrap interval of `statistic` over pairs (x[i], y[i]), resampling pairs with replacement `draws`
 * times from a seeded generator (so a recorded interval can be recomputed exactly). Resamples whose statistic is
 * undefined (all ties) are left out.
 */
export function bootstrap(
  x: readonly number[],
  y: readonly number[],
  statistic: (x: number[], y: number[]) => number,
  o: { draws?: number; level?: number; seed?: number } = {},
): Interval {
  checkPairs(x, y);
  const [draws, level] = [o.draws ?? 2000, o.level ?? 0.95];
  const rng = new Rng(o.seed ?? 0);
  const values: number[] = [];
  for (let d = 0; d < draws; d++) {
    const pick = Array.from({ length: x.length }, () => rng.int(x.length));
    const v = statistic(
      pick.map((i) => x[i]),
      pick.map((i) => y[i]),
    );
    if (Number.isFinite(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))];
  return { estimate: statistic([...x], [...y]), low: at((1 - level) / 2), high: at(1 - (1 - level) / 2), level };
}

function checkPairs(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw new Error(`rankings of ${x.length} and ${y.length} items: they must pair up`);
  if (x.length < 2) throw new Error(`a ranking needs at least 2 items, got ${x.length}`);
}
