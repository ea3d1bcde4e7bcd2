// Evolutionary and random search (lib/search/evolution.ts) on a cheap synthetic fitness: SPOS's generation structure, no
// duplicate evaluations, budgets, determinism, the EA beating random search, and resuming after an interruption
// (between or within generations) ending exactly as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetArchitecture, type BlockGene } from '../lib/model/arch';
import { evolve, randomSearch, type EvolutionState, type Fitness } from '../lib/search/evolution';
import { modelCost } from '../lib/model/flops';
import { Rng } from '../lib/core/random';
import {
  archKey,
  costRange,
  decode,
  defineSpace,
  encode,
  fullSpace,
  stage1Space,
  type SearchSpace,
} from '../lib/search/space';

const TINY = presetArchitecture('deit-tiny').model;
const PROXY = presetArchitecture('deit-proxy').model;

/**
 * Like a supernet's accuracy, mostly additive over blocks: a hidden value in [0, 1) per block and choice, averaged,
 * plus noise (sd 0.01) fixed per architecture so that a resumed run sees the same scores. Records the keys it scores.
 */
function syntheticFitness(space: SearchSpace, hiddenSeed = 12345) {
  const hidden = new Rng(hiddenSeed);
  const table = space.choices.map((c) => c.map(() => hidden.uniform()));
  const noise = new Rng(hiddenSeed + 1);
  const calls: string[] = [];
  const fitness: Fitness = async (arch, key) => {
    assert.equal(key, archKey(arch));
    calls.push(key);
    const code = encode(space, arch);
    return code.reduce((s, j, m) => s + table[m][j], 0) / code.length + 0.01 * noise.fork(key).normal();
  };
  return { fitness, calls };
}

const allEvaluations = (state: EvolutionState) => state.history.flatMap((g) => g.population);
const jsonRoundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

test("SPOS's EA: 20 generations of 50, then 25 mutants and 25 crossover children of the top 10 plus random ones, 1000 evaluations, none twice", async () => {
  const space = fullSpace(TINY);
  const { fitness, calls } = syntheticFitness(space);
  const state = await evolve(space, fitness, { seed: 1 });
  assert.equal(state.history.length, 20);
  assert.ok(state.history.every((g, i) => g.generation === i && g.population.length === 50));
  assert.ok(state.history[0].population.every((e) => e.origin === 'random'));
  for (const g of state.history.slice(1)) {
    const count = (origin: string) => g.population.filter((e) => e.origin === origin).length;
    assert.ok(count('mutation') <= 25 && count('crossover') <= 25, `generation ${g.generation}`);
    assert.equal(
      g.population.map((e) => e.origin).join(),
      [
        ...Array(count('mutation')).fill('mutation'),
        ...Array(count('crossover')).fill('crossover'),
        ...Array(count('random')).fill('random'),
      ].join(),
    );
  }
  assert.equal(calls.length, 1000);
  assert.equal(new Set(calls).size, 1000, 'no architecture evaluated twice');
  const evaluations = allEvaluations(state);
  assert.deepEqual(
    evaluations.map((e) => e.key),
    calls,
  );
  for (const e of evaluations.slice(0, 100)) {
    const arch = decode(space, e.code);
    assert.equal(e.key, archKey(arch));
    assert.equal(e.flops, modelCost(arch).flops);
    assert.equal(e.params, modelCost(arch).params);
  }
  const sorted = [...evaluations].sort((a, b) => b.score - a.score);
  assert.deepEqual(state.topK, sorted.slice(0, 10));
  for (const [i, g] of state.history.entries()) {
    const scores = g.population.map((e) => e.score);
    assert.equal(g.best, Math.max(...scores));
    assert.ok(Math.abs(g.mean - scores.reduce((s, x) => s + x) / 50) < 1e-12);
    assert.equal(g.bestSoFar, Math.max(...state.history.slice(0, i + 1).map((h) => h.best)));
  }
  assert.equal(state.pending, null);
  assert.equal(state.exhausted, false);
  assert.deepEqual(jsonRoundTrip(state), state, 'the state is plain JSON');
});

test('the EA clearly beats random search with the same 1000 evaluations', async (t) => {
  const space = fullSpace(TINY);
  const margins: number[] = [];
  for (const seed of [1, 2, 3]) {
    const ea = await evolve(space, syntheticFitness(space, 100 + seed).fitness, { seed });
    const random = await randomSearch(space, syntheticFitness(space, 100 + seed).fitness, { seed });
    assert.equal(allEvaluations(random).length, allEvaluations(ea).length);
    const [eaBest, randomBest] = [ea.topK[0].score, random.topK[0].score];
    t.diagnostic(
      `seed ${seed}: EA best ${eaBest.toFixed(3)}, random best ${randomBest.toFixed(3)}; EA population mean by generation ${ea.history.map((g) => g.mean.toFixed(2)).join(' ')}`,
    );
    assert.ok(eaBest > randomBest + 0.1, `seed ${seed}: EA ${eaBest} vs random ${randomBest}`);
    assert.ok(ea.history[10].mean > ea.history[0].mean + 0.2, 'the population improves');
    margins.push(eaBest - randomBest);
  }
  t.diagnostic(
    `mean margin ${(margins.reduce((s, x) => s + x) / margins.length).toFixed(3)} (values in [0, 1): the mean of 12 uniforms, optimum ~0.99)`,
  );
});

test('every candidate of the EA and of random search is within the FLOPs and params budget', async () => {
  const space = fullSpace(PROXY);
  const [lo, hi] = costRange(space).flops;
  const budget = { maxFlops: lo + 0.3 * (hi - lo), maxParams: 0.7e6 };
  const ea = await evolve(space, syntheticFitness(space).fitness, { seed: 5, generations: 6, budget });
  const random = await randomSearch(space, syntheticFitness(space).fitness, { seed: 5, evaluations: 300, budget });
  for (const state of [ea, random]) {
    const evaluations = allEvaluations(state);
    assert.equal(evaluations.length, 300);
    for (const e of evaluations) {
      assert.ok(
        e.flops <= budget.maxFlops && e.params <= budget.maxParams,
        `${e.key}: ${e.flops} FLOPs, ${e.params} params`,
      );
      assert.equal(e.flops, modelCost(decode(space, e.code)).flops);
    }
  }
  assert.deepEqual(ea.settings.budget, budget);
  await assert.rejects(
    evolve(space, syntheticFitness(space).fitness, { seed: 5, budget: { maxFlops: lo - 1 } }),
    /infeasible in space 'full'/,
  );
});

test('the same seed gives the same search; another seed another one', async () => {
  const space = fullSpace(PROXY);
  const options = { seed: 9, generations: 8 };
  const a = await evolve(space, syntheticFitness(space).fitness, options);
  const b = await evolve(space, syntheticFitness(space).fitness, options);
  assert.deepEqual(a, b);
  const c = await evolve(space, syntheticFitness(space).fitness, { ...options, seed: 10 });
  assert.notDeepEqual(
    c.history[0].population.map((e) => e.key),
    a.history[0].population.map((e) => e.key),
  );
  const r1 = await randomSearch(space, syntheticFitness(space).fitness, { seed: 9, evaluations: 120 });
  assert.deepEqual(await randomSearch(space, syntheticFitness(space).fitness, { seed: 9, evaluations: 120 }), r1);
});

test('stopped after a generation and resumed from the saved JSON, the EA ends exactly as an uninterrupted run', async () => {
  const space = fullSpace(TINY);
  const uninterrupted = await evolve(space, syntheticFitness(space).fitness, { seed: 4 });
  const controller = new AbortController();
  let saved = '';
  const first = syntheticFitness(space);
  const onGeneration = (state: EvolutionState) => {
    saved = JSON.stringify(state);
    if (state.history.length === 4) controller.abort();
  };
  await assert.rejects(evolve(space, first.fitness, { seed: 4, onGeneration, signal: controller.signal }), {
    name: 'AbortError',
  });
  assert.equal(first.calls.length, 200);
  const second = syntheticFitness(space);
  const resumed = await evolve(space, second.fitness, { seed: 4 }, JSON.parse(saved));
  assert.deepEqual(resumed, uninterrupted);
  assert.equal(second.calls.length, 800, 'only the generations after the saved one are evaluated');
});

test('stopped within a generation, the resumed run evaluates only what was not scored and ends the same', async () => {
  const space = fullSpace(TINY);
  const uninterrupted = await evolve(space, syntheticFitness(space).fitness, { seed: 6 });
  const controller = new AbortController();
  const first = syntheticFitness(space);
  const stopping: Fitness = async (arch, key) => {
    if (first.calls.length === 320) controller.abort(); // the 321st evaluation finishes, then the search stops
    return first.fitness(arch, key);
  };
  let saved = '';
  await assert.rejects(
    evolve(space, stopping, {
      seed: 6,
      onEvaluation: (s) => void (saved = JSON.stringify(s)),
      signal: controller.signal,
    }),
    { name: 'AbortError' },
  );
  const state: EvolutionState = JSON.parse(saved);
  assert.equal(state.history.length, 6);
  assert.equal(state.pending!.filter((c) => c.score !== null).length, 21);
  const second = syntheticFitness(space);
  assert.deepEqual(await evolve(space, second.fitness, { seed: 6 }, state), uninterrupted);
  assert.equal(second.calls.length, 1000 - 321);
  assert.ok(
    second.calls.every((key) => !first.calls.includes(key)),
    'no evaluation repeated',
  );
});

test('a finished search resumed with more generations equals a longer run; a state from another search is refused', async () => {
  const space = fullSpace(PROXY);
  const short = await evolve(space, syntheticFitness(space).fitness, { seed: 2, generations: 5 });
  const long = await evolve(space, syntheticFitness(space).fitness, { seed: 2, generations: 10 });
  assert.deepEqual(await evolve(space, syntheticFitness(space).fitness, { seed: 2, generations: 10 }, short), long);
  const fitness = syntheticFitness(space).fitness;
  await assert.rejects(
    evolve(space, fitness, { seed: 2, mutations: 20 }, short),
    /cannot resume .*: its mutations was 25, now 20/,
  );
  await assert.rejects(evolve(space, fitness, { seed: 3 }, short), /its seed was 2, now 3/);
  await assert.rejects(
    evolve(stage1Space(PROXY), fitness, { seed: 2 }, short),
    /it searched space 'full', not 'stage1'/,
  );
  await assert.rejects(
    randomSearch(space, fitness, { seed: 2 }, short),
    /it is a evolution search, not a random search/,
  );
});

test('random search: generations of `population`, the last one smaller, resumable within a generation', async () => {
  const space = fullSpace(PROXY);
  const { fitness, calls } = syntheticFitness(space);
  const whole = await randomSearch(space, fitness, { seed: 8, evaluations: 130 });
  assert.deepEqual(
    whole.history.map((g) => g.population.length),
    [50, 50, 30],
  );
  assert.ok(allEvaluations(whole).every((e) => e.origin === 'random'));
  assert.equal(new Set(calls).size, 130);
  const controller = new AbortController();
  let saved = '';
  const stopping: Fitness = async (arch, key) => {
    if (calls.length === 130 + 77) controller.abort();
    return fitness(arch, key);
  };
  await assert.rejects(
    randomSearch(space, stopping, {
      seed: 8,
      evaluations: 130,
      onEvaluation: (s) => void (saved = JSON.stringify(s)),
      signal: controller.signal,
    }),
  );
  assert.deepEqual(await randomSearch(space, fitness, { seed: 8, evaluations: 130 }, JSON.parse(saved)), whole);
  assert.equal(calls.length, 130 + 130);
});

test('a search that runs out of new architectures within the budget stops early and says so', async () => {
  const model = { ...PROXY, depth: 2 };
  const gene = (globalHeads: number): BlockGene => ({
    globalHeads,
    qkvRatio: 1,
    convExpansion: 2,
    kernelSize: 17,
    ffnRatio: 4,
  });
  const space = defineSpace('four', model, [
    [gene(0), gene(3)],
    [gene(1), gene(2)],
  ]);
  const { fitness, calls } = syntheticFitness(space);
  const state = await evolve(space, fitness, {
    seed: 1,
    population: 3,
    generations: 5,
    topK: 2,
    mutations: 1,
    crossovers: 1,
    randomTries: 200,
  });
  assert.equal(calls.length, 4);
  assert.equal(state.exhausted, true);
  assert.deepEqual(
    state.history.map((g) => g.population.length),
    [3, 1],
  );
});

test('bad settings and bad scores fail clearly', async () => {
  const space = stage1Space(PROXY);
  const { fitness } = syntheticFitness(space);
  await assert.rejects(
    evolve(space, fitness, { seed: 1, population: 40 }),
    /mutations 25 \+ crossovers 25 exceed the population 40/,
  );
  await assert.rejects(
    evolve(space, fitness, { seed: 1, topK: 0 }),
    /evolution settings\.topK: must be an integer >= 1, got 0/,
  );
  await assert.rejects(
    evolve(space, fitness, { seed: 1, mutationProbability: 1.5 }),
    /evolution settings\.mutationProbability: must be a number >= 0 and <= 1, got 1\.5/,
  );
  await assert.rejects(
    evolve(space, () => NaN, { seed: 1 }),
    /fitness of .*: expected a finite number, got NaN/,
  );
});
