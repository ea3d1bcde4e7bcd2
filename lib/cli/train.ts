// `glit train`: trains one architecture on a dataset and reports val and test accuracy: the search's retraining
// (lib/search/pipeline.ts), in a run folder of its own, resumable.
import { loadArchitecture } from '../model/arch';
import { describeBackend, initBackend } from '../kernels/backend';
import { DATASET_SPEC_HELP, DEFAULT_DATASET, loadDataset, parseLimit } from '../data/datasets';
import { modelCost } from '../model/flops';
import { formatSeconds, stderrProgress } from '../core/progress';
import { SCALE_CONFIGS } from '../config/scales';
import type { TrainSettings } from '../config/run-settings';
import { readTrainSettings, writeSettings } from '../io/run-folder';
import { retrain } from '../search/stages';
import { flags, numberOption, parseCommandArgs, type Command } from './command';
import { configOption, refuseWithResume, runFolder, scaleHelp, scaleOption } from './run-options';
import { checkTrainConfig } from '../config/validate';
import { timedLog } from './search';

const TRAIN_OPTIONS = flags(
  ['arch', 'dataset', 'scale', 'preset', 'limit', 'epochs', 'batch-size', 'lr', 'seed', 'out'],
  ['resume', 'json'],
);

type TrainValues = {
  [K in keyof typeof TRAIN_OPTIONS]?: (typeof TRAIN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** A new run's settings from the flags: the scale's recipe with --epochs, --batch-size, --lr and --seed replaced. */
function newSettings(values: TrainValues): TrainSettings {
  const scale = scaleOption(values);
  const { train, limit } = SCALE_CONFIGS[scale];
  const archFlag = values.arch ?? 'deit-proxy';
  const arch = loadArchitecture(archFlag);
  const config = {
    ...train,
    epochs: numberOption(values.epochs, 'epochs') ?? train.epochs,
    batchSize: numberOption(values['batch-size'], 'batch-size') ?? train.batchSize,
    lr: numberOption(values.lr, 'lr') ?? train.lr,
    seed: numberOption(values.seed, 'seed') ?? train.seed,
  };
  const flags: Record<string, string> = { epochs: '--epochs', batchSize: '--batch-size', lr: '--lr', seed: '--seed' };
  configOption(() => checkTrainConfig(config, `scale ${scale}.train`, (f) => flags[f] ?? `scale ${scale}.train.${f}`));
  return {
    dataset: values.dataset ?? DEFAULT_DATASET,
    scale,
    limit: values.limit ? parseLimit(values.limit) : limit,
    arch: { ...arch, name: arch.name ?? archFlag },
    config,
  };
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train one architecture (a preset or an architecture .json) and report val/test accuracy',
  help: `usage: npx glit train [--arch deit-proxy] [--scale cpu] [--out DIR] [options]
       npx glit train --out DIR --resume

Trains an architecture from scratch on a dataset (as \`glit search\` retrains the architectures it finds), evaluates
it on the held-out val split after every epoch and on the test split at the end, and prints backend, device, params,
FLOPs and accuracies.
  --arch NAME|FILE     architecture preset (deit-proxy, glit-proxy, deit-tiny, glit-tiny) or .json (default deit-proxy)
  --dataset SPEC       ${DATASET_SPEC_HELP} (default ${DEFAULT_DATASET})
  --scale SCALE        ${scaleHelp(23)}
                       (default cpu)
  --preset SCALE       the old spelling of --scale (deprecated: 'preset' means an architecture)
  --limit SPEC         images per split, e.g. 2000 or train=2000,val=500,test=1000 (overrides the scale's)
  --epochs N, --batch-size N, --lr X, --seed N      override the scale's training recipe
  --out DIR            the run folder (default: a new runs/train-<date>-<time>): config.json, arch.json,
                       metrics.jsonl (one line per epoch), train.safetensors (the state after each epoch, until the
                       end), model.safetensors (PyTorch names) and result.json
  --resume             continue the run in DIR from its last finished epoch (its config.json decides the rest)
  --json               print the result as one JSON object on stdout
The backend comes from GLIT_BACKEND (see environment.md).`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, TRAIN_OPTIONS, false);
    // A new run's flags are checked before its folder is made or locked: a mistyped flag leaves nothing behind.
    const fresh = values.resume ? undefined : newSettings(values);
    const out = runFolder(values, 'train');
    if (!fresh)
      refuseWithResume(
        values,
        ['arch', 'dataset', 'scale', 'preset', 'limit', 'epochs', 'batch-size', 'lr', 'seed'],
        out,
      );
    // runFolder has refused a --resume without config.json.
    const settings: TrainSettings = fresh ?? readTrainSettings(out)!;
    const { arch, config, scale } = settings;
    const name = arch.name!;
    const backend = await initBackend();
    console.error(`glit train: ${describeBackend(backend)}`);
    const data = await loadDataset(settings.dataset, {
      seed: config.seed,
      limit: settings.limit,
      imageSize: arch.model.imageSize,
    });
    if (data.train.channels !== arch.model.inChannels || data.classes.length !== arch.model.numClasses) {
      throw new Error(
        `architecture ${name} expects ${arch.model.inChannels}-channel images and ${arch.model.numClasses} classes; ` +
          `${data.name} has ${data.train.channels} channels and ${data.classes.length} classes: use an architecture made for this dataset`,
      );
    }
    const cost = modelCost(arch);
    console.error(
      `glit train: ${name} (${(cost.params / 1e6).toFixed(3)}M params, ${(cost.flops / 1e6).toFixed(1)}M FLOPs) on ${data.name} ` +
        `(train ${data.train.count}, val ${data.val.count}, test ${data.test.count}), scale ${scale}, ${config.epochs} epochs of batch ${config.batchSize}, ` +
        `${values.resume ? 'resuming' : 'out'} ${out}`,
    );
    if (!values.resume) writeSettings(out, 'train', settings, backend);
    const result = await retrain(out, name, arch, data, config, timedLog(Date.now()), stderrProgress());
    if (values.json) console.log(JSON.stringify({ ...result, dataset: data.name, scale }));
    else {
      console.log(
        `${name} on ${data.name} (${scale}): val ${(100 * result.valAccuracy).toFixed(2)}%, test ${(100 * result.testAccuracy).toFixed(2)}%, ` +
          `${(result.params / 1e6).toFixed(3)}M params, ${(result.flops / 1e6).toFixed(1)}M FLOPs, ${formatSeconds(result.seconds)} on ${describeBackend(backend)}`,
      );
    }
  },
};
