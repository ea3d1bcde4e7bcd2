// A one-node Slurm cluster for a test file: scripts/slurm-local.sh in a scratch folder on free ports (a developer's
// own cluster is left alone), started before the file's tests and stopped after them, also when they fail. Where
// sbatch is not installed, `skip` says so (CI installs Slurm through scripts/setup.sh, so there the tests run).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { ROOT } from './helpers';

const installed = spawnSync('sh', ['-c', 'command -v sbatch']).status === 0;
export const skip = installed
  ? false
  : 'sbatch not found: install slurm-wlm and munge (npm run setup) to test on Slurm';

/** Two consecutive ports nothing listens on (the controller's and slurmd's). */
async function freePorts(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let port = 16817; port < 16917; port += 2) if ((await free(port)) && (await free(port + 1))) return port;
  throw new Error('no free port pair in 16817-16916 for the test cluster');
}

/** Starts the cluster for this file (SLURM_CONF set for it and its children); `scratch` makes folders removed after. */
export function useSlurmCluster(file: string) {
  if (skip) console.log(`# ${file}: skipped the cluster tests (${skip})`);
  const made: string[] = [];
  const scratch = () => made[made.push(fs.mkdtempSync(path.join(os.tmpdir(), 'glit-slurm-test-'))) - 1];
  const cluster = { dir: '', conf: '' };
  const slurmLocal = (command: string, port = '') =>
    spawnSync('bash', [path.join(ROOT, 'scripts/slurm-local.sh'), command], {
      encoding: 'utf8',
      env: { ...process.env, GLIT_SLURM_DIR: cluster.dir, ...(port && { GLIT_SLURM_PORT: port }) },
    });
  before(async () => {
    if (skip) return;
    cluster.dir = scratch();
    const started = slurmLocal('start', String(await freePorts()));
    assert.equal(started.status, 0, started.stderr);
    cluster.conf = /export SLURM_CONF=(\S+)/.exec(started.stdout)![1];
    process.env.SLURM_CONF = cluster.conf;
  });
  after(() => {
    if (skip) return;
    const stopped = slurmLocal('stop');
    assert.equal(stopped.status, 0, stopped.stderr);
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return { scratch, cluster };
}

/** Resolves once `file` holds `text` (a worker has started), or fails after 20 s. */
export async function untilFileHas(file: string, text: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${file} does not say '${text}' after 20 s`);
}
