// The single-path one-shot (SPOS) supernet: one shared stem and head, and per block a set of candidate blocks, each
// with its own weights (the pattern the official code suggests). A training step samples one path and trains only it;
// the evolutionary search scores paths after recalibrating their BatchNorm statistics.
//
// Candidate blocks are created on first use, from a seed derived from (supernet seed, block, gene): the weights do not
// depend on the order paths were sampled in, and a space with hundreds of candidates per block costs memory only for
// the ones training reached.
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './arch';
import { initBlock, type BlockParams } from './block';
import type { ImageSet } from './data';
import { batches } from './batches';
import { forward, initModel, namedVariables, type ModelParams } from './model';
import { Rng } from './random';
import { encode, type SearchSpace } from './space';
import { evaluate, type Trainable } from './train';

export interface Supernet {
  space: SearchSpace;
  seed: number;
  /** Stem, final norm and head, shared by every path (its `blocks` is empty). */
  shared: ModelParams;
  /**
   * Per block: candidate weights by choice index (into space.choices[block]), created on first use. Variables are
   * named `blocks.{block}.c{choice}.…` in checkpoints and the optimizer.
   */
  candidates: Map<number, BlockParams>[];
}

export function createSupernet(space: SearchSpace, seed: number): Supernet {
  return { space, seed, shared: initModel({ model: space.model, blocks: [] }, seed), candidates: space.choices.map(() => new Map()) };
}

function candidate(net: Supernet, index: number, choice: number): BlockParams {
  let params = net.candidates[index].get(choice);
  if (!params) {
    const gene = net.space.choices[index][choice];
    params = initBlock(net.space.model, gene, new Rng(net.seed).fork(`block ${index} choice ${choice}`));
    net.candidates[index].set(choice, params);
  }
  return params;
}

/** The path's weights as an ordinary model (views of the supernet's variables, not copies). */
export function pathParams(net: Supernet, arch: Architecture): ModelParams {
  return { ...net.shared, blocks: encode(net.space, arch).map((choice, i) => candidate(net, i, choice)) };
}

/** Renames official names (`blocks.3.0.mlp…`) to the supernet's (`blocks.3.c7.mlp…`) for the given choices. */
function supernetNames(code: number[], variables: Map<string, tf.Variable>): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of variables) {
    const m = /^blocks\.(\d+)\.0\.(.*)$/.exec(name);
    out.set(m ? `blocks.${m[1]}.c${code[Number(m[1])]}.${m[2]}` : name, v);
  }
  return out;
}

/** One path as a Trainable: its variables carry supernet names, so the optimizer keeps per-candidate state. */
export function pathModel(net: Supernet, arch: Architecture): Trainable {
  const params = pathParams(net, arch);
  const variables = new Map([...supernetNames(encode(net.space, arch), namedVariables(params))].filter(([, v]) => v.trainable));
  return { variables, logits: (x, options) => forward(params, x, arch, options) };
}

/** Every variable the supernet has created so far (BatchNorm statistics included), under supernet names. */
export function supernetVariables(net: Supernet): Map<string, tf.Variable> {
  const out = new Map(namedVariables(net.shared));
  net.candidates.forEach((byChoice, i) => {
    for (const [choice, block] of byChoice) {
      for (const [name, v] of namedVariables({ ...net.shared, blocks: [block] })) {
        if (name.startsWith('blocks.0.0.')) out.set(`blocks.${i}.c${choice}.${name.slice('blocks.0.0.'.length)}`, v);
      }
    }
  });
  return out;
}

/** Creates the candidates named in a saved state (`blocks.{i}.c{choice}.…`) so their variables can be loaded. */
export function materialise(net: Supernet, names: Iterable<string>): void {
  for (const name of names) {
    const m = /^blocks\.(\d+)\.c(\d+)\./.exec(name);
    if (!m) continue;
    const [index, choice] = [Number(m[1]), Number(m[2])];
    if (!net.space.choices[index]?.[choice]) throw new Error(`saved supernet names block ${index} choice ${choice}, which the ${net.space.name} space does not have`);
    candidate(net, index, choice);
  }
}

export function disposeSupernet(net: Supernet): void {
  for (const v of supernetVariables(net).values()) v.dispose();
  net.candidates.forEach((m) => m.clear());
}

/**
 * SPOS's BatchNorm recalibration: a path's running statistics were updated by every step that sampled its candidates
 * inside other paths, so they do not describe this path. Reset them and average the batch statistics of a few
 * training batches through this path (running average: momentum 1/(k+1) at batch k), without touching any weight.
 */
export function recalibrateBatchNorm(params: ModelParams, arch: Architecture, set: ImageSet, norm: { mean: number[]; std: number[] }, count: number, batchSize: number): void {
  for (const b of params.blocks) {
    if (!b.conv) continue;
    b.conv.norm.runningMean.assign(tf.zerosLike(b.conv.norm.runningMean));
    b.conv.norm.runningVar.assign(tf.onesLike(b.conv.norm.runningVar));
  }
  let k = 0;
  for (const { x, y } of batches(set, { batchSize, mean: norm.mean, std: norm.std })) {
    if (k >= count) {
      tf.dispose([x, y]);
      break;
    }
    tf.tidy(() => {
      forward(params, x, arch, { training: true, bnMomentum: 1 / (k + 1) });
    });
    tf.dispose([x, y]);
    k++;
  }
}

/** The EA's fitness: val accuracy of a path after BatchNorm recalibration on training batches. */
export async function scorePath(
  net: Supernet,
  arch: Architecture,
  data: { train: ImageSet; val: ImageSet; mean: number[]; std: number[] },
  options: { recalibrationBatches: number; batchSize: number },
): Promise<number> {
  const params = pathParams(net, arch);
  recalibrateBatchNorm(params, arch, data.train, data, options.recalibrationBatches, options.batchSize);
  return (await evaluate({ logits: (x, o) => forward(params, x, arch, o) }, data.val, data)).accuracy;
}
