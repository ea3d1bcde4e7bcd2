// A run folder's layout, and the one place that writes and reads its files. A hierarchical search (`glit search`,
// notebooks 03 and 04) lays its folder out as:
//   config.json                 {command, run: RunSettings, backend, started, code: the library's fingerprint}
//   stage1/supernet/            supernet.safetensors (state after each epoch), metrics.jsonl (one line per epoch),
//                               steps.jsonl (one per step)
//   stage1/evolution/           evolution.json (the EA's state after every evaluation), generations.jsonl, top.json
//   stage1/retrain/rankN/       a retraining (below) of the EA's Nth best
//   stage1/result.json          the chosen head distribution
//   stage2/{supernet,evolution}/ as in stage 1; stage2/retrain/ is the retraining of the found architecture
//   baseline/                   the baseline's retraining
//   best-arch.json, result.json once the whole pipeline has finished
// A retraining folder holds arch.json, train.safetensors (state after each epoch, removed at the end), metrics.jsonl,
// model.safetensors (PyTorch names) and result.json; `glit train` makes one with its own config.json. `glit supernet`
// and `glit evolve` write supernet/ and <method>/ folders; `glit reproduce` one folder per table row and seed.
// Every metrics line counts epochs from 1 (the epochs finished). Readers take a folder in any state: a run in
// progress, or killed, reads as far as it got. A record carries the small files of finished folders (finishedFiles).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { architectureToJson, parseArchitecture, type Architecture } from '../model/arch';
import type { BackendInfo } from '../kernels/backend';
import type { EvolutionState, GenerationRecord } from '../search/evolution';
import type {
  RetrainEpoch,
  RetrainResult,
  SearchResult,
  Stage1Result,
  SupernetEpoch,
  SupernetStep,
  TopCandidate,
} from '../search/records';
import { settingsFromJson, type LegacyExtra, type RunSettings, type TrainSettings } from '../config/run-settings';
import { appendJsonLine, writeFileAtomic, writeJsonAtomic } from './atomic-files';
import { readJsonFile } from './read-file';
import { codeFingerprint } from '../core/fingerprint';
import { checkSearchConfig, checkTrainConfig } from '../config/validate';

export const runFiles = (dir: string) => ({
  config: path.join(dir, 'config.json'),
  bestArch: path.join(dir, 'best-arch.json'),
  result: path.join(dir, 'result.json'),
  stage1Result: path.join(dir, 'stage1', 'result.json'),
});

export const supernetFiles = (dir: string) => ({
  state: path.join(dir, 'supernet.safetensors'),
  metrics: path.join(dir, 'metrics.jsonl'),
  steps: path.join(dir, 'steps.jsonl'),
});

export const searchFiles = (dir: string, method: EvolutionState['method']) => ({
  state: path.join(dir, `${method}.json`),
  generations: path.join(dir, 'generations.jsonl'),
  top: path.join(dir, 'top.json'),
});

export const retrainFiles = (dir: string) => ({
  arch: path.join(dir, 'arch.json'),
  state: path.join(dir, 'train.safetensors'),
  metrics: path.join(dir, 'metrics.jsonl'),
  model: path.join(dir, 'model.safetensors'),
  result: path.join(dir, 'result.json'),
});

// --- config.json ---------------------------------------------------------------------------------------------------

interface ConfigJson {
  command: string;
  run: unknown;
  started?: string;
  /** The fingerprint of the library that started the run (lib/core/fingerprint.ts); absent before it was recorded. */
  code?: string;
}

/** What made a run: its start time and the library's fingerprint, or null when the folder has no config.json. */
export function readProvenance(dir: string): { started?: string; code?: string } | null {
  const saved = readJson<ConfigJson>(runFiles(dir).config);
  return saved && { started: saved.started, code: saved.code };
}

export function writeSettings(
  dir: string,
  command: string,
  run: RunSettings | TrainSettings,
  backend: BackendInfo,
): void {
  const record = { command, run, backend, started: new Date().toISOString(), code: codeFingerprint() };
  writeJsonAtomic(runFiles(dir).config, record);
}

/** The settings of a run folder's config.json, older forms converted (settingsFromJson), or null when there is none. */
export function readSettings(dir: string): RunSettings | null {
  const file = runFiles(dir).config;
  const saved = readJson<ConfigJson>(file);
  if (!saved) return null;
  const run = settingsFromJson(saved.run as RunSettings & LegacyExtra);
  checkSearchConfig(run.config, `${file}: run.config`);
  return run;
}

/** `glit train`'s settings; an error for a folder of another command, or of `glit train` before it could resume. */
export function readTrainSettings(dir: string): TrainSettings | null {
  const saved = readJson<ConfigJson>(runFiles(dir).config);
  if (!saved) return null;
  if (saved.command !== 'train')
    throw new Error(`${dir} is a run folder of \`glit ${saved.command}\`, not of \`glit train\``);
  if (!saved.run)
    throw new Error(`${dir} was made by an older \`glit train\`, which saved no training state: start a new run`);
  checkTrainConfig((saved.run as TrainSettings).config, `${runFiles(dir).config}: run.config`);
  return saved.run as TrainSettings;
}

/** Changes fields of an existing run's settings (e.g. more seeds for `glit reproduce --resume`), in their new form. */
export function updateSettings(dir: string, changes: Pick<RunSettings, 'seeds'>): void {
  const file = runFiles(dir).config;
  const saved = readJson<ConfigJson>(file);
  if (!saved) throw new Error(`${file} does not exist`);
  writeJsonAtomic(file, { ...saved, run: { ...readSettings(dir), ...changes } });
}

// --- a supernet ----------------------------------------------------------------------------------------------------

export const appendSupernetStep = (dir: string, step: SupernetStep) => appendJsonLine(supernetFiles(dir).steps, step);
export const appendSupernetEpoch = (dir: string, epoch: SupernetEpoch) =>
  appendJsonLine(supernetFiles(dir).metrics, epoch);

export interface SupernetRecord {
  epochs: SupernetEpoch[];
  /** Every step's loss; a step redone after a resume appears once, with its latest value. */
  steps: SupernetStep[];
}

/**
 * On a (re)start: the logs as the saved state knows them, the epochs it holds and the steps up to its step; a kill
 * after the last save left lines (or half a line) that the resumed run writes again.
 */
export function rewriteSupernetLog(dir: string, epochs: SupernetEpoch[], step: number): void {
  const files = supernetFiles(dir);
  rewriteJsonLines(files.metrics, epochs);
  rewriteJsonLines(
    files.steps,
    readJsonLines<SupernetStep>(files.steps, true).filter((s) => s.step <= step),
  );
}

export function readSupernet(dir: string): SupernetRecord {
  const files = supernetFiles(dir);
  const latest = new Map(readJsonLines<SupernetStep>(files.steps).map((s) => [s.step, s]));
  return {
    epochs: readJsonLines<SupernetEpoch>(files.metrics),
    steps: [...latest.values()].sort((a, b) => a.step - b.step),
  };
}

// --- an EA or random search ----------------------------------------------------------------------------------------

export const writeSearchState = (dir: string, state: EvolutionState) =>
  writeJsonAtomic(searchFiles(dir, state.method).state, state);
export const readSearchState = (dir: string, method: EvolutionState['method']) =>
  readJson<EvolutionState>(searchFiles(dir, method).state);
export const appendGeneration = (dir: string, method: EvolutionState['method'], g: GenerationRecord) =>
  appendJsonLine(searchFiles(dir, method).generations, g);
/** On a (re)start: generations.jsonl as the saved state's history has it (see rewriteSupernetLog). */
export const rewriteGenerations = (dir: string, method: EvolutionState['method'], history: GenerationRecord[]) =>
  rewriteJsonLines(searchFiles(dir, method).generations, history);
export const writeTop = (dir: string, method: EvolutionState['method'], top: TopCandidate[]) =>
  writeJsonAtomic(searchFiles(dir, method).top, top);
/** Empty until the search has finished. */
export const readTop = (dir: string, method: EvolutionState['method']) =>
  readJson<TopCandidate[]>(searchFiles(dir, method).top) ?? [];

// --- a retraining --------------------------------------------------------------------------------------------------

export const writeRetrainArch = (dir: string, arch: Architecture) =>
  writeFileAtomic(retrainFiles(dir).arch, architectureToJson(arch));
export const appendRetrainEpoch = (dir: string, epoch: RetrainEpoch) =>
  appendJsonLine(retrainFiles(dir).metrics, epoch);
/** On a (re)start: metrics.jsonl as the saved state has it (see rewriteSupernetLog). */
export const rewriteRetrainEpochs = (dir: string, epochs: RetrainEpoch[]) =>
  rewriteJsonLines(retrainFiles(dir).metrics, epochs);
export const writeRetrainResult = (dir: string, result: RetrainResult) =>
  writeJsonAtomic(retrainFiles(dir).result, result);
/** A finished retraining's result, or null when it has not finished. */
export const readRetrainResult = (dir: string) => readJson<RetrainResult>(retrainFiles(dir).result);

/** One retraining folder: its architecture as soon as it starts, its epochs as they finish, its result at the end. */
export interface Retraining {
  dir: string;
  arch: Architecture | null;
  epochs: RetrainEpoch[];
  result: RetrainResult | null;
}

export function readRetraining(dir: string): Retraining {
  const files = retrainFiles(dir);
  // `glit train` before it became a retraining wrote 0-based epochs, with the step and lr: counted from 1 here.
  const epochs = readJsonLines<RetrainEpoch & { lr?: number }>(files.metrics).map((e) =>
    'lr' in e ? { ...e, epoch: e.epoch + 1 } : e,
  );
  return { dir, arch: readArchitecture(files.arch), epochs, result: readRetrainResult(dir) };
}

// --- a search run's results ----------------------------------------------------------------------------------------

export const writeStage1Result = (out: string, result: Stage1Result) =>
  writeJsonAtomic(runFiles(out).stage1Result, result);
export const readStage1Result = (out: string) => readJson<Stage1Result>(runFiles(out).stage1Result);
export const writeBestArch = (dir: string, arch: Architecture) =>
  writeFileAtomic(runFiles(dir).bestArch, architectureToJson(arch));
export const readBestArch = (dir: string) => readArchitecture(runFiles(dir).bestArch);
export const writeSearchResult = (out: string, result: SearchResult) => writeJsonAtomic(runFiles(out).result, result);
export const readSearchResult = (out: string) => readJson<SearchResult>(runFiles(out).result);

// --- finished work, carried in a record ---------------------------------------------------------------------------

/** Small files of finished folders by their path in the run folder ('/'-separated): JSON values, JSON lines as arrays. */
export type FinishedFiles = Record<string, unknown>;

/** A folder whose work is over: a retraining, a search, a stage or a pipeline has written its result. */
const isFinished = (dir: string) => ['result.json', 'top.json'].some((f) => fs.existsSync(path.join(dir, f)));

/**
 * The JSON and JSON-lines files of every finished folder under `run`/`under` (none of a supernet: its weights cannot
 * travel in a record, so it is trained again where its search has not finished). A record carries these so that a
 * run continued on another machine reads the work back instead of redoing it (restoreFiles).
 */
export function finishedFiles(run: string, under: string): FinishedFiles {
  const files: FinishedFiles = {};
  const visit = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    const done = isFinished(dir);
    for (const e of entries) {
      const file = path.join(dir, e.name);
      const key = path.relative(run, file).split(path.sep).join('/');
      if (e.isDirectory()) visit(file);
      else if (done && e.name.endsWith('.jsonl')) files[key] = readJsonLines(file);
      else if (done && e.name.endsWith('.json') && e.name !== 'config.json') files[key] = readJson(file);
    }
  };
  visit(path.join(run, under));
  return files;
}

/**
 * Writes those of `files` (finishedFiles) that `run` lacks; returns how many. `source` names where they came from in
 * the error for a path that would leave the run folder or a JSON-lines value that is not an array.
 */
export function restoreFiles(run: string, files: FinishedFiles, source: string): number {
  let written = 0;
  for (const [key, value] of Object.entries(files)) {
    const parts = key.split('/');
    if (path.isAbsolute(key) || parts.some((p) => p === '..' || p === '') || !/\.jsonl?$/.test(key))
      throw new Error(`${source}: '${key}' is not a JSON file's path inside a run folder; restore the record from git`);
    const file = path.join(run, ...parts);
    if (fs.existsSync(file)) continue;
    if (key.endsWith('.jsonl')) {
      if (!Array.isArray(value))
        throw new Error(`${source}: '${key}' should hold an array of lines; restore it from git`);
      rewriteJsonLines(file, value);
    } else writeJsonAtomic(file, value);
    written++;
  }
  return written;
}

// --- reading -------------------------------------------------------------------------------------------------------

/** A run file's value, or null when it does not exist yet; a damaged one is an error naming it. */
function readJson<T>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  return readJsonFile(
    file,
    'a killed run cannot leave it so (files are renamed into place whole): restore it from a copy, or start a new run',
  ) as T;
}

const readArchitecture = (file: string): Architecture | null =>
  fs.existsSync(file) ? parseArchitecture(fs.readFileSync(file, 'utf8'), file) : null;

/** Writes `values` as `file`'s lines, atomically; nothing when the file does not exist and there is nothing to write. */
function rewriteJsonLines(file: string, values: unknown[]): void {
  if (values.length === 0 && !fs.existsSync(file)) return;
  writeFileAtomic(file, values.map((v) => JSON.stringify(v) + '\n').join(''));
}

/**
 * One JSON value per line. A last line without its newline is skipped: a crash mid-append leaves that; `lenient` also
 * skips a damaged line (for logs about to be rewritten from a saved state).
 */
function readJsonLines<T>(file: string, lenient = false): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as T];
    } catch (e) {
      if (lenient) return [];
      throw new Error(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
}
