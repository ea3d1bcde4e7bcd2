// What `npm run bench` measures, as plain data: the cases, and how many steps each runs at each scale on a CPU or a
// GPU backend. A CPU runs GLiT-Tiny at 224 px with batch 4: batch 64 takes minutes a step, and from batch ~7 one step
// needs more than wasm's 4 GB heap (tfjs keeps a step's activations and gradients until its backward pass ends).

export const SCALES = ['smoke', 'quick', 'full'] as const;
export type BenchScale = (typeof SCALES)[number];

/**
 * Warm-up steps, then `windows` timed windows of `steps` steps each (one sync at the end of a window); the result is
 * the median window. For the path-switch case `steps` is also the number of sampled paths (one switching window
 * visits each once) and each path held fixed runs `warmup` steps, then one window of `steps` steps.
 */
export interface StepPlan {
  batch: number;
  warmup: number;
  windows: number;
  steps: number;
}

export interface BenchCase {
  id: string;
  summary: string;
  /**
   * 'fixed': the preset trained as one model (glit train); 'path': the preset as a path of a supernet over the stage-2
   * space of its head distribution (the search's second stage); 'switch': the search's first stage on the preset's model,
   * a new path every step, against the same paths held fixed (ours against ours: PyTorch has no supernet here).
   */
  kind: 'fixed' | 'path' | 'switch';
  /** The architecture preset; for 'switch', the baseline whose model and FLOPs budget (as in glit search) bound the paths. */
  preset: string;
  plan: Record<BenchScale, { cpu: StepPlan; gpu: StepPlan }>;
}

/** A step plan as [batch, warmup, windows, steps]. */
type Steps = [number, number, number, number];
const step = ([batch, warmup, windows, steps]: Steps): StepPlan => ({ batch, warmup, windows, steps });
/** A case's plans: smoke (the same on both devices), then quick and full on a CPU and on a GPU. */
const plan = (smoke: Steps, quickCpu: Steps, quickGpu: Steps, fullCpu: Steps, fullGpu: Steps): BenchCase['plan'] => ({
  smoke: { cpu: step(smoke), gpu: step(smoke) },
  quick: { cpu: step(quickCpu), gpu: step(quickGpu) },
  full: { cpu: step(fullCpu), gpu: step(fullGpu) },
});

/** The training recipe both sides run (lib/train/train.ts trainStep; bench/torch_bench.py): DeiT's, without stochastic depth. */
export const BENCH_TRAIN = { lr: 1e-3, weightDecay: 0.05, labelSmoothing: 0.1, clipNorm: 1, dropPath: 0 };

/** The two proxy models are timed alike, so their ratios compare. */
const PROXY_PLAN = plan([8, 1, 2, 1], [64, 2, 3, 2], [64, 3, 5, 5], [64, 3, 5, 4], [64, 5, 7, 10]);

export const CASES: BenchCase[] = [
  {
    id: 'glit-tiny-path-224',
    summary: 'GLiT-Tiny as a supernet path (stage-2 space of its head distribution), 224 px, ImageNet head',
    kind: 'path',
    preset: 'glit-tiny',
    plan: plan([2, 1, 2, 1], [4, 1, 3, 1], [64, 3, 5, 3], [4, 2, 5, 2], [64, 5, 7, 5]),
  },
  {
    id: 'glit-proxy-28',
    summary: "glit-proxy (GLiT-Tiny's first six blocks), 28x28x1, 10 classes",
    kind: 'fixed',
    preset: 'glit-proxy',
    plan: PROXY_PLAN,
  },
  {
    id: 'deit-proxy-28',
    summary: 'deit-proxy (all-attention baseline), 28x28x1, 10 classes',
    kind: 'fixed',
    preset: 'deit-proxy',
    plan: PROXY_PLAN,
  },
  {
    id: 'path-switch-28',
    summary:
      'SPOS stage 1 on the proxy model: a new path (sampleWithin + pathModel) every step vs the same paths held fixed',
    kind: 'switch',
    preset: 'deit-proxy',
    plan: plan([8, 1, 1, 2], [64, 1, 2, 3], [64, 2, 3, 6], [64, 1, 3, 6], [64, 3, 5, 12]),
  },
];
