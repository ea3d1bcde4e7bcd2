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
import { appendRetrainEpoch, retrainFiles, rewriteRetrainEpochs } from '../io/run-folder';
import { writeSafetensors } from '../io/safetensors';
import { backendInfo } from '../kernels/backend';
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
import type { RetrainEpoch, RetrainResult } from '../search/records';
import { createAdamW, disposeAdamW } from '../train/optimizer';
import { evaluate, trainLoop, type TrainConfig, type TrainProgress } from '../train/train';
import { loadTrainState, saveTrainState } from '../train/train-state';

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
  const started = Date.now();
  const params = initResnet(config, trainConfig.seed);
  const optimizer = createAdamW({ weightDecay: trainConfig.weightDecay });
  try {
    const model = resnetModel(params, config);
    const variables = resnetVariables(params); // running statistics too, not just what trains
    const norms = () => resnetBatchNorms(params);
    let from: TrainProgress | undefined;
    let epochs: RetrainEpoch[] = [];
    if (fs.existsSync(files.state)) {
      const saved = loadTrainState(files.state, variables, optimizer, norms);
      from = saved.progress;
      epochs = (saved.extra.epochs as RetrainEpoch[] | undefined) ?? [];
      log(`${dir}: resuming ${config.name} after epoch ${from.epoch}/${trainConfig.epochs}`);
    }
    rewriteRetrainEpochs(dir, epochs);
    await trainLoop({
      data,
      config: trainConfig,
      optimizer,
      from,
      modelForStep: () => model,
      hooks: {
        onEpoch: async (end) => {
          const val = await evaluate(model, data.val, data);
          const record = { epoch: end.progress.epoch, trainLoss: end.trainLoss, val, seconds: end.seconds };
          epochs.push(record);
          saveTrainState(files.state, variables, optimizer, end.progress, { epochs }, norms());
          appendRetrainEpoch(dir, record);
          log(
            `${dir}: ${config.name} epoch ${end.progress.epoch}/${trainConfig.epochs}, train loss ${end.trainLoss.toFixed(4)}, val ${(100 * val.accuracy).toFixed(2)}%`,
          );
        },
      },
    });
    const { backend, device } = backendInfo();
    const result: ResnetResult = {
      name: config.name,
      config,
      ...resnetCost(config),
      valAccuracy: (await evaluate(model, data.val, data)).accuracy,
      testAccuracy: (await evaluate(model, data.test, data)).accuracy,
      seconds: (Date.now() - started) / 1000,
      backend,
      device,
      valCurve: epochs.map((e) => e.val.accuracy),
    };
    writeSafetensors(files.model, torchStateDict(params), { format: 'pt', resnet: JSON.stringify(config) });
    writeJsonAtomic(files.result, result);
    fs.rmSync(files.state, { force: true });
    return result;
  } finally {
    disposeAdamW(optimizer);
    disposeResnet(params);
  }
}
