// Timing our training steps the way bench/torch_bench.py times PyTorch's: warm-up steps, then windows of steps each
// ended by one read of the loss (the only GPU-to-CPU sync), and the median window, by the wall clock and by the
// process's CPU time (which other processes on a shared machine barely move, for single-threaded CPU runs). Plus one
// profiled step for the peak memory and the kernel times.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../lib/model/arch';
import type { AdamWState } from '../lib/train/optimizer';
import type { Rng } from '../lib/core/random';
import { trainStep, type Trainable } from '../lib/train/train';
import { BENCH_TRAIN, type StepPlan } from './cases';

/** One training step; `i` counts steps from 0 (warm-up included). Returns the loss, which the caller disposes. */
export type Step = (i: number) => tf.Scalar;

export interface Timing {
  imgPerS: number;
  windowS: number[];
  /** Images per second of this process's CPU time (user + system), median window. */
  imgPerCpuS: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

export async function timeSteps(step: Step, plan: StepPlan): Promise<Timing> {
  let i = 0;
  for (let w = 0; w < plan.warmup; w++) {
    const loss = step(i++);
    await loss.data();
    loss.dispose();
  }
  const windowS: number[] = [];
  const cpuS: number[] = [];
  for (let w = 0; w < plan.windows; w++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (let s = 0; s < plan.steps; s++) {
      const loss = step(i++);
      if (s === plan.steps - 1) await loss.data();
      loss.dispose();
    }
    const used = process.cpuUsage(cpu);
    windowS.push((performance.now() - start) / 1000);
    cpuS.push((used.user + used.system) / 1e6);
  }
  const images = plan.batch * plan.steps;
  return { imgPerS: images / median(windowS), windowS, imgPerCpuS: images / median(cpuS) };
}

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

export interface StepProfile {
  /** tf.profile's peakBytes: the most bytes held in tensors during the step (weights and optimizer state included). */
  peakMb: number;
  /** Summed kernel time by kernel, largest first. */
  kernels: KernelTime[];
  kernelCount: number;
}

export async function profileStep(step: () => tf.Scalar): Promise<StepProfile> {
  const info = await tf.profile(async () => {
    const loss = step();
    await loss.data();
    loss.dispose();
  });
  const byName = new Map<string, KernelTime>();
  const backend = tf.getBackend();
  for (const k of info.kernels) {
    // Custom-gradient ops are recorded under their scope's name around kernels that are recorded themselves: count
    // registered kernels only.
    if (!tf.getKernel(k.name, backend)) continue;
    const entry = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls++;
    byName.set(k.name, entry);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { peakMb: info.peakBytes / 2 ** 20, kernels, kernelCount: kernels.reduce((n, k) => n + k.calls, 0) };
}

/** What every case trains on: one fixed batch of seeded noise in the model's input shape (data loading is not timed). */
export function benchBatch(model: ModelConfig, batch: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomNormal([batch, model.imageSize, model.imageSize, model.inChannels], 0, 1, 'float32', 1) as tf.Tensor4D,
    y: tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % model.numClasses),
      'int32',
    ),
  };
}

/** lib/train/train.ts's step with the bench's recipe, which torch_bench.py runs too. */
export const benchStep = (
  model: Trainable,
  optimizer: AdamWState,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  rng: Rng,
): tf.Scalar => trainStep({ model, optimizer, x: batch.x, y: batch.y, lr: BENCH_TRAIN.lr, config: BENCH_TRAIN, rng });
