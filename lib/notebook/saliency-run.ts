// Notebook 10's two trained models and their saliency maps. The models come from the notebooks' search run (notebooks
// 03-04, or GLIT_RUN): the found GLiT-proxy in stage2/retrain/, the DeiT-proxy baseline in baseline/. Without that
// run, both are trained here with the search's retraining recipe, GLiT as the uniform G = 1 architecture (Table 1's
// best row in the paper) since no search has run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadArchitecture, type Architecture } from '../model/arch';
import { modelCost } from '../model/flops';
import { initModel, type ModelParams } from '../model/model';
import { patchSaliency } from '../model/saliency';
import { describeBackend, initBackend } from '../kernels/backend';
import { loadDataset, type DatasetSplits, type ImageSet } from '../data/datasets';
import { batches } from '../data/batches';
import { selectImages } from '../data/image-set';
import { loadCheckpoint, readCheckpoint } from '../io/checkpoint';
import { readRetrainResult, readSettings, retrainFiles } from '../io/run-folder';
import type { RetrainResult } from '../search/records';
import { retrain } from '../search/stages';
import { uniformArchitecture } from '../search/space';
import type { ModelSaliency } from './figures/saliency';
import type { NotebookParams } from './params';
import { liveRun, liveRunDir, notebookLoggers, notebookProgress, openNotebookSearch, ROOT } from './search-run';

export interface TrainedModel {
  name: string;
  arch: Architecture;
  params: ModelParams;
  /** Its retraining's result.json (test accuracy, params, FLOPs). */
  result: RetrainResult | null;
  dir: string;
}

export interface SaliencyModels {
  /** Where the models came from, in a sentence. */
  source: string;
  data: DatasetSplits;
  deit: TrainedModel;
  glit: TrainedModel;
}

/** The DeiT-proxy and GLiT-proxy to compare: read from the search run when it has both, else trained here. */
export async function saliencyModels(
  params: NotebookParams,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SaliencyModels> {
  const given = env.GLIT_RUN?.trim();
  const searchDir = given ? path.resolve(ROOT, given) : liveRunDir('search', params);
  const [deitDir, glitDir] = [path.join(searchDir, 'baseline'), path.join(searchDir, 'stage2', 'retrain')];
  const found = [deitDir, glitDir].every((d) => fs.existsSync(retrainFiles(d).model));
  const settings = found ? readSettings(searchDir) : null;
  if (given && !settings)
    throw new Error(
      `GLIT_RUN=${given}: ${searchDir} lacks config.json, baseline/model.safetensors or stage2/retrain/model.safetensors; ` +
        'point it at a finished `glit search` run',
    );
  if (settings) {
    console.log(describeBackend(await initBackend(params.backend)));
    const data = await loadDataset(settings.dataset, {
      seed: settings.config.seed,
      limit: settings.limit,
      onProgress: notebookProgress(),
    });
    return {
      source: `the search run ${path.relative(ROOT, searchDir)}: the found architecture and the baseline it was compared with`,
      data,
      deit: trainedModel(deitDir, 'DeiT-proxy'),
      glit: trainedModel(glitDir, 'GLiT-proxy'),
    };
  }
  const run = liveRun('saliency', params);
  const data = await openNotebookSearch(run, params, 'saliency');
  const { log, progress } = notebookLoggers(run);
  const recipe = run.settings.config.retrain;
  const baseline = loadArchitecture(run.settings.config.baseline);
  const uniform = uniformArchitecture(baseline.model, 1);
  const at = (name: string) => path.join(run.dir, name);
  await retrain(at('deit-proxy'), baseline.name ?? 'deit-proxy', baseline, data, recipe, log, progress);
  await retrain(at('glit-uniform-1'), uniform.name ?? 'glit-uniform-1', uniform, data, recipe, log, progress);
  return {
    source:
      `trained here, in ${path.relative(ROOT, run.dir)} (no search run at ${path.relative(ROOT, searchDir)}): ` +
      `the baseline and the uniform G = 1 architecture (one attention and ${baseline.model.heads - 1} conv heads per block)`,
    data,
    deit: trainedModel(at('deit-proxy'), 'DeiT-proxy'),
    glit: trainedModel(at('glit-uniform-1'), 'GLiT-proxy'),
  };
}

/** A retraining folder's model.safetensors, with the architecture its metadata holds. */
function trainedModel(dir: string, name: string): TrainedModel {
  const checkpoint = readCheckpoint(retrainFiles(dir).model);
  const arch = checkpoint.architecture;
  if (!arch) throw new Error(`${retrainFiles(dir).model} has no architecture in its metadata; retrain it`);
  const params = initModel(arch, 0);
  loadCheckpoint(params, arch, checkpoint);
  return { name, arch, params, result: readRetrainResult(dir), dir };
}

/** The models as table rows: architecture, size and test accuracy. */
export const modelRows = (models: TrainedModel[]) =>
  models.map((m) => {
    const cost = modelCost(m.arch);
    return {
      model: m.name,
      architecture: m.arch.name ?? '',
      'G per block': m.arch.blocks.map((b) => b.globalHeads).join(', '),
      params: `${(cost.params / 1e6).toFixed(3)}M`,
      FLOPs: `${(cost.flops / 1e6).toFixed(1)}M`,
      'test acc': m.result ? `${(100 * m.result.testAccuracy).toFixed(1)}%` : '',
    };
  });

/** The first image of each of the first `count` classes met in the set, in class order. */
export function oneImagePerClass(set: ImageSet, count: number): number[] {
  const first = new Map<number, number>();
  for (let i = 0; i < set.count && first.size < count; i++) if (!first.has(set.labels[i])) first.set(set.labels[i], i);
  return [...first.entries()].sort(([a], [b]) => a - b).map(([, i]) => i);
}

/** A model's maps of images `indices` of `set` (normalised with the data's statistics), for its predicted classes. */
export async function mapsOf(
  model: TrainedModel,
  set: ImageSet,
  indices: number[],
  norm: { mean: number[]; std: number[] },
): Promise<ModelSaliency> {
  const [{ x, y }] = [...batches(selectImages(set, indices), { batchSize: indices.length, ...norm })];
  const s = await patchSaliency(model.params, model.arch, x);
  tf.dispose([x, y]);
  return { name: model.name, maps: s.maps, predicted: s.predicted };
}

/** Pixels brighter than this (of 255, mean over channels) are the object; Fashion-MNIST's background is black. */
export const OBJECT_THRESHOLD = 25;

/** Per patch of image `index`, the share of its pixels that are object, grid * grid values row-major. */
export function objectFractions(set: ImageSet, index: number, grid: number): Float32Array {
  const { height: h, width: w, channels: c } = set;
  const patch = w / grid;
  const out = new Float32Array(grid * grid);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = 0; k < c; k++) sum += set.images[((index * h + y) * w + x) * c + k];
      if (sum / c > OBJECT_THRESHOLD) out[Math.floor(y / patch) * grid + Math.floor(x / patch)] += 1 / (patch * patch);
    }
  return out;
}

/** The share of a map's total that falls on object pixels (each patch's value spread evenly over its pixels). */
export function objectShare(map: ArrayLike<number>, objects: ArrayLike<number>): number {
  let [on, total] = [0, 0];
  for (let k = 0; k < map.length; k++) [on, total] = [on + map[k] * objects[k], total + map[k]];
  return total > 0 ? on / total : 0;
}

/**
 * Per image: its label, the share of its area that is object (what a map spread evenly would put there), and per
 * model its prediction, the share of its saliency on the object and its top patch (row, column).
 */
export function saliencyRows(set: ImageSet, indices: number[], classes: string[], models: ModelSaliency[]) {
  return indices.map((index, k) => {
    const grid = Math.round(Math.sqrt(models[0].maps[k].length));
    const objects = objectFractions(set, index, grid);
    const row: Record<string, string | number> = {
      image: index,
      label: classes[set.labels[index]],
      'object area': `${((100 * objects.reduce((a, b) => a + b, 0)) / objects.length).toFixed(0)}%`,
    };
    for (const m of models) {
      const map = Array.from(m.maps[k]);
      const top = map.indexOf(Math.max(...map));
      const right = m.predicted[k] === set.labels[index];
      row[`${m.name} predicts`] = `${classes[m.predicted[k]]} ${right ? '✓' : '✗'}`;
      row[`${m.name} on object`] = `${(100 * objectShare(map, objects)).toFixed(0)}%`;
      row[`${m.name} top patch`] = `(${Math.floor(top / grid)}, ${top % grid})`;
    }
    return row;
  });
}
