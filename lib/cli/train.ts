// `glit train`: trains one architecture on a dataset and reports val and test accuracy.
import * as path from 'node:path';
import { loadArchitecture } from '../model/arch';
import { describeBackend, initBackend } from '../kernels/backend';
import { DATASET_SPEC_HELP, DEFAULT_DATASET, loadDataset } from '../data/datasets';
import { appendJsonLine, writeJsonAtomic } from '../io/atomic-files';
import { modelCost } from '../model/flops';
import { disposeModel, initModel } from '../model/model';
import { formatSeconds, stderrProgress } from '../core/progress';
import { parseScale, SCALE_PRESETS, SCALES } from '../config/scales';
import { evaluate, fixedModel, trainModel, type TrainConfig } from '../train/train';
import { numberOption, parseCommandArgs, UsageError, type Command } from './command';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train one architecture (a preset or an architecture .json) and report val/test accuracy',
  help: `usage: npx glit train [--arch deit-proxy] [--preset cpu] [options]

Trains an architecture from scratch on a dataset, evaluates it on the held-out val split after every epoch and on the
test split at the end, and prints backend, device, params, FLOPs and accuracies.
  --arch NAME|FILE     architecture preset (deit-proxy, glit-proxy, deit-tiny, glit-tiny) or .json (default deit-proxy)
  --dataset SPEC       ${DATASET_SPEC_HELP} (default ${DEFAULT_DATASET})
  --preset SCALE       ${SCALES.map((s) => `${s}: ${SCALE_PRESETS[s].description}`).join('\n                       ')}
                       (default cpu)
  --epochs N, --batch-size N, --lr X, --seed N      override the preset
  --out DIR            write config.json, metrics.jsonl (one line per epoch) and result.json there
  --json               print the result as one JSON object on stdout
The backend comes from GLIT_BACKEND (see environment.md).`,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        arch: { type: 'string', default: 'deit-proxy' },
        dataset: { type: 'string', default: DEFAULT_DATASET },
        preset: { type: 'string', default: 'cpu' },
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    let scale;
    try {
      scale = parseScale(values.preset!, '--preset');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const preset = SCALE_PRESETS[scale];
    const config: TrainConfig = {
      ...preset.train,
      epochs: numberOption(values.epochs, 'epochs') ?? preset.train.epochs,
      batchSize: numberOption(values['batch-size'], 'batch-size') ?? preset.train.batchSize,
      lr: numberOption(values.lr, 'lr') ?? preset.train.lr,
      seed: numberOption(values.seed, 'seed') ?? preset.train.seed,
    };
    const arch = loadArchitecture(values.arch!);
    const backend = await initBackend();
    console.error(`glit train: ${describeBackend(backend)}`);
    const data = await loadDataset(values.dataset!, { seed: config.seed, limit: preset.limit, imageSize: arch.model.imageSize });
    if (data.train.channels !== arch.model.inChannels || data.classes.length !== arch.model.numClasses) {
      throw new Error(
        `architecture ${arch.name ?? values.arch} expects ${arch.model.inChannels}-channel images and ${arch.model.numClasses} classes; ` +
          `${data.name} has ${data.train.channels} channels and ${data.classes.length} classes: use an architecture made for this dataset`,
      );
    }
    const cost = modelCost(arch);
    console.error(
      `glit train: ${arch.name ?? values.arch} (${(cost.params / 1e6).toFixed(3)}M params, ${(cost.flops / 1e6).toFixed(1)}M FLOPs) on ${data.name} ` +
        `(train ${data.train.count}, val ${data.val.count}, test ${data.test.count}), preset ${scale}, ${config.epochs} epochs of batch ${config.batchSize}`,
    );
    const out = values.out ? path.resolve(values.out) : undefined;
    const run = { command: 'train', arch, dataset: data.source, scale, config, backend, started: new Date().toISOString() };
    if (out) writeJsonAtomic(path.join(out, 'config.json'), run);

    const started = Date.now();
    const params = initModel(arch, config.seed);
    const progress = stderrProgress();
    const logs = await trainModel(params, arch, data, config, {
      onStep: ({ epoch, step, stepsPerEpoch, loss }) =>
        progress({ task: `epoch ${epoch + 1}/${config.epochs}`, done: step - epoch * stepsPerEpoch, total: stepsPerEpoch, detail: `loss ${loss.toFixed(3)}` }),
      onEpoch: (log) => {
        console.error(`epoch ${log.epoch + 1}: train loss ${log.trainLoss.toFixed(4)}, val loss ${log.val.loss.toFixed(4)}, val acc ${(100 * log.val.accuracy).toFixed(2)}% (${formatSeconds(log.seconds)})`);
        if (out) appendJsonLine(path.join(out, 'metrics.jsonl'), log);
      },
    });
    const test = await evaluate(fixedModel(params, arch), data.test, data);
    disposeModel(params);
    const result = {
      arch: arch.name ?? values.arch,
      dataset: data.name,
      scale,
      backend: backend.backend,
      device: backend.device,
      params: cost.params,
      flops: cost.flops,
      valAccuracy: logs[logs.length - 1].val.accuracy,
      testAccuracy: test.accuracy,
      seconds: (Date.now() - started) / 1000,
    };
    if (out) writeJsonAtomic(path.join(out, 'result.json'), result);
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(
        `${result.arch} on ${result.dataset} (${scale}): val ${(100 * result.valAccuracy).toFixed(2)}%, test ${(100 * result.testAccuracy).toFixed(2)}%, ` +
          `${(result.params / 1e6).toFixed(3)}M params, ${(result.flops / 1e6).toFixed(1)}M FLOPs, ${formatSeconds(result.seconds)} on ${describeBackend(backend)}`,
      );
    }
  },
};
