// Search spaces (lib/search/space.ts): sizes against the paper's counts, the candidate grids, encode/decode, sampling,
// mutation and crossover staying inside the space, and FLOPs/params budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetArchitecture, validateArchitecture, type Architecture, type BlockGene } from '../lib/model/arch';
import { modelCost } from '../lib/model/flops';
import { Rng } from '../lib/core/random';
import {
  archKey,
  checkBudget,
  costRange,
  crossover,
  decode,
  defineSpace,
  encode,
  fullSpace,
  mutate,
  nlpNasSpace,
  paperFormulaSize,
  sample,
  sampleWithin,
  spaceSize,
  stage1Space,
  stage2Space,
  type SearchSpace,
} from '../lib/search/space';

const TINY = presetArchitecture('deit-tiny').model;
const PROXY = presetArchitecture('deit-proxy').model;
const GLIT_TINY = presetArchitecture('glit-tiny');
const GLIT_PROXY = presetArchitecture('glit-proxy');
const distribution = (a: Architecture) => a.blocks.map((b) => b.globalHeads);

/** Every builder, for the model of `glit` (its distribution for stage 2). */
const spacesFor = (glit: Architecture): SearchSpace[] => [
  stage1Space(glit.model),
  stage2Space(glit.model, distribution(glit)),
  stage2Space(glit.model, distribution(glit), 'paper'),
  fullSpace(glit.model),
  nlpNasSpace(glit.model),
];
const ALL_SPACES = [...spacesFor(GLIT_TINY), ...spacesFor(GLIT_PROXY)];

const pow = (base: number, exponent: number) => (BigInt(base) ** BigInt(exponent)).toString();

test('sizes: stage 1 of Tiny 4^12, the official stage-2 grid 9^12, the paper counts 324^12 ~ 1.3e30 for the full space', () => {
  assert.equal(spaceSize(stage1Space(TINY)).exact, pow(4, 12));
  assert.equal(spaceSize(stage1Space(TINY)).count, 4 ** 12);
  assert.equal(spaceSize(stage2Space(TINY, distribution(GLIT_TINY))).exact, pow(9, 12));
  assert.equal(spaceSize(nlpNasSpace(TINY)).exact, pow(9, 12));
  const full = fullSpace(TINY);
  assert.equal(paperFormulaSize(full).exact, pow(324, 12));
  assert.equal(paperFormulaSize(full).count.toExponential(1), '1.3e+30');
  assert.ok(Math.abs(paperFormulaSize(full).log10 - 12 * Math.log10(324)) < 1e-9);
  // Distinct models: per block 27 (G = 0: E x K x r) + 2 * 81 (mixed: ev x E x K x r) + 9 (G = 3: ev x r).
  assert.equal(spaceSize(full).exact, pow(198, 12));
  // The paper's grid in stage 2: 9, 27 or 81 options per block depending on its G.
  const paper = stage2Space(TINY, distribution(GLIT_TINY), 'paper');
  assert.deepEqual(
    paper.choices.map((c) => c.length),
    distribution(GLIT_TINY).map((g) => (g === 3 ? 9 : g === 0 ? 27 : 81)),
  );
  assert.equal(paperFormulaSize(paper).exact, spaceSize(paper).exact, 'no unused fields counted when G is fixed');
  assert.equal(spaceSize(stage1Space(PROXY)).exact, pow(4, 6));
  assert.equal(paperFormulaSize(fullSpace(PROXY)).exact, pow(324, 6));
});

test('stage 1: G in 0..N with the fixed low-level choices; the kernel scales with the token grid', () => {
  const tiny = stage1Space(TINY).choices[0];
  assert.deepEqual(
    tiny.map((g) => g.globalHeads),
    [0, 1, 2, 3],
  );
  assert.deepEqual(tiny[1], { globalHeads: 1, qkvRatio: 1, convExpansion: 2, kernelSize: 31, ffnRatio: 4 });
  assert.deepEqual(
    tiny[3],
    { globalHeads: 3, qkvRatio: 1, convExpansion: null, kernelSize: null, ffnRatio: 4 },
    'canonical: no conv fields when G = N',
  );
  assert.equal(stage1Space(PROXY).choices[0][0].kernelSize, 17, '31 on the 14x14 grid is 17 on the 7x7 grid');
  assert.equal(
    stage1Space(TINY, { qkvRatio: 2, convExpansion: 4, kernelSize: 45, ffnRatio: 6 }).choices[0][2].kernelSize,
    45,
  );
  const proxyKernels = new Set(fullSpace(PROXY).choices[0].map((g) => g.kernelSize));
  assert.deepEqual(proxyKernels, new Set([null, 9, 17, 23]), '17, 31, 45 on the 14x14 grid');
});

test('the official stage-2 grid: ev x r for all-global blocks, K x E with r = 4 for all-local, E x r with ev = 1, K = 31 for mixed', () => {
  const [global, local, mixed] = stage2Space(TINY, [3, 0, 2, ...Array(9).fill(1)]).choices;
  for (const c of [global, local, mixed]) assert.equal(c.length, 9);
  assert.ok(global.every((g) => g.convExpansion === null && g.kernelSize === null));
  assert.deepEqual(new Set(global.map((g) => `${g.qkvRatio}x${g.ffnRatio}`)).size, 9);
  assert.ok(local.every((g) => g.qkvRatio === null && g.ffnRatio === 4));
  assert.deepEqual(new Set(local.map((g) => `${g.kernelSize}x${g.convExpansion}`)).size, 9);
  assert.ok(mixed.every((g) => g.qkvRatio === 1 && g.kernelSize === 31 && g.globalHeads === 2));
  assert.deepEqual(new Set(mixed.map((g) => `${g.convExpansion}x${g.ffnRatio}`)).size, 9);
  assert.ok(stage2Space(PROXY, [1, 1, 1, 1, 1, 1]).choices[0].every((g) => g.kernelSize === 17));
  assert.throws(() => stage2Space(TINY, [3, 0]), /2 entries but model.depth is 12/);
  assert.throws(() => stage2Space(PROXY, [3, 0, 4, 0, 0, 0]), /block 2: G must be an integer in 0..3, got 4/);
});

test('the published models are members of their spaces: GLiT-Tiny of its official stage-2 grid and of the full space, DeiT-Tiny of stage 1 and NLP-NAS', () => {
  const official = stage2Space(TINY, distribution(GLIT_TINY));
  assert.deepEqual(decode(official, encode(official, GLIT_TINY)).blocks, GLIT_TINY.blocks);
  assert.deepEqual(decode(fullSpace(TINY), encode(fullSpace(TINY), GLIT_TINY)).blocks, GLIT_TINY.blocks);
  assert.deepEqual(encode(stage1Space(TINY), presetArchitecture('deit-tiny')), Array(12).fill(3));
  encode(nlpNasSpace(TINY), presetArchitecture('deit-tiny'));
  encode(stage2Space(PROXY, distribution(GLIT_PROXY)), GLIT_PROXY);
});

test('encode names the block that is not in the space, and the model field that differs; decode checks its code', () => {
  assert.throws(
    () => encode(stage1Space(TINY), GLIT_TINY),
    /not in space 'stage1': block 0 gene 3\/0.5\/-\/-\/4 \(G\/ev\/E\/K\/r\) is not one of its 4 choices/,
  );
  assert.throws(() => encode(stage1Space(TINY), GLIT_PROXY), /model.imageSize is 28, the space's is 224/);
  const space = stage1Space(PROXY);
  assert.throws(() => decode(space, [0, 0, 0]), /3 entries but the space has 6 blocks/);
  assert.throws(() => decode(space, [0, 0, 4, 0, 0, 0]), /block 2: index 4 is not in 0..3/);
  assert.throws(() => decode(space, [0, 0, 0.5, 0, 0, 0]), /block 2: index 0.5/);
});

test('sample, mutate and crossover give valid canonical members of the space; encode and decode round-trip', () => {
  const rng = new Rng(7);
  for (const space of ALL_SPACES) {
    for (let i = 0; i < 100; i++) {
      const a = sample(space, rng);
      const b = sample(space, rng);
      for (const arch of [a, mutate(space, a, rng, 0.3), crossover(space, a, b, rng)]) {
        assert.deepEqual(validateArchitecture(arch, space.name), arch, `${space.name}: valid and canonical`);
        const code = encode(space, arch);
        assert.deepEqual(decode(space, code), arch);
        assert.deepEqual(encode(space, decode(space, code)), code);
      }
    }
  }
});

test('mutation changes each block with the given probability; crossover takes each block from one parent', () => {
  const space = fullSpace(TINY);
  const rng = new Rng(3);
  const a = sample(space, rng);
  const b = sample(space, rng);
  assert.deepEqual(mutate(space, a, rng, 0), a);
  let changed = 0;
  for (let i = 0; i < 200; i++)
    changed += encode(space, mutate(space, a, rng, 0.1)).filter((j, m) => j !== encode(space, a)[m]).length;
  const rate = changed / (200 * 12);
  assert.ok(rate > 0.07 && rate < 0.13, `changed blocks ${rate} (expected 0.1 * 197/198)`);
  const [codeA, codeB] = [encode(space, a), encode(space, b)];
  let fromA = 0;
  let differing = 0;
  for (let i = 0; i < 100; i++) {
    encode(space, crossover(space, a, b, rng)).forEach((j, m) => {
      assert.ok(j === codeA[m] || j === codeB[m], `block ${m} from neither parent`);
      if (codeA[m] !== codeB[m]) {
        differing++;
        if (j === codeA[m]) fromA++;
      }
    });
  }
  assert.ok(
    fromA / differing > 0.4 && fromA / differing < 0.6,
    `${fromA} of ${differing} differing blocks from the first parent`,
  );
});

test('archKey ignores unused fields and tells different models apart', () => {
  const deit = presetArchitecture('deit-tiny');
  const noisy = { ...deit, blocks: deit.blocks.map((b): BlockGene => ({ ...b, convExpansion: 4, kernelSize: 45 })) };
  assert.equal(archKey(noisy), archKey(deit));
  assert.equal(archKey(deit), Array(12).fill('3/1/-/-/4').join(' '));
  assert.notEqual(archKey(GLIT_TINY), archKey(deit));
  assert.equal(archKey(GLIT_TINY).split(' ')[1], '0/-/2/31/4');
});

test('defineSpace validates and canonicalises genes and drops duplicates', () => {
  const model = { ...PROXY, depth: 1 };
  const attention: BlockGene = { globalHeads: 3, qkvRatio: 1, convExpansion: null, kernelSize: null, ffnRatio: 4 };
  const space = defineSpace('custom', model, [[attention, { ...attention, convExpansion: 2, kernelSize: 9 }]]);
  assert.deepEqual(space.choices, [[attention]]);
  assert.throws(
    () => defineSpace('bad', model, [[attention, { ...attention, globalHeads: 0, kernelSize: 8, convExpansion: 1 }]]),
    /space 'bad' block 0 choice 1: blocks\[0\].kernelSize: K must be odd/,
  );
  assert.throws(() => defineSpace('bad', model, [[]]), /block 0 has no choices/);
  assert.throws(
    () => defineSpace('bad', model, [[attention], [attention]]),
    /2 blocks of choices but model.depth is 1/,
  );
});

test('costRange is the exact min and max of FLOPs and params (brute force on a small space), and agrees with modelCost', () => {
  const model = { ...PROXY, depth: 2 };
  const space = stage2Space(model, [1, 0], 'paper'); // 81 x 27 architectures
  const costs = space.choices[0].flatMap((_, i) => space.choices[1].map((_, j) => modelCost(decode(space, [i, j]))));
  const range = costRange(space);
  assert.deepEqual(range.flops, [Math.min(...costs.map((c) => c.flops)), Math.max(...costs.map((c) => c.flops))]);
  assert.deepEqual(range.params, [Math.min(...costs.map((c) => c.params)), Math.max(...costs.map((c) => c.params))]);
  const tiny = costRange(nlpNasSpace(TINY));
  assert.equal(
    tiny.flops[1],
    modelCost({
      model: TINY,
      blocks: Array(12).fill({ globalHeads: 3, qkvRatio: 2, convExpansion: null, kernelSize: null, ffnRatio: 6 }),
    }).flops,
  );
});

test('sampleWithin respects FLOPs and params budgets', () => {
  const space = fullSpace(TINY);
  const [lo, hi] = costRange(space).flops;
  const rng = new Rng(11);
  const budget = { maxFlops: lo + 0.4 * (hi - lo), minFlops: lo + 0.3 * (hi - lo), maxParams: 6e6 };
  for (let i = 0; i < 100; i++) {
    const cost = modelCost(sampleWithin(space, rng, budget));
    assert.ok(
      cost.flops <= budget.maxFlops && cost.flops >= budget.minFlops && cost.params <= budget.maxParams,
      JSON.stringify(cost),
    );
  }
});

test('an infeasible budget fails with the space range; a feasible but tiny one says so', () => {
  const space = fullSpace(TINY);
  const [lo, hi] = costRange(space).flops;
  assert.throws(
    () => sampleWithin(space, new Rng(1), { maxFlops: lo - 1 }, 1000),
    new RegExp(
      `infeasible in space 'full': maxFlops .* is below the smallest architecture \\(the space spans ${(lo / 1e6).toFixed(2)}M\\.\\.${(hi / 1e6).toFixed(2)}M FLOPs`,
    ),
  );
  assert.throws(() => checkBudget(space, { minFlops: hi + 1 }), /minFlops .* is above the largest architecture/);
  assert.throws(() => checkBudget(space, { minFlops: 2e9, maxFlops: 1e9 }), /minFlops > maxFlops/);
  assert.throws(() => checkBudget(space, { maxParams: 1e6 }), /maxParams 1.00M is below the smallest architecture/);
  assert.throws(
    () => sampleWithin(space, new Rng(1), { minFlops: hi - 1 }, 100),
    /no architecture .* in 100 samples; the budget is feasible/,
  );
  assert.doesNotThrow(() => checkBudget(space, { maxFlops: lo, minFlops: lo }));
});
