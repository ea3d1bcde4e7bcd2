// Resumable training state: every variable (model or supernet, BatchNorm statistics included), BatchNorm's step
// counters, the AdamW moments and step counts, and where the loop stands, in one safetensors file written atomically. Unlike lib/io/checkpoint.ts (weights
// in PyTorch's names and layouts, for interchange), this stores tfjs layouts as they are: it is read back only here.
import * as tf from '@tensorflow/tfjs';
import type { BatchNorm } from '../model/layers';
import type { AdamWState } from './optimizer';
import { readSafetensors, toFloat32, writeSafetensors, type Safetensors, type TensorToWrite } from '../io/safetensors';
import type { TrainProgress } from './train';

const MOMENT = { m: 'optimizer.m.', v: 'optimizer.v.' } as const;

export interface SavedTrainState {
  progress: TrainProgress;
  /** Anything else the caller needs to resume (e.g. the run's config), as JSON. */
  extra: Record<string, unknown>;
  /** Names of the variables in the file (a supernet creates its candidates from these before loading). */
  names: string[];
}

const toWrite = (t: tf.Tensor): TensorToWrite => ({ dtype: 'F32', shape: t.shape, values: t.dataSync() });

/** A BatchNorm's num_batches_tracked is a plain number, not a variable: stored by the name of its running_var. */
function counterNames(variables: Map<string, tf.Variable>, norms: BatchNorm[]): Map<string, BatchNorm> {
  const byVariable = new Map([...variables].map(([name, v]) => [v, name]));
  return new Map(
    norms.flatMap((bn) => {
      const name = byVariable.get(bn.runningVar);
      return name === undefined ? [] : [[name, bn] as const];
    }),
  );
}

/** `norms`: the BatchNorms among `variables`, whose step counters are saved with them. */
export function saveTrainState(
  file: string,
  variables: Map<string, tf.Variable>,
  optimizer: AdamWState,
  progress: TrainProgress,
  extra: Record<string, unknown> = {},
  norms: BatchNorm[] = [],
): void {
  const tensors: [string, TensorToWrite][] = [...variables].map(([name, v]) => [name, toWrite(v)]);
  for (const [name, m] of optimizer.m)
    tensors.push([MOMENT.m + name, toWrite(m)], [MOMENT.v + name, toWrite(optimizer.v.get(name)!)]);
  writeSafetensors(file, tensors, {
    progress: JSON.stringify(progress),
    optimizerSteps: JSON.stringify(Object.fromEntries(optimizer.steps)),
    batchesTracked: JSON.stringify(
      Object.fromEntries([...counterNames(variables, norms)].map(([name, bn]) => [name, bn.batchesTracked])),
    ),
    extra: JSON.stringify(extra),
  });
}

/**
 * Loads a saved state into `variables` (which must hold every saved name; a function gets the saved names first, so a
 * supernet can create the candidates they name), the step counters of `norms` (called once the variables exist) and
 * `optimizer`; returns the bookkeeping.
 */
export function loadTrainState(
  file: string,
  variables: Map<string, tf.Variable> | ((names: string[]) => Map<string, tf.Variable>),
  optimizer: AdamWState,
  norms: () => BatchNorm[] = () => [],
): SavedTrainState {
  const st = readSafetensors(file);
  const saved = bookkeeping(st);
  const targets = typeof variables === 'function' ? variables(saved.names) : variables;
  const problems: string[] = [];
  for (const [name, stored] of st.tensors) {
    const moment = name.startsWith(MOMENT.m) ? 'm' : name.startsWith(MOMENT.v) ? 'v' : undefined;
    const key = moment ? name.slice(MOMENT[moment].length) : name;
    const target = targets.get(key);
    if (!target) {
      problems.push(`'${key}' is in the file but not in the model`);
      continue;
    }
    if (stored.shape.join() !== target.shape.join()) {
      problems.push(`'${name}' has shape [${stored.shape}] in the file but [${target.shape}] in the model`);
      continue;
    }
    const value = tf.tensor(toFloat32(stored), stored.shape);
    if (moment) {
      const slot = optimizer[moment];
      slot.get(key)?.dispose();
      slot.set(key, tf.variable(value, false));
    } else {
      target.assign(value);
    }
    value.dispose();
  }
  if (problems.length > 0)
    throw new Error(`${file} does not match this run (was it made with other settings?):\n  ${problems.join('\n  ')}`);
  optimizer.steps = new Map(
    Object.entries(JSON.parse(st.metadata.optimizerSteps ?? '{}')).map(([k, v]) => [k, Number(v)]),
  );
  const counters = JSON.parse(st.metadata.batchesTracked ?? '{}') as Record<string, number>;
  for (const [name, bn] of counterNames(targets, norms())) bn.batchesTracked = counters[name] ?? bn.batchesTracked;
  return saved;
}

function bookkeeping(st: Safetensors): SavedTrainState {
  return {
    progress: JSON.parse(st.metadata.progress),
    extra: JSON.parse(st.metadata.extra ?? '{}'),
    names: [...st.tensors.keys()].filter((n) => !n.startsWith('optimizer.')),
  };
}
