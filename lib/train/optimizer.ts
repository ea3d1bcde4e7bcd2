// AdamW (decoupled weight decay, PyTorch's semantics), global-norm gradient clipping and the cosine learning-rate
// schedule with linear warm-up: DeiT's recipe. tfjs has no AdamW, and its Adam keeps one step count for all
// variables; a single-path supernet needs PyTorch's per-parameter counts (a path not sampled does not step).
import * as tf from '@tensorflow/tfjs';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };

/** Optimizer state as plain data, keyed by parameter name (checkpointable). */
export interface AdamWState {
  config: AdamWConfig;
  steps: Map<string, number>;
  m: Map<string, tf.Variable>;
  v: Map<string, tf.Variable>;
}

export const createAdamW = (config: Partial<AdamWConfig> = {}): AdamWState => ({
  config: { ...ADAMW_DEFAULTS, ...config },
  steps: new Map(),
  m: new Map(),
  v: new Map(),
});

/** DeiT/timm: no weight decay on biases, norm weights (every 1-D parameter), the CLS token and the position embedding. */
export const decays = (name: string, variable: tf.Variable): boolean =>
  variable.rank > 1 &&
  name !== 'cls_token' &&
  name !== 'pos_embed' &&
  !name.endsWith('.cls_token') &&
  !name.endsWith('.pos_embed');

/**
 * One AdamW step for the variables that have gradients (others keep their values and step counts):
 *   p <- p * (1 - lr * wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr * m_hat / (sqrt(v_hat) + eps)
 */
export function adamWStep(
  state: AdamWState,
  variables: Map<string, tf.Variable>,
  grads: Map<string, tf.Tensor>,
  lr: number,
): void {
  const { beta1, beta2, eps, weightDecay } = state.config;
  for (const [name, grad] of grads) {
    const p = variables.get(name);
    if (!p) throw new Error(`adamWStep: gradient for unknown parameter '${name}'`);
    const step = (state.steps.get(name) ?? 0) + 1;
    state.steps.set(name, step);
    if (!state.m.has(name)) {
      state.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      state.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
    const m = state.m.get(name)!;
    const v = state.v.get(name)!;
    tf.tidy(() => {
      const newM = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
      const newV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
      const bias1 = 1 - beta1 ** step;
      const bias2 = 1 - beta2 ** step;
      const decayed = decays(name, p) ? tf.mul(p, 1 - lr * weightDecay) : p;
      const update = tf.div(newM, tf.add(tf.div(tf.sqrt(newV), Math.sqrt(bias2)), eps));
      m.assign(newM);
      v.assign(newV);
      p.assign(tf.sub(decayed, tf.mul(update, lr / bias1)));
    });
  }
}

export function disposeAdamW(state: AdamWState): void {
  for (const t of [...state.m.values(), ...state.v.values()]) t.dispose();
  state.m.clear();
  state.v.clear();
  state.steps.clear();
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (PyTorch's clip_grad_norm_). Returns new tensors and the
 * norm before clipping as a scalar tensor; no GPU-to-CPU read, so it does not stall the pipeline.
 */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  // A chain of adds, not tf.addN: webgpu's AddN binds every input at once and exceeds the 8 storage buffers per stage
  // that WebGPU guarantees.
  const norm = tf.tidy(
    () => tf.sqrt([...grads.values()].map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b))) as tf.Scalar,
  );
  const scale = tf.tidy(() => tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1));
  const clipped = new Map([...grads].map(([name, g]) => [name, tf.mul(g, scale)] as [string, tf.Tensor]));
  scale.dispose();
  return { grads: clipped, norm };
}

export interface ScheduleConfig {
  baseLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Learning rate at step 0 of the warm-up (timm's warmup_lr). */
  warmupLr?: number;
}

/** Linear warm-up from warmupLr to baseLr, then half a cosine from baseLr down to minLr at totalSteps. */
export function learningRate(s: ScheduleConfig, step: number): number {
  const warmupLr = s.warmupLr ?? 1e-6;
  if (step < s.warmupSteps) return warmupLr + ((s.baseLr - warmupLr) * step) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.minLr + 0.5 * (s.baseLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
