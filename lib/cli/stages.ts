// `glit supernet` and `glit evolve`: the search's stages one at a time, on any space (the pipeline in `glit search`
// runs them in order). Both work in a run folder like `glit search` and resume with --resume.
import * as path from 'node:path';
import { loadArchitecture } from '../model/arch';
import { stderrProgress } from '../core/progress';
import { budgetFor } from '../search/pipeline';
import { searchSupernet, trainSupernet } from '../search/stages';
import { decode, SPACE_SPEC_HELP, spaceFromSpec } from '../search/space';
import { disposeSupernet } from '../search/supernet';
import { parseCommandArgs, UsageError, type Command } from './command';
import type { RunSettings } from '../config/run-settings';
import { runFiles, writeBestArch } from '../io/run-folder';
import { openRun, resolveRun, RUN_HELP, RUN_OPTIONS } from './run-options';
import { timedLog } from './search';

const spaceOf = (run: RunSettings) => spaceFromSpec(run.space ?? '', loadArchitecture(run.config.baseline).model);

export const supernetCommand: Command = {
  name: 'supernet',
  summary: 'train a single-path one-shot supernet over a search space',
  help: `usage: npx glit supernet --space SPACE [--out DIR] [--scale cpu] [options]

Trains a SPOS supernet: every step samples one path uniformly (within the FLOPs budget) and trains only it. Writes
DIR/supernet/{supernet.safetensors (state after each epoch), metrics.jsonl}. Search it with \`glit evolve --out DIR --resume\`.
  --space SPACE    ${SPACE_SPEC_HELP} (for the scale's baseline model)
${RUN_HELP}`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { ...RUN_OPTIONS, space: { type: 'string' } }, false);
    if (!values.resume && !values.space) throw new UsageError('--space is required');
    const { out, run, resumed } = resolveRun(values, 'supernet', values.space ? { space: values.space } : undefined);
    const space = spaceOf(run);
    const { data } = await openRun('supernet', out, run, resumed);
    const net = await trainSupernet(
      path.join(out, 'supernet'),
      space,
      data,
      run.config,
      budgetFor(run.config),
      timedLog(Date.now()),
      stderrProgress(),
    );
    disposeSupernet(net);
    if (values.json) console.log(JSON.stringify({ out, space: space.name }));
  },
};

export const evolveCommand: Command = {
  name: 'evolve',
  summary:
    'search a trained supernet with the evolutionary algorithm (or random search) and save the best architectures',
  help: `usage: npx glit evolve --out DIR [--method evolution|random]

Loads the supernet that \`glit supernet --out DIR\` trained (training it first if it is not finished), scores
candidates by val accuracy after BatchNorm recalibration, and writes DIR/<method>/{<method>.json (state after every
evaluation), generations.jsonl, top.json} and DIR/best-arch.json, which \`glit train --arch\` and \`glit summary\` accept.
  --out DIR        a run folder made by \`glit supernet\`
  --method NAME    evolution (SPOS's EA, default) or random (same number of evaluations)
  --json           print the best candidates as JSON`,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { out: { type: 'string' }, method: { type: 'string' }, json: { type: 'boolean' } },
      false,
    );
    const method = values.method ?? 'evolution';
    if (method !== 'evolution' && method !== 'random')
      throw new UsageError(`--method '${method}' is not a method: use evolution or random`);
    if (!values.out) throw new UsageError('--out DIR is required: a run folder made by `glit supernet`');
    const { out, run } = resolveRun({ out: values.out, resume: true }, 'evolve');
    if (!run.space) throw new UsageError(`${out} was not made by \`glit supernet\` (its config.json names no space)`);
    const space = spaceOf(run);
    const { data } = await openRun('evolve', out, run, true);
    const log = timedLog(Date.now());
    const budget = budgetFor(run.config);
    const net = await trainSupernet(path.join(out, 'supernet'), space, data, run.config, budget, log, stderrProgress());
    const state = await searchSupernet(
      path.join(out, method),
      method,
      space,
      net,
      data,
      run.config,
      budget,
      log,
      stderrProgress(),
    );
    disposeSupernet(net);
    const best = { ...decode(space, state.topK[0].code), name: `${method}-best` };
    writeBestArch(out, best);
    if (values.json) console.log(JSON.stringify(state.topK));
    else
      console.log(
        `best: ${state.topK[0].key} (val ${(100 * state.topK[0].score).toFixed(2)}% on the supernet) -> ${runFiles(out).bestArch}`,
      );
  },
};
