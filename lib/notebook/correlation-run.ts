// The cells of notebook 09 (the ranking-correlation study, lib/experiments/correlation.ts): live, a small study in
// the notebook's own run folder, runs/notebooks/correlation-<scale>-seed<seed>-<dataset>/ (laid out as `glit
// reproduce correlation --out` lays it out, so the CLI can continue it); recorded, results/correlation-<scale>.json
// for the cpu and converge scales (or the correlation.json of the folder GLIT_RECORDED names).
import * as aq from 'arquero';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { showFigure, showMarkdown, showTable } from './display';
import { correlationFigure } from './figures';
import { ROOT, withRunner, type NotebookSearch } from './search-run';
import type { DatasetSplits } from '../data/datasets';
import {
  judgeCorrelation,
  rankingCorrelation,
  type CorrelationResult,
  type CorrelationSpace,
} from '../experiments/correlation';

/** Runs (or reads back) the study in the notebook's folder. */
export const runNotebookCorrelation = (
  run: NotebookSearch,
  data: DatasetSplits,
  o: { archs: number; spaces: CorrelationSpace[] },
): Promise<CorrelationResult> =>
  withRunner(run, data, (runner, { log, progress }) =>
    rankingCorrelation(
      run.dir,
      { data, config: run.settings.config, log, progress, runner },
      { ...o, scale: run.settings.scale, dataset: data.name },
    ),
  );

/** The recorded study at `scale`: results/correlation-<scale>.json, or <GLIT_RECORDED>/correlation.json. */
export function readCorrelationRecording(
  scale = 'cpu',
  env: NodeJS.ProcessEnv = process.env,
): { file: string; result: CorrelationResult | null } {
  const given = env.GLIT_RECORDED?.trim();
  const file = given
    ? path.join(path.resolve(ROOT, given), 'correlation.json')
    : path.join(ROOT, 'results', `correlation-${scale}.json`);
  return {
    file: path.relative(ROOT, file),
    result: fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CorrelationResult) : null,
  };
}

/**
 * Every recorded study (the cpu and converge scales, or the one GLIT_RECORDED names): each finished space's table,
 * verdict and figure, and how far the spaces still being studied have got.
 */
export function showRecordedCorrelations(env: NodeJS.ProcessEnv = process.env): void {
  const scales = env.GLIT_RECORDED?.trim() ? ['cpu'] : ['cpu', 'converge'];
  const found = scales.map((s) => readCorrelationRecording(s, env)).filter((r) => r.result);
  if (!found.length)
    showMarkdown(`*No recorded study: \`${readCorrelationRecording('cpu', env).file}\` does not exist yet.*`);
  for (const { file, result } of found) {
    const r = result!;
    showMarkdown(`**Recorded at ${r.scale} scale** (\`${file}\`${r.how ? `; ${r.how}` : ''}):`);
    const going = Object.entries(r.partial ?? {}).map(
      ([space, p]) => `${space}: ${p!.trained.filter((t) => t).length} of ${p!.codes.length} candidates trained`,
    );
    if (going.length) showMarkdown(`Still being recorded: ${going.join('; ')}.`);
    if (r.spaces.length) showCorrelation(r, `Recorded study, ${r.scale} scale`);
  }
}

/** A study's table (one row per space), verdict and figure. */
export function showCorrelation(result: CorrelationResult, title: string): void {
  const interval = (i: { estimate: number; low: number; high: number }) =>
    `${i.estimate.toFixed(2)} [${i.low.toFixed(2)}, ${i.high.toFixed(2)}]`;
  showTable(
    aq.from(
      result.spaces.map((s) => ({
        space: s.label,
        candidates: s.candidates.length,
        "Kendall's tau [95% CI]": interval(s.kendall),
        "Spearman's rho [95% CI]": interval(s.spearman),
        [`top-k overlap`]: `${s.top.overlap} of ${s.top.k}`,
      })),
    ),
  );
  const v = judgeCorrelation(result);
  showMarkdown(
    v
      ? `**Verdict: ${v.verdict}.** ${v.reason} (the claim as tested: stage 1's space ranks its candidates better than the flat full space; ${result.archs} candidates per space, stand-alone ${result.standalone.epochs} epochs on ${result.standalone.trainImages} images, ${result.scale} scale, ${result.backend} on ${result.device}, commit ${result.commit}).`
      : '*No verdict: the study needs both the stage1 and the full space.*',
  );
  showFigure(correlationFigure(result, { title }));
}
