// `glit search`: the whole hierarchical search (stage 1, stage 2, the baseline), resumable.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { DATASET_SPEC_HELP, DEFAULT_DATASET, loadDataset, parseLimit, type SplitLimit } from '../data';
import { writeJsonAtomic } from '../files';
import { formatSeconds } from '../progress';
import { parseScale, SCALE_PRESETS, SCALES, type Scale } from '../scale';
import { hierarchicalSearch, type RetrainResult, type SearchConfig } from '../search';
import { numberOption, parseCommandArgs, UsageError, type Command } from './command';

/** What a run folder's config.json holds: enough to resume the run exactly. */
interface SearchRun {
  dataset: string;
  scale: Scale;
  limit?: SplitLimit;
  config: SearchConfig;
}

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new UsageError(`--config: ${file} does not exist`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config: ${file} is not valid JSON (${(e as Error).message})`);
  }
}

/** The preset with the fields of `overrides` replaced (objects such as evolution or retrain are merged one level). */
function overrideConfig(preset: SearchConfig, overrides: unknown): SearchConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new UsageError('--config must hold a JSON object');
  const out: Record<string, unknown> = { ...preset };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in preset)) throw new UsageError(`--config: unknown field '${key}'; the fields are ${Object.keys(preset).join(', ')}`);
    const current = (preset as unknown as Record<string, unknown>)[key];
    out[key] = typeof current === 'object' && current !== null ? { ...current, ...(value as object) } : value;
  }
  return out as unknown as SearchConfig;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const row = (r: RetrainResult) => `${r.name.padEnd(14)} ${(r.params / 1e6).toFixed(3)}M params  ${(r.flops / 1e6).toFixed(1)}M FLOPs  val ${pct(r.valAccuracy)}  test ${pct(r.testAccuracy)}`;

export const searchCommand: Command = {
  name: 'search',
  summary: 'run the hierarchical search (stage 1: head distribution, stage 2: details) and retrain the result',
  help: `usage: npx glit search --out DIR [--preset cpu] [options]
       npx glit search --out DIR --resume

Stage 1 trains a supernet over each block's global/local head distribution, searches it with the EA and retrains
the best few; stage 2 trains a supernet over the low-level choices with that distribution fixed, searches it and
retrains the best. The DeiT-style baseline is retrained with the same budget. Everything lands in DIR:
config.json, stage1/ and stage2/ (supernet/ metrics and state, evolution/ generations and state, retrain/ results
and model.safetensors), baseline/, best-arch.json, result.json.
  --out DIR        the run folder (required)
  --resume         continue the run in DIR from where it stopped (its config.json decides everything else)
  --preset SCALE   ${SCALES.map((s) => `${s}: ${SCALE_PRESETS[s].description}`).join('\n                   ')}
                   (default cpu)
  --dataset SPEC   ${DATASET_SPEC_HELP} (default ${DEFAULT_DATASET})
  --limit SPEC     images per split, e.g. 2000 or train=2000,val=500,test=1000 (overrides the preset)
  --seed N         (default 0)
  --config FILE    a JSON object overriding any field of the preset's search config (see SearchConfig in
                   lib/search.ts), e.g. {"baseline": "my-arch.json", "evolution": {"generations": 10}}
  --json           print the result as JSON on stdout
The backend comes from GLIT_BACKEND (see environment.md).`,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        out: { type: 'string' },
        resume: { type: 'boolean' },
        preset: { type: 'string' },
        dataset: { type: 'string' },
        limit: { type: 'string' },
        seed: { type: 'string' },
        config: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (!values.out) throw new UsageError('--out DIR is required');
    const out = path.resolve(values.out);
    const configFile = path.join(out, 'config.json');
    let run: SearchRun;
    if (values.resume) {
      if (!fs.existsSync(configFile)) throw new UsageError(`--resume: ${configFile} does not exist: start the run without --resume`);
      for (const flag of ['preset', 'dataset', 'limit', 'seed', 'config'] as const) {
        if (values[flag] !== undefined) throw new UsageError(`--resume takes its settings from ${configFile}: drop --${flag}`);
      }
      run = JSON.parse(fs.readFileSync(configFile, 'utf8')).run as SearchRun;
    } else {
      if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new UsageError(`${out} is not empty: pass --resume to continue the run in it, or choose a new --out`);
      let scale: Scale;
      try {
        scale = parseScale(values.preset ?? 'cpu', '--preset');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const preset = SCALE_PRESETS[scale];
      const seed = numberOption(values.seed, 'seed') ?? 0;
      const base = values.config ? overrideConfig(preset.search, readJson(values.config)) : preset.search;
      const withSeed = <T extends { seed: number }>(c: T): T => ({ ...c, seed });
      const config = { ...base, seed, supernet: withSeed(base.supernet), retrain: withSeed(base.retrain) };
      run = { dataset: values.dataset ?? DEFAULT_DATASET, scale, limit: values.limit ? parseLimit(values.limit) : preset.limit, config };
    }
    const backend = await initBackend();
    console.error(`glit search: ${describeBackend(backend)}`);
    if (!values.resume) writeJsonAtomic(configFile, { run, backend, started: new Date().toISOString() });
    const data = await loadDataset(run.dataset, { seed: run.config.seed, limit: run.limit });
    console.error(`glit search: ${data.name} (train ${data.train.count}, val ${data.val.count}, test ${data.test.count}), preset ${run.scale}, out ${out}`);
    const started = Date.now();
    const result = await hierarchicalSearch(out, data, run.config, (line) => console.error(`[${formatSeconds((Date.now() - started) / 1000)}] ${line}`));
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`head distribution (G per block): [${result.distribution}]`);
      console.log(`found architecture: ${path.join(out, 'best-arch.json')}`);
      console.log(row(result.found));
      console.log(row(result.baseline));
      console.log(`(${formatSeconds((Date.now() - started) / 1000)} this session, on ${describeBackend(backend)})`);
    }
  },
};
