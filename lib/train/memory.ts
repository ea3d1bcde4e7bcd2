// Will a training step fit? An estimate from the architecture and the batch, checked before anything is allocated,
// so that a model too big for the backend is refused with the numbers instead of dying inside it (wasm: `Aborted()`;
// any backend: `Invalid typed array length`).
import { tokenCount, type Architecture } from '../model/arch';
import { modelCost } from '../model/flops';

/** tfjs-wasm's heap is one wasm32 memory: 4 GiB at most. */
const WASM_HEAP = 4 * 2 ** 30;
/**
 * tfjs keeps more than this count (intermediates of the gradients, its own buffers): the measured peaks were 3.0-3.9x
 * the estimate (docs/performance.md, memory), so a step is refused only when even 3x would not fit.
 */
const PEAK_FACTOR = 3;
/** The longest typed array a tensor can be held in (V8 on 64-bit). */
const MAX_ELEMENTS = 2 ** 32 - 1;

export interface MemoryEstimate {
  /** Weights, gradients and the two AdamW moments. */
  parameterBytes: number;
  /** What the forward pass keeps for the backward pass, for the whole batch. */
  activationBytes: number;
  /** The largest single tensor, in elements (the attention weights or the widest layer's output). */
  largestTensor: number;
}

export function estimateStepMemory(arch: Architecture, batchSize: number): MemoryEstimate {
  const { model } = arch;
  const tokens = tokenCount(model);
  const perImage = arch.blocks.reduce(
    (n, g) => {
      const convExpansion = g.globalHeads < model.heads ? (g.convExpansion ?? 1) : 0;
      // Norms, residuals, the qkv and attention outputs, the FFN's hidden layer, the conv module's expanded channels,
      // and the attention weights of each global head.
      const channels = model.width * (10 + 3 * (g.qkvRatio ?? 0) + 3 * g.ffnRatio + 4 * convExpansion);
      return n + tokens * channels + 2 * g.globalHeads * tokens * tokens;
    },
    tokens * model.width * 4,
  );
  const widest = Math.max(
    ...arch.blocks.map((g) =>
      Math.max(g.globalHeads * tokens * tokens, tokens * model.width * Math.max(g.ffnRatio, 3 * (g.qkvRatio ?? 0))),
    ),
  );
  return {
    parameterBytes: 4 * 4 * modelCost(arch).params,
    activationBytes: 4 * batchSize * perImage,
    largestTensor: batchSize * widest,
  };
}

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** Refuses a step that cannot fit on `backend`, saying what it needs and what to change. */
export function checkStepMemory(arch: Architecture, batchSize: number, backend: string): void {
  const e = estimateStepMemory(arch, batchSize);
  const what = `${arch.name ?? 'the architecture'} at batch ${batchSize}`;
  if (e.largestTensor > MAX_ELEMENTS) {
    throw new Error(
      `${what} needs a tensor of ${e.largestTensor.toExponential(2)} elements, more than the ${MAX_ELEMENTS} a typed array holds: lower the batch size, the width or the image size`,
    );
  }
  const total = PEAK_FACTOR * (e.parameterBytes + e.activationBytes);
  if (backend === 'wasm' && total > WASM_HEAP) {
    throw new Error(
      `${what} needs about ${gb(total)} for a training step (${PEAK_FACTOR}x ${gb(e.parameterBytes)} of weights, ` +
        `gradients and moments and ${gb(e.activationBytes)} of activations), more than the wasm backend's ` +
        `${gb(WASM_HEAP)} heap: ` +
        'lower the batch size or the model, or use GLIT_BACKEND=webgpu (see environment.md)',
    );
  }
}
