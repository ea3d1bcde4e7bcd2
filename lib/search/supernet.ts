// The single-path one-shot (SPOS) supernet: one shared stem and head, and per block a set of candidate blocks. A
// training step samples one path and trains only it; the evolutionary search scores paths after recalibrating their
// BatchNorm statistics. Candidates get their weights one of two ways (SearchConfig.weightSharing):
//   'separate'  each candidate its own weights (the pattern the official code suggests), created on first use from a
//               seed derived from (supernet seed, block, choice): the weights do not depend on the order paths were
//               sampled in, and a space with hundreds of candidates per block costs memory only for those reached;
//   'sliced'    per block one set of the largest weights, of which every candidate takes slices (lib/search/slicing.ts).
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from '../model/arch';
import { blockBatchNorms, initBlock, type BlockParams } from '../model/block';
import type { ImageSet } from '../data/datasets';
import { batches } from '../data/batches';
import type { BatchNorm } from '../model/layers';
import { addBatchNorm, addBlockVariables, forward, initModel, namedVariables, type ModelParams } from '../model/model';
import { Rng } from '../core/random';
import { convNorm, convShapeKey, initSlicedBlock, sliceBlock, type SlicedBlock } from './slicing';
import { encode, type SearchSpace } from './space';
import { evaluate, type Trainable } from '../train/train';

export type WeightSharing = 'separate' | 'sliced';
export const WEIGHT_SHARINGS: readonly WeightSharing[] = ['separate', 'sliced'];

/** `value` as a WeightSharing, or an error naming `source` (a flag, an environment variable, a config field). */
export function parseWeightSharing(value: string, source: string): WeightSharing {
  if (!(WEIGHT_SHARINGS as readonly string[]).includes(value))
    throw new Error(`${source}='${value}' is not one of ${WEIGHT_SHARINGS.join(', ')}`);
  return value as WeightSharing;
}

export interface Supernet {
  space: SearchSpace;
  seed: number;
  sharing: WeightSharing;
  /** Stem, final norm and head, shared by every path (its `blocks` is empty). */
  shared: ModelParams;
  /**
   * 'separate': per block, candidate weights by choice index (into space.choices[block]), created on first use. Their
   * variables are named `blocks.{block}.c{choice}.…` in checkpoints and the optimizer.
   */
  candidates: Map<number, BlockParams>[];
  /**
   * 'sliced': per block, the largest weights, named `blocks.{block}.…` (official names after the block index), and
   * the BatchNorms of its conv shapes, `blocks.{block}.attn.net.4.{g1e2k17}.…`.
   */
  sliced: SlicedBlock[];
}

export function createSupernet(space: SearchSpace, seed: number, sharing: WeightSharing = 'separate'): Supernet {
  return {
    space,
    seed,
    sharing: parseWeightSharing(sharing, 'weightSharing'), // from a config file: checked here, where it is used
    shared: initModel({ model: space.model, blocks: [] }, seed),
    candidates: space.choices.map(() => new Map()),
    sliced:
      sharing === 'sliced'
        ? space.choices.map((genes, i) => initSlicedBlock(space.model, genes, new Rng(seed).fork(`block ${i} sliced`)))
        : [],
  };
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

/**
 * The path's weights as an ordinary model: views of the supernet's variables ('separate'), or slices of them
 * ('sliced': new tensors, so call this inside tf.tidy or the gradient closure that uses them).
 */
export function pathParams(net: Supernet, arch: Architecture): ModelParams<tf.Tensor> {
  const code = encode(net.space, arch);
  const blocks = code.map((choice, i) =>
    net.sharing === 'sliced'
      ? sliceBlock(net.sliced[i], net.space.model, net.space.choices[i][choice])
      : candidate(net, i, choice),
  );
  return { ...net.shared, blocks };
}

// Supernet variable names: a separate candidate's, and a sliced block's BatchNorm of one conv shape.
const candidateName = (index: number, choice: number) => `blocks.${index}.c${choice}`;
const slicedNormName = (index: number, convShape: string) => `blocks.${index}.attn.net.4.${convShape}`;

/** The variables a path reads, under supernet names: the optimizer keeps its state per candidate (or per shared block). */
function pathVariables(net: Supernet, arch: Architecture): Map<string, tf.Variable> {
  const code = encode(net.space, arch);
  if (net.sharing === 'separate') {
    return namedVariables({ ...net.shared, blocks: code.map((choice, i) => candidate(net, i, choice)) }, (i) =>
      candidateName(i, code[i]),
    );
  }
  const out = new Map(namedVariables(net.shared));
  code.forEach((choice, i) => {
    addBlockVariables(out, `blocks.${i}`, net.sliced[i].weights);
    const gene = net.space.choices[i][choice];
    const norm = convNorm(net.sliced[i], net.space.model, gene);
    if (norm) addBatchNorm(out, slicedNormName(i, convShapeKey(gene)), norm);
  });
  return out;
}

/** One path as a Trainable: its trainable variables under supernet names, and its logits. */
export function pathModel(net: Supernet, arch: Architecture): Trainable {
  const variables = new Map([...pathVariables(net, arch)].filter(([, v]) => v.trainable));
  return { variables, logits: (x, options) => forward(pathParams(net, arch), x, arch, options) };
}

/** The BatchNorms a path uses (those recalibration resets). */
function pathBatchNorms(net: Supernet, arch: Architecture): BatchNorm[] {
  return encode(net.space, arch).flatMap((choice, i) => {
    if (net.sharing === 'separate') return blockBatchNorms(candidate(net, i, choice));
    const norm = convNorm(net.sliced[i], net.space.model, net.space.choices[i][choice]);
    return norm ? [norm] : [];
  });
}

/** Every BatchNorm the supernet has created so far. */
export const supernetBatchNorms = (net: Supernet): BatchNorm[] => [
  ...net.candidates.flatMap((byChoice) => [...byChoice.values()].flatMap(blockBatchNorms)),
  ...net.sliced.flatMap((block) => [...block.norms.values()]),
];

/** Every variable the supernet has created so far (BatchNorm statistics included), under supernet names. */
export function supernetVariables(net: Supernet): Map<string, tf.Variable> {
  const out = new Map(namedVariables(net.shared));
  net.candidates.forEach((byChoice, i) => {
    for (const [choice, block] of byChoice) addBlockVariables(out, candidateName(i, choice), block);
  });
  net.sliced.forEach((block, i) => {
    addBlockVariables(out, `blocks.${i}`, block.weights);
    for (const [key, norm] of block.norms) addBatchNorm(out, slicedNormName(i, key), norm);
  });
  return out;
}

/** Creates the candidates (or conv-shape BatchNorms) that a saved state's variable names refer to, to load into. */
export function createSavedVariables(net: Supernet, names: Iterable<string>): void {
  const { space } = net;
  for (const name of names) {
    const separate = /^blocks\.(\d+)\.c(\d+)\./.exec(name);
    const sliced = /^blocks\.(\d+)\.attn\.net\.4\.(g\d+e[\d.]+k\d+)\./.exec(name);
    if (separate && net.sharing === 'separate') {
      const [index, choice] = [Number(separate[1]), Number(separate[2])];
      if (!space.choices[index]?.[choice])
        throw new Error(
          `saved supernet names block ${index} choice ${choice}, which the ${space.name} space does not have`,
        );
      candidate(net, index, choice);
    } else if (sliced && net.sharing === 'sliced') {
      const index = Number(sliced[1]);
      const gene = space.choices[index]?.find((g) => g.convExpansion !== null && convShapeKey(g) === sliced[2]);
      if (!gene)
        throw new Error(
          `saved supernet names block ${index}'s conv shape ${sliced[2]}, which the ${space.name} space does not have`,
        );
      convNorm(net.sliced[index], space.model, gene);
    } else if (separate || sliced) {
      throw new Error(
        `saved supernet variable '${name}' belongs to a supernet with ${separate ? 'separate' : 'sliced'} weights, not ${net.sharing} ones`,
      );
    }
  }
}

export function disposeSupernet(net: Supernet): void {
  for (const v of supernetVariables(net).values()) v.dispose();
  net.candidates.forEach((m) => m.clear());
  net.sliced.forEach((b) => b.norms.clear());
  net.sliced = [];
}

/**
 * SPOS's BatchNorm recalibration: a path's running statistics were updated by every step that sampled its candidates
 * inside other paths, so they do not describe this path. Reset them and average the batch statistics of a few
 * training batches through this path (running average: momentum 1/(k+1) at batch k), without touching any weight.
 */
export function recalibrateBatchNorm(
  net: Supernet,
  arch: Architecture,
  set: ImageSet,
  norm: { mean: number[]; std: number[] },
  count: number,
  batchSize: number,
): void {
  for (const bn of pathBatchNorms(net, arch)) {
    bn.runningMean.assign(tf.zerosLike(bn.runningMean));
    bn.runningVar.assign(tf.onesLike(bn.runningVar));
  }
  let k = 0;
  for (const { x, y } of batches(set, { batchSize, mean: norm.mean, std: norm.std })) {
    if (k >= count) {
      tf.dispose([x, y]);
      break;
    }
    tf.tidy(() => {
      forward(pathParams(net, arch), x, arch, { training: true, bnMomentum: 1 / (k + 1) });
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
  recalibrateBatchNorm(net, arch, data.train, data, options.recalibrationBatches, options.batchSize);
  return (await evaluate(pathModel(net, arch), data.val, data)).accuracy;
}
