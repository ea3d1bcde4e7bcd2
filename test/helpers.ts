// Small shared pieces for tests: tiny architectures, a seeded batch, a temporary folder, the CLI runners.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { architectureToJson, validateArchitecture, type Architecture, type ModelConfig } from '../lib/model/arch';
import { Rng } from '../lib/core/random';
import { disposeModel, initModel } from '../lib/model/model';
import { createAdamW, disposeAdamW } from '../lib/train/optimizer';
import { fixedModel, trainStep } from '../lib/train/train';
import { decodeSafetensors } from '../lib/io/safetensors';

export const ROOT = path.resolve(__dirname, '..');

/** 8x8 images, patch 2 (16 patches + CLS), width 12, 3 heads: an all-attention, a mixed and an all-conv block. */
export function tinyArchitecture(overrides: Partial<Architecture['model']> = {}): Architecture {
  return validateArchitecture({
    name: 'tiny-every-block',
    model: { imageSize: 8, inChannels: 1, patchSize: 2, width: 12, heads: 3, depth: 3, numClasses: 4, ...overrides },
    blocks: [
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
      { globalHeads: 1, qkvRatio: 2, convExpansion: 2, kernelSize: 3, ffnRatio: 2 },
      { globalHeads: 0, convExpansion: 1, kernelSize: 5, ffnRatio: 1 },
    ],
  });
}

/** For the 28x28 grey datasets: patch 7 (16 patches + CLS), width 12, 3 heads, 2 attention blocks (search tests). */
export function tinyBaseline(): Architecture {
  return validateArchitecture({
    name: 'tiny-baseline',
    model: { imageSize: 28, inChannels: 1, patchSize: 7, width: 12, heads: 3, depth: 2, numClasses: 10 },
    blocks: [
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
    ],
  });
}

/** 8x8 grey images, patch 4 (T = 5 tokens), width 6, 3 heads of 2 channels, 2 classes: small enough to count by hand. */
export const HAND_COUNTED_MODEL: ModelConfig = {
  imageSize: 8,
  inChannels: 1,
  patchSize: 4,
  width: 6,
  heads: 3,
  depth: 3,
  numClasses: 2,
  ffnActivation: 'gelu',
  localModule: 'conv1d',
  localWindow: null,
  classToken: true,
};

/** A batch of normal noise images [n, size, size, channels] with labels 0..classes-1 in turn. */
export function seededBatch(
  n: number,
  size: number,
  channels: number,
  classes: number,
  seed = 5,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: n * size * size * channels }, () => rng.normal());
  return {
    x: tf.tensor4d(values, [n, size, size, channels]),
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % classes),
      'int32',
    ),
  };
}

/**
 * A temporary folder made before this file's tests and removed after them: the returned function gives the path of
 * a name inside it, or of the folder itself.
 */
export function tempFolder(prefix: string): (name?: string) => string {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return (name = '') => path.join(dir, name);
}

/** Writes a notebook for this repository's tslab kernel: one code cell per source, without outputs. */
export function writeCodeNotebook(file: string, sources: string[]): void {
  const cells = sources.map((source, i) => ({
    cell_type: 'code',
    id: `cell-${i}`,
    metadata: {},
    source,
    outputs: [],
    execution_count: null,
  }));
  const kernelspec = { name: 'tslab', display_name: 'TypeScript (tslab, this repo)', language: 'typescript' };
  fs.writeFileSync(file, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec }, cells }));
}

/** Runs `node bin/glit.js ...args` and returns its exit code and output. */
export function runGlit(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/glit.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `glit command ...args` in a child process on the wasm backend, sending it `signal` (SIGKILL) as soon as `killWhen`
 * exists (when given).
 */
export function glitProcess(
  command: string,
  args: string[],
  killWhen?: string,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<{ killed: boolean; code: number | null; stdout: string; stderr: string; afterSignal: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/glit.js'), command, ...args], {
      cwd: ROOT,
      env: { ...process.env, GLIT_BACKEND: 'wasm' },
    });
    let [stdout, stderr, killed, signalled] = ['', '', false, 0];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = killWhen
      ? setInterval(() => {
          if (fs.existsSync(killWhen)) {
            killed = child.kill(signal);
            signalled = Date.now();
            clearInterval(poll);
          }
        }, 5)
      : undefined;
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      resolve({ killed, code, stdout, stderr, afterSignal: signalled ? (Date.now() - signalled) / 1000 : 0 });
    });
  });
}

/** The losses of `steps` training steps of tinyArchitecture on a seeded batch, on the backend that runs now. */
export async function tinyTrainingLosses(steps: number): Promise<number[]> {
  const arch = tinyArchitecture();
  const params = initModel(arch, 1);
  const optimizer = createAdamW();
  const rng = new Rng(7);
  const { x, y } = seededBatch(8, 8, 1, 4);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const config = { labelSmoothing: 0.1, clipNorm: 1, dropPath: 0.1 };
    const loss = trainStep({ model: fixedModel(params, arch), optimizer, x, y, lr: 1e-2, config, rng });
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  tf.dispose([x, y]);
  disposeModel(params);
  disposeAdamW(optimizer);
  return losses;
}

/**
 * Two run folders hold the same files with the same contents, byte for byte, wall times aside (in logs, results and a
 * supernet state's metadata); config.json (its start time), the lock and the task folders (`tasks/`: only runs with
 * workers have them) are not compared.
 */
export function assertSameRunFiles(expected: string, got: string): void {
  const files = (run: string) =>
    (fs.readdirSync(run, { recursive: true }) as string[])
      .filter(
        (f) => fs.statSync(path.join(run, f)).isFile() && f !== 'config.json' && !f.startsWith(`tasks${path.sep}`),
      )
      .sort();
  assert.deepEqual(files(got), files(expected));
  const timeless = (text: string) => text.replace(/\\?"seconds\\?": ?[0-9.e+-]+/g, '"seconds":0');
  for (const f of files(expected)) {
    const [a, b] = [fs.readFileSync(path.join(expected, f)), fs.readFileSync(path.join(got, f))];
    if (f.endsWith('model.safetensors')) {
      assert.ok(a.equals(b), `${f} differs`);
    } else if (f.endsWith('.safetensors')) {
      // A supernet's state also holds its epochs' log lines, wall times included.
      const [x, y] = [decodeSafetensors(a), decodeSafetensors(b)];
      assert.deepEqual([...y.tensors.keys()], [...x.tensors.keys()], f);
      for (const [name, t] of x.tensors)
        assert.ok(Buffer.from(t.bytes).equals(y.tensors.get(name)!.bytes), `${f}: ${name}`);
      assert.equal(timeless(JSON.stringify(y.metadata)), timeless(JSON.stringify(x.metadata)), f);
    } else {
      assert.equal(timeless(b.toString('utf8')), timeless(a.toString('utf8')), `${f} differs`);
    }
  }
}

/**
 * `glit search` flags for a search that runs every kind of stage in seconds: the tiny baseline, two epochs and two
 * generations everywhere, 96 training images (its config file is written to `dir`).
 */
export function tinySearchFlags(dir: string): string[] {
  const archFile = path.join(dir, 'tiny.json');
  fs.writeFileSync(archFile, architectureToJson(tinyBaseline()));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      baseline: archFile,
      maxFlopsRatio: 1.5,
      supernet: { epochs: 2, batchSize: 32 },
      evolution: { generations: 2, population: 3, topK: 2, mutations: 1, crossovers: 1 },
      scoring: { valImages: 32, recalibrationBatches: 1, batchSize: 32 },
      stage1Retrain: 2,
      retrain: { epochs: 2, batchSize: 32 },
    }),
  );
  return ['--scale', 'smoke', '--limit', 'train=96,val=32,test=32', '--config', configFile];
}

/** A table's rows without what differs between runs that agree: each unit's wall time and the date it was made. */
export const timelessRows = <R extends { seconds: number; date?: string }>(t: { rows: { runs: R[] }[] }) =>
  t.rows.map((r) => ({ ...r, runs: r.runs.map((x) => ({ ...x, seconds: 0, date: '' })) }));
