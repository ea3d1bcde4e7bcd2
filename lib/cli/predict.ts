// `glit predict`: logits of a checkpoint on images given as a float32 NCHW .npy array (PyTorch's convention).
import * as tf from '@tensorflow/tfjs';
import { flags, parseCommandArgs, UsageError, type Command } from './command';
import { loadArchitecture, PRESETS, type Architecture } from '../model/arch';
import { describeBackend, initBackend } from '../kernels/backend';
import { loadCheckpoint, readCheckpoint, type Checkpoint } from '../io/checkpoint';
import { forward, initModel, disposeModel, namedVariables } from '../model/model';
import { readNpy, type NpyArray } from '../io/npy';

/** Images per forward pass: bounds memory on large inputs; eval-mode logits do not depend on it. */
const CHUNK = 32;

/** Logits [B, classes] of NCHW images, in eval mode. */
async function predict(
  arch: Architecture,
  checkpoint: Checkpoint,
  checkpointFile: string,
  images: NpyArray,
): Promise<number[][]> {
  const params = initModel(arch, 0);
  try {
    loadCheckpoint(params, arch, checkpoint);
    for (const [name, v] of namedVariables(params)) {
      const bad = firstNonFinite(v.dataSync());
      if (bad !== null)
        throw new Error(
          `${checkpointFile}: tensor '${name}' holds ${bad.value} at element ${bad.index}: the weights are damaged (a diverged run?)`,
        );
    }
    const [batch, channels, height, width] = images.shape;
    const perImage = channels * height * width;
    const rows: number[][] = [];
    for (let start = 0; start < batch; start += CHUNK) {
      const n = Math.min(CHUNK, batch - start);
      const logits = tf.tidy(() => {
        const nchw = tf.tensor4d(images.data.subarray(start * perImage, (start + n) * perImage), [
          n,
          channels,
          height,
          width,
        ]);
        return forward(params, tf.transpose(nchw, [0, 2, 3, 1]), arch, { training: false });
      });
      rows.push(...((await logits.array()) as number[][]));
      logits.dispose();
    }
    return rows;
  } finally {
    disposeModel(params);
  }
}

/** The first NaN or infinity in `values`, or null. */
function firstNonFinite(values: ArrayLike<number>): { index: number; value: number } | null {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return { index: i, value: values[i] };
  return null;
}

function checkInputShape(images: NpyArray, arch: Architecture, path: string): void {
  const m = arch.model;
  const expected = [m.inChannels, m.imageSize, m.imageSize];
  if (images.shape.length !== 4 || images.shape.slice(1).join() !== expected.join()) {
    throw new Error(
      `${path} has shape (${images.shape.join(', ')}), but architecture '${arch.name ?? 'unnamed'}' takes (B, ${expected.join(', ')}): float32 images in NCHW order, normalised as in training`,
    );
  }
}

function table(logits: number[][]): string {
  const lines = ['image  class    logit  probability'];
  logits.forEach((row, i) => {
    const best = row.indexOf(Math.max(...row));
    const max = row[best];
    const probability = 1 / row.reduce((s, v) => s + Math.exp(v - max), 0);
    lines.push(
      `${String(i).padStart(5)}  ${String(best).padStart(5)}  ${row[best].toFixed(4).padStart(7)}  ${probability.toFixed(4).padStart(11)}`,
    );
  });
  return lines.join('\n');
}

const PREDICT_OPTIONS = flags(['arch', 'checkpoint', 'input'], ['json']);

export const predictCommand: Command = {
  name: 'predict',
  summary: 'run a checkpoint (.safetensors) on images from a float32 NCHW .npy file and print logits or the top class',
  help: `usage: npx glit predict --checkpoint FILE.safetensors --input FILE.npy [--arch PRESET|ARCH.json] [--json]

Loads the checkpoint into the architecture and runs it in eval mode (BatchNorm on running statistics).
  --checkpoint FILE  weights in safetensors with the official GLiT state-dict names (written by glit, or converted
                     from PyTorch: see environment.md, "weights")
  --input FILE       images as a float32 .npy array of shape (B, channels, height, width), normalised as in training
                     (from Python: np.save(FILE, x.astype(np.float32)))
  --arch A           a preset (${Object.keys(PRESETS).join(', ')}) or an architecture .json; default: the
                     architecture stored in the checkpoint's metadata
  --json             print {"logits": [[...], ...]} instead of a table of the top class per image
The backend comes from GLIT_BACKEND (see glit backend); it is named on stderr.
Examples:
  npx glit predict --checkpoint run/model.safetensors --input images.npy
  npx glit predict --arch glit-tiny --checkpoint glit_tiny.safetensors --input batch.npy --json`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, PREDICT_OPTIONS, false);
    if (!values.checkpoint) throw new UsageError('--checkpoint is required');
    if (!values.input) throw new UsageError('--input is required');
    const checkpoint = readCheckpoint(values.checkpoint);
    const arch = values.arch ? loadArchitecture(values.arch) : checkpoint.architecture;
    if (!arch) throw new UsageError(`${values.checkpoint} carries no architecture in its metadata: pass --arch`);
    const images = readNpy(values.input);
    checkInputShape(images, arch, values.input);
    const bad = firstNonFinite(images.data);
    if (bad !== null) {
      const perImage = images.data.length / images.shape[0];
      throw new Error(
        `${values.input}: image ${Math.floor(bad.index / perImage)} holds ${bad.value} (element ${bad.index}): every pixel must be a finite number`,
      );
    }
    console.error(describeBackend(await initBackend()));
    const logits = await predict(arch, checkpoint, values.checkpoint, images);
    console.log(values.json ? JSON.stringify({ logits }) : table(logits));
  },
};
