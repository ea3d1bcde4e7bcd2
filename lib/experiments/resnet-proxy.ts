// Table 3's convolutional baseline at proxy scale: a ResNet (lib/model/resnet.ts) trained from scratch with the
// transformers' recipe (trainLoop, AdamW, the cosine schedule), in a retraining folder laid out as a transformer's
// (lib/io/run-folder.ts): resnet.json, train.safetensors after every epoch (removed at the end), metrics.jsonl,
// model.safetensors (torchvision names) and result.json. A killed run called again resumes from its last epoch and
// ends exactly as an uninterrupted one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetSplits } from '../data/datasets';
import { writeJsonAtomic } from '../io/atomic-files';
import { readJsonFile } from '../io/read-file';
import { retrainFiles } from '../io/run-folder';
import { writeSafetensors } from '../io/safetensors';
import {
  checkResnetConfig,
  disposeResnet,
  initResnet,
  resnetBatchNorms,
  resnetCost,
  resnetModel,
  resnetVariables,
  torchStateDict,
  type ResnetConfig,
} from '../model/resnet';
import type { RetrainResult } from '../search/records';
import { trainInFolder } from '../search/stages';
import type { TrainConfig } from '../train/train';

/** A retraining's result.json, with the ResNet's config where a transformer's has its architecture. */
export type ResnetResult = Omit<RetrainResult, 'arch'> & { config: ResnetConfig };

/** Trains `config` from scratch with `trainConfig` in `dir`; a finished run is read back from its result.json. */
export async function trainResnetProxy(
  dir: string,
  config: ResnetConfig,
  data: DatasetSplits,
  trainConfig: TrainConfig,
  log: (line: string) => void,
): Promise<ResnetResult> {
  checkResnetConfig(config);
  const files = retrainFiles(dir);
  if (fs.existsSync(files.result)) {
    fs.rmSync(files.state, { force: true });
    return readJsonFile(files.result, 'remove it to train again') as ResnetResult;
  }
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, 'resnet.json'), config);
  const params = initResnet(config, trainConfig.seed);
  try {
    const model = resnetModel(params, config);
    // Running statistics too, not just what trains.
    const target = { model, variables: resnetVariables(params), norms: () => resnetBatchNorms(params) };
    const trained = await trainInFolder(dir, config.name, target, data, trainConfig, log);
    const result: ResnetResult = { name: config.name, config, ...resnetCost(config), ...trained };
    writeSafetensors(files.model, torchStateDict(params), { format: 'pt', resnet: JSON.stringify(config) });
    writeJsonAtomic(files.result, result);
    fs.rmSync(files.state, { force: true });
    return result;
  } finally {
    disposeResnet(params);
  }
}
