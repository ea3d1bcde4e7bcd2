// Table 3's ResNet at proxy scale: prints the ResNet-proxy's params and FLOPs next to the scale's baseline transformer,
// then (with --out) trains it with the scale's retraining recipe on the scale's data (resumable: run again on the same
// --out after a kill). Backend from GLIT_BACKEND, as every command.
//
//   npx tsx scripts/resnet-proxy.ts --scale cpu [--out runs/resnet-proxy-cpu] [--blocks 2,2,2,2]
import { parseArgs } from 'node:util';
import { parseScale, SCALE_CONFIGS } from '../lib/config/scales';
import { loadDataset } from '../lib/data/datasets';
import { trainResnetProxy } from '../lib/experiments/resnet-proxy';
import { describeBackend, initBackend } from '../lib/kernels/backend';
import { loadArchitecture } from '../lib/model/arch';
import { modelCost } from '../lib/model/flops';
import { resnetCost, resnetForFlops } from '../lib/model/resnet';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { scale: { type: 'string', default: 'cpu' }, out: { type: 'string' }, blocks: { type: 'string' } },
  });
  const scale = SCALE_CONFIGS[parseScale(values.scale!, '--scale')];
  const baseline = loadArchitecture(scale.search.baseline);
  const m = baseline.model;
  const blocks = values.blocks?.split(',').map(Number);
  if (blocks?.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--blocks '${values.blocks}' must be positive integers separated by commas, e.g. 3,4,6,3`);
  const base = modelCost(baseline);
  const config = resnetForFlops(base.flops, m.imageSize, m.inChannels, m.numClasses, blocks);
  const cost = resnetCost(config);
  const millions = (n: number) => `${(n / 1e6).toFixed(3)}M`;
  console.log(`${baseline.name}: params ${millions(base.params)}, FLOPs ${millions(base.flops)}`);
  console.log(`${config.name}: params ${millions(cost.params)}, FLOPs ${millions(cost.flops)}`);
  console.log(JSON.stringify(config));
  if (!values.out) return;
  console.log(describeBackend(await initBackend()));
  const data = await loadDataset('fashion-mnist', { seed: scale.search.seed, limit: scale.limit });
  const result = await trainResnetProxy(values.out, config, data, scale.search.retrain, console.log);
  console.log(JSON.stringify(result));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
