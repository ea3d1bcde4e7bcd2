// `glit backend`: starts the requested backend and reports it, or fails saying why.
import { parseCommandArgs, type Command } from './command';
import { BACKENDS, initBackend, optionsFromEnv, type BackendRequest } from '../kernels/backend';

export const backendCommand: Command = {
  name: 'backend',
  summary: 'start the requested tfjs backend and print which backend and device run (or why it cannot start)',
  help: `usage: npx glit backend [--backend auto|${BACKENDS.join('|')}] [--json]

Starts a backend the way every other command does and prints what runs.
  --backend NAME   overrides GLIT_BACKEND (default auto: tensorflow, then webgpu on a real GPU, wasm, cpu)
  --json           print the report as JSON
Exits 1 with the cause and the fix when the requested backend cannot start.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { backend: { type: 'string' }, json: { type: 'boolean' } }, false);
    const options = optionsFromEnv(values.backend ? { ...process.env, GLIT_BACKEND: values.backend } : process.env);
    const info = await initBackend(options as { backend: BackendRequest });
    if (values.json) console.log(JSON.stringify(info));
    else {
      console.log(`backend: ${info.backend}\ndevice:  ${info.device}\nrequested: ${info.requested}`);
      for (const s of info.skipped ?? []) console.log(`skipped: ${s}`);
    }
  },
};
