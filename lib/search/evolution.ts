// Evolutionary search (SPOS's EA, which the paper's search uses) and random search over a SearchSpace, any fitness.
// The whole search state is plain JSON, handed out after every evaluation and every generation, so a run killed at any
// point resumes from its last saved state and ends exactly as an uninterrupted run with the same seed would.
import type { Architecture } from '../model/arch';
import { modelCost } from '../model/flops';
import { checkEvolutionConfig, checkRange, ConfigError, SEED_RANGE } from '../config/validate';
import { Rng } from '../core/random';
import { interruptPoint } from '../core/interrupt';
import {
  archKey,
  checkBudget,
  crossoverCode,
  decode,
  mutateCode,
  sampleCode,
  withinBudget,
  type Budget,
  type SearchSpace,
} from './space';

/** Higher is better (the search pipeline: supernet validation accuracy of the path after BN recalibration). */
export type Fitness = (arch: Architecture, key: string) => Promise<number> | number;

/**
 * Scores many candidates at once (in parallel, by tasks: lib/tasks), resolving with their scores in order. A search
 * given one scores each generation's unscored candidates in one call.
 */
export type BatchFitness = (
  candidates: { arch: Architecture; key: string; code: number[]; generation: number }[],
) => Promise<number[]>;

/** The EA's knobs (a search config's `evolution`); random search uses population, topK and randomTries of them. */
export interface EvolutionConfig {
  generations: number;
  /** Candidates per generation. */
  population: number;
  /** Parents: the best topK evaluated so far, over all generations. */
  topK: number;
  mutations: number;
  crossovers: number;
  /** Per block. */
  mutationProbability: number;
  /** Attempts per wanted mutation or crossover child; the children not found are replaced by random candidates. */
  retries: number;
  /** Attempts per random candidate (new and within the budget) before the generation is left short. */
  randomTries: number;
}

/** SPOS's EA: 20 generations of 50, about 1000 evaluations in all. */
export const EVOLUTION_DEFAULTS: EvolutionConfig = {
  generations: 20,
  population: 50,
  topK: 10,
  mutations: 25,
  crossovers: 25,
  mutationProbability: 0.1,
  retries: 10,
  randomTries: 10000,
};

/** A search's settings as its saved state records them: the knobs, and what the caller decides (seed, budget). */
export interface SearchSettings extends EvolutionConfig {
  seed: number;
  /** Evaluations in all: generations * population for the EA; random search's last generation may be smaller. */
  evaluations: number;
  /** Candidates outside it are rejected before evaluation. */
  budget: Budget;
}

export type Origin = 'random' | 'mutation' | 'crossover';

/** A candidate as drawn: its key, its code in the space, and its official FLOPs and parameters. */
export interface Candidate {
  key: string;
  code: number[];
  flops: number;
  params: number;
  origin: Origin;
  generation: number;
}

export interface Evaluation extends Candidate {
  score: number;
}

export interface GenerationRecord {
  generation: number;
  /** This generation's candidates, in the order they were drawn. */
  population: Evaluation[];
  /** Best and mean score of this generation's population. */
  best: number;
  mean: number;
  /** Best score over this and all earlier generations. */
  bestSoFar: number;
}

export interface EvolutionState {
  version: 1;
  method: 'evolution' | 'random';
  /** The space's name: a state resumes only in the space it was made in. */
  space: string;
  settings: SearchSettings;
  /** Rng state after drawing the latest generation. */
  rng: number;
  /** Completed generations; every evaluation of the search is in one of them (or in pending). */
  history: GenerationRecord[];
  /**
   * The generation being evaluated: all its candidates are drawn before the first is scored, and scores are filled in
   * as they come, so a resume re-evaluates only the unscored ones.
   */
  pending: (Candidate & { score: number | null })[] | null;
  /** The best topK evaluations so far, best first (ties: earlier first). */
  topK: Evaluation[];
  /** A generation found no new candidate within the budget: the search ended early. */
  exhausted: boolean;
}

/** The search ran all its generations (or ended early): resuming it scores nothing, so it needs no supernet. */
export const searchFinished = (s: EvolutionState) => s.exhausted || s.history.length >= s.settings.generations;

export interface SearchCallbacks {
  /** After each completed generation (write the state to disk here). */
  onGeneration?: (state: EvolutionState) => void | Promise<void>;
  /** After each evaluation, with the state's pending generation partly scored. */
  onEvaluation?: (state: EvolutionState) => void | Promise<void>;
  /** Checked before each evaluation; aborting throws the signal's reason, and the last state handed out resumes. */
  signal?: AbortSignal;
}

export type EvolutionOptions = Partial<EvolutionConfig> & { seed: number; budget?: Budget } & SearchCallbacks;

export type RandomSearchOptions = Partial<Pick<EvolutionConfig, 'population' | 'topK' | 'randomTries'>> & {
  seed: number;
  /** Default: the EA's, generations * population. */
  evaluations?: number;
  budget?: Budget;
} & SearchCallbacks;

/** The EA's knobs as given, each one missing taken from EVOLUTION_DEFAULTS. */
const knobs = (given: Partial<EvolutionConfig>): EvolutionConfig =>
  Object.fromEntries(
    Object.entries(EVOLUTION_DEFAULTS).map(([k, v]) => [k, given[k as keyof EvolutionConfig] ?? v]),
  ) as unknown as EvolutionConfig;

/**
 * SPOS's EA: generation 0 is random; each later one holds `mutations` mutants and `crossovers` children of the top-k
 * so far, the rest random. Candidates over the budget or already evaluated are rejected. Returns the final state.
 */
export function evolve(
  space: SearchSpace,
  fitness: Fitness | { batch: BatchFitness },
  options: EvolutionOptions,
  resumeFrom?: EvolutionState,
): Promise<EvolutionState> {
  const c = knobs(options);
  const evaluations = c.generations * c.population;
  const settings: SearchSettings = { seed: options.seed, ...c, evaluations, budget: plainBudget(options.budget) };
  return search(space, fitness, 'evolution', settings, options, resumeFrom);
}

/** Uniform random candidates within the budget, no duplicates, in generations of `population` (same state as the EA). */
export function randomSearch(
  space: SearchSpace,
  fitness: Fitness | { batch: BatchFitness },
  options: RandomSearchOptions,
  resumeFrom?: EvolutionState,
): Promise<EvolutionState> {
  const c = knobs({ population: options.population, topK: options.topK, randomTries: options.randomTries });
  const evaluations = options.evaluations ?? EVOLUTION_DEFAULTS.generations * EVOLUTION_DEFAULTS.population;
  const settings: SearchSettings = {
    seed: options.seed,
    ...c,
    generations: Math.ceil(evaluations / c.population),
    mutations: 0,
    crossovers: 0,
    evaluations,
    budget: plainBudget(options.budget),
  };
  return search(space, fitness, 'random', settings, options, resumeFrom);
}

/** The defined limits only, in a fixed order, so that settings compare equal after a JSON round trip. */
function plainBudget(budget: Budget = {}): Budget {
  return Object.fromEntries(
    (['maxFlops', 'minFlops', 'maxParams'] as const).filter((k) => budget[k] !== undefined).map((k) => [k, budget[k]]),
  );
}

/** The ranges of lib/config/validate.ts, plus what only a search's settings have. */
function checkSettings(s: SearchSettings): void {
  checkEvolutionConfig(s, `${s.mutations + s.crossovers > 0 ? 'evolution' : 'random search'} settings`);
  checkRange(s.seed, SEED_RANGE, 'search settings.seed');
  checkRange(s.evaluations, { integer: true, min: 1 }, 'search settings.evaluations');
  if (s.mutations + s.crossovers > s.population) {
    throw new ConfigError(
      `search settings: mutations ${s.mutations} + crossovers ${s.crossovers} exceed the population ${s.population}`,
    );
  }
}

/** A saved state to continue, after checking it belongs to this search (generations and evaluations may be raised). */
function resumed(
  space: SearchSpace,
  method: EvolutionState['method'],
  settings: SearchSettings,
  from: EvolutionState,
): EvolutionState {
  const fail = (what: string): never => {
    throw new Error(`cannot resume this search from the saved state: ${what}`);
  };
  if (from.version !== 1) fail(`unknown state version ${JSON.stringify(from.version)}`);
  if (from.method !== method) fail(`it is a ${from.method} search, not a ${method} search`);
  if (from.space !== space.name) fail(`it searched space '${from.space}', not '${space.name}'`);
  for (const k of Object.keys(settings) as (keyof SearchSettings)[]) {
    if (k === 'generations' || k === 'evaluations') continue;
    const [was, now] = [JSON.stringify(from.settings[k]), JSON.stringify(settings[k])];
    if (was !== now) fail(`its ${k} was ${was}, now ${now}`);
  }
  return { ...structuredClone(from), settings };
}

async function search(
  space: SearchSpace,
  fitness: Fitness | { batch: BatchFitness },
  method: EvolutionState['method'],
  settings: SearchSettings,
  callbacks: SearchCallbacks,
  resumeFrom?: EvolutionState,
): Promise<EvolutionState> {
  checkSettings(settings);
  checkBudget(space, settings.budget);
  const state: EvolutionState = resumeFrom
    ? resumed(space, method, settings, resumeFrom)
    : {
        version: 1,
        method,
        space: space.name,
        settings,
        rng: new Rng(settings.seed).state,
        history: [],
        pending: null,
        topK: [],
        exhausted: false,
      };
  while (!searchFinished(state)) {
    const generation = state.history.length;
    if (state.pending === null) {
      const rng = new Rng(state.rng);
      const drawn = draw(space, state, rng, generation);
      state.rng = rng.state;
      if (drawn.length === 0) {
        state.exhausted = true;
        break;
      }
      state.pending = drawn.map((c) => ({ ...c, score: null }));
    }
    const unscored = state.pending.filter((c) => c.score === null);
    const scored = async (candidate: (typeof unscored)[number], score: number) => {
      if (typeof score !== 'number' || !Number.isFinite(score))
        throw new Error(`fitness of ${candidate.key}: expected a finite number, got ${score}`);
      candidate.score = score;
      await callbacks.onEvaluation?.(structuredClone(state));
    };
    if (typeof fitness === 'function') {
      for (const candidate of unscored) {
        callbacks.signal?.throwIfAborted();
        await interruptPoint();
        await scored(candidate, await fitness(decode(space, candidate.code), candidate.key));
      }
    } else if (unscored.length > 0) {
      callbacks.signal?.throwIfAborted();
      await interruptPoint();
      const scores = await fitness.batch(
        unscored.map((c) => ({ arch: decode(space, c.code), key: c.key, code: c.code, generation: c.generation })),
      );
      if (scores.length !== unscored.length)
        throw new Error(`batch fitness: ${scores.length} scores for ${unscored.length} candidates`);
      for (const [i, candidate] of unscored.entries()) await scored(candidate, scores[i]);
    }
    const population = state.pending as Evaluation[];
    state.pending = null;
    // A stable sort: among equal scores the earlier evaluation stays ahead.
    state.topK = [...state.topK, ...population].sort((a, b) => b.score - a.score).slice(0, settings.topK);
    const scores = population.map((e) => e.score);
    state.history.push({
      generation,
      population,
      best: Math.max(...scores),
      mean: scores.reduce((s, x) => s + x, 0) / scores.length,
      bestSoFar: state.topK[0].score,
    });
    await callbacks.onGeneration?.(structuredClone(state));
  }
  return state;
}

/**
 * One generation's candidates: mutants and crossover children of the top-k (none in generation 0), then random ones
 * for the rest. Each is new (not evaluated before nor drawn twice) and within the budget.
 */
function draw(space: SearchSpace, state: EvolutionState, rng: Rng, generation: number): Candidate[] {
  const s = state.settings;
  const seen = new Set(state.history.flatMap((g) => g.population.map((e) => e.key)));
  const drawn: Candidate[] = [];
  /** Up to `attempts` tries at `count` more candidates of one origin; true when all were found. */
  const add = (count: number, attempts: number, origin: Origin, make: () => number[]): boolean => {
    const target = drawn.length + count;
    for (let i = 0; i < attempts && drawn.length < target; i++) {
      const code = make();
      const arch = decode(space, code);
      const key = archKey(arch);
      if (seen.has(key)) continue;
      const cost = modelCost(arch);
      if (!withinBudget(cost, s.budget)) continue;
      seen.add(key);
      drawn.push({ key, code, flops: cost.flops, params: cost.params, origin, generation });
    }
    return drawn.length === target;
  };
  const parents = state.topK.map((e) => e.code);
  if (parents.length > 0) {
    add(s.mutations, s.mutations * s.retries, 'mutation', () =>
      mutateCode(space, rng.pick(parents), rng, s.mutationProbability),
    );
    add(s.crossovers, s.crossovers * s.retries, 'crossover', () =>
      crossoverCode(rng.pick(parents), rng.pick(parents), rng),
    );
  }
  const size = Math.min(s.population, s.evaluations - generation * s.population);
  while (drawn.length < size) {
    if (!add(1, s.randomTries, 'random', () => sampleCode(space, rng))) break; // (nearly) all of the space within the budget is seen
  }
  return drawn;
}
