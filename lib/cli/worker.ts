// `glit worker`: runs tasks of a run folder's parallel steps (lib/tasks), for any scheduler: a Slurm array task or a
// Kubernetes pod runs the one its index picks, a plain loop runs all that no one else has taken.
import { describeBackend, initBackend } from '../kernels/backend';
import { work, type FromWorker, type ToWorker } from '../tasks/worker';
import { readStep } from '../tasks/task-files';
import { numberOption, parseCommandArgs, UsageError, type Command } from './command';
import { timedLog } from './search';

async function serve(): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  // The driver is gone (finished, failed or killed): so is the point of going on.
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: ToWorker) => {
    try {
      const outcome = await work(m.run, m.id, {
        log: (line) => send({ type: 'log', id: m.id, line }),
        progress: (progress) => send({ type: 'progress', id: m.id, progress }),
      });
      send({ type: outcome === 'busy' ? 'busy' : 'done', id: m.id });
    } catch (e) {
      send({ type: 'failed', id: m.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  send({ type: 'ready' });
  await new Promise(() => {}); // until the driver disconnects
}

export const workerCommand: Command = {
  name: 'worker',
  summary: "run tasks of a run's parallel step (what Slurm, Kubernetes or a plain loop starts)",
  help: `usage: npx glit worker --run DIR --step STEP [--index I]

Runs task I of step STEP of the run in DIR (line I of DIR/tasks/steps/STEP.txt, counting from 0), or without
--index every task of the step that has no output and no live worker, one after the other. A task with its output
is not run again; one a killed worker left is continued from its last saved state. Its output goes to
DIR/tasks/<id>/output.json. The backend comes from GLIT_BACKEND and GLIT_BLAS, and must be the one the run's driver
used. \`glit search\` and \`glit reproduce\` with --executor local|slurm|external start workers themselves.
  --run DIR        the run folder (the driver's --out)
  --step STEP      the step's name (DIR/tasks/steps/STEP.txt)
  --index I        the task's line in the step file (Slurm: $SLURM_ARRAY_TASK_ID; Kubernetes: $JOB_COMPLETION_INDEX)`,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { run: { type: 'string' }, step: { type: 'string' }, index: { type: 'string' }, serve: { type: 'boolean' } },
      false,
    );
    const backend = await initBackend();
    if (values.serve) return serve();
    console.error(`glit worker: ${describeBackend(backend)}`);
    if (!values.run || !values.step) throw new UsageError('--run DIR and --step STEP are required');
    const ids = readStep(values.run, values.step);
    const index = numberOption(values.index, 'index');
    if (index !== undefined && !(Number.isInteger(index) && index >= 0 && index < ids.length))
      throw new UsageError(`--index ${values.index}: step ${values.step} has tasks 0 to ${ids.length - 1}`);
    const log = timedLog(Date.now());
    for (const id of index === undefined ? ids : [ids[index]]) {
      const outcome = await work(values.run, id, { log });
      console.error(
        `glit worker: task ${id} ${outcome === 'ran' ? 'finished' : outcome === 'done' ? 'was finished before' : 'is held by another live worker: left to it'}`,
      );
    }
  },
};
