// The cost of SPOS's path switch: stage 1 of the search on the proxy model samples a new path every step
// (sampleWithin, then pathModel over the shared candidates). Timed against the same paths each held fixed, so the
// two differ only in the switching, not in the architectures' own cost.
import * as tf from '@tensorflow/tfjs';
import { presetArchitecture, type ModelConfig } from '../lib/model/arch';
import { createAdamW, disposeAdamW } from '../lib/train/optimizer';
import { Rng } from '../lib/core/random';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { budgetFor } from '../lib/search/pipeline';
import { sampleWithin, stage1Space } from '../lib/search/space';
import { createSupernet, disposeSupernet, pathModel } from '../lib/search/supernet';
import { BENCH_TRAIN, type BenchCase, type StepPlan } from './cases';
import { benchBatch, benchStep, profileStep, timeSteps, type StepProfile, type Timing } from './measure';

export interface SwitchResult {
  model: ModelConfig;
  /** A new path every step: each window visits plan.steps paths. */
  switching: Timing;
  /** The same paths, each trained for a window on its own: img/s of the mean step. */
  fixed: Timing;
  profile: StepProfile;
  /** The paths' head distributions (G per block). */
  paths: string[];
}

const PATH_SEED = 1;

export async function timePathSwitch(c: BenchCase, plan: StepPlan): Promise<SwitchResult> {
  const model = presetArchitecture(c.preset).model;
  const space = stage1Space(model);
  const budget = budgetFor({ ...SCALE_CONFIGS.cpu.search, baseline: c.preset });
  const net = createSupernet(space, 0);
  const batch = benchBatch(model, plan.batch);
  const optimizer = createAdamW({ weightDecay: BENCH_TRAIN.weightDecay });
  const stepRng = new Rng(0);
  let pathRng = new Rng(PATH_SEED);
  const switching = (i: number) => {
    if (i % plan.steps === 0) pathRng = new Rng(PATH_SEED); // every window draws the same paths in the same order
    return benchStep(pathModel(net, sampleWithin(space, pathRng, budget)), optimizer, batch, stepRng);
  };
  const draw = new Rng(PATH_SEED);
  const pool = Array.from({ length: plan.steps }, () => sampleWithin(space, draw, budget));
  try {
    // Warm-up: one pass over the paths creates their candidates and optimizer state, as a search's first steps do.
    const timing = await timeSteps(switching, { ...plan, warmup: plan.steps });
    const perPath: Timing[] = [];
    for (const arch of pool) {
      const fixed = pathModel(net, arch);
      perPath.push(await timeSteps(() => benchStep(fixed, optimizer, batch, stepRng), { ...plan, windows: 1 }));
    }
    // The mean step over the paths: images per second of the mean of their seconds per image.
    const meanRate = (rate: (t: Timing) => number) => perPath.length / perPath.reduce((s, t) => s + 1 / rate(t), 0);
    return {
      model,
      switching: timing,
      fixed: {
        imgPerS: meanRate((t) => t.imgPerS),
        windowS: perPath.map((t) => t.windowS[0]),
        imgPerCpuS: meanRate((t) => t.imgPerCpuS),
      },
      profile: await profileStep(() => switching(0)),
      paths: pool.map((a) => a.blocks.map((b) => b.globalHeads).join(',')),
    };
  } finally {
    tf.dispose([batch.x, batch.y]);
    disposeAdamW(optimizer);
    disposeSupernet(net);
  }
}
