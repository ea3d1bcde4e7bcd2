// Our side of a 'fixed' or 'path' case: build the model (or the supernet and its path), time its training steps and
// profile one more.
import * as tf from '@tensorflow/tfjs';
import { presetArchitecture, type Architecture } from '../lib/model/arch';
import { disposeModel, initModel } from '../lib/model/model';
import { createAdamW, disposeAdamW } from '../lib/train/optimizer';
import { Rng } from '../lib/core/random';
import { stage2Space } from '../lib/search/space';
import { createSupernet, disposeSupernet, pathModel } from '../lib/search/supernet';
import { fixedModel, type Trainable } from '../lib/train/train';
import { BENCH_TRAIN, type BenchCase, type StepPlan } from './cases';
import { benchBatch, benchStep, profileStep, timeSteps, type StepProfile, type Timing } from './measure';

export interface TrainCaseResult {
  arch: Architecture;
  timing: Timing;
  profile: StepProfile;
}

function build(kind: 'fixed' | 'path', arch: Architecture): { model: Trainable; dispose: () => void } {
  if (kind === 'fixed') {
    const params = initModel(arch, 0);
    return { model: fixedModel(params, arch), dispose: () => disposeModel(params) };
  }
  const net = createSupernet(
    stage2Space(
      arch.model,
      arch.blocks.map((b) => b.globalHeads),
    ),
    0,
  );
  return { model: pathModel(net, arch), dispose: () => disposeSupernet(net) };
}

export async function timeTrainCase(
  c: BenchCase & { kind: 'fixed' | 'path' },
  plan: StepPlan,
): Promise<TrainCaseResult> {
  const arch = presetArchitecture(c.preset);
  const { model, dispose } = build(c.kind, arch);
  const batch = benchBatch(arch.model, plan.batch);
  const optimizer = createAdamW({ weightDecay: BENCH_TRAIN.weightDecay });
  const rng = new Rng(0);
  const step = () => benchStep(model, optimizer, batch, rng);
  try {
    return { arch, timing: await timeSteps(step, plan), profile: await profileStep(step) };
  } finally {
    tf.dispose([batch.x, batch.y]);
    disposeAdamW(optimizer);
    dispose();
  }
}
