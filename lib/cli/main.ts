// `glit <command> [options]`: dispatches to the subcommands listed below.
import { UsageError, type Command } from './command';
import { exitOnSecondInterrupt, Interrupted } from '../core/interrupt';
import { resumeHint } from './run-options';
import { backendCommand } from './backend';
import { trainCommand } from './train';
import { searchCommand } from './search';
import { evolveCommand, supernetCommand } from './stages';
import { reproduceCommand } from './reproduce';
import { dataCommand } from './data';
import { predictCommand } from './predict';
import { summaryCommand } from './summary';
import { workerCommand } from './worker';

const COMMANDS: Command[] = [
  backendCommand,
  trainCommand,
  supernetCommand,
  evolveCommand,
  searchCommand,
  reproduceCommand,
  summaryCommand,
  dataCommand,
  predictCommand,
  workerCommand,
];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'glit: GLiT (global-local image transformer) and its hierarchical architecture search, in TypeScript.',
    '',
    "usage: npx glit <command> [options]      (npx glit <command> --help for a command's options)",
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'environment: GLIT_BACKEND=auto|tensorflow|webgpu|wasm|cpu, GLIT_WEBGPU_ADAPTER=default|opengles (see environment.md)',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topHelp());
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command '${name}'`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(command.help);
      return;
    }
    exitOnSecondInterrupt();
    await command.run(rest);
    process.exit(0); // Dawn and the wasm runtime can keep the event loop alive
  } catch (e) {
    if (e instanceof Interrupted) {
      console.error(
        `glit ${name}: interrupted; the last saved state is kept${resumeHint() ? `: ${resumeHint()}` : ''}`,
      );
      process.exit(130);
    }
    if (e instanceof UsageError) {
      console.error(`glit: ${e.message}\n\n${command ? command.help : topHelp()}`);
      process.exit(2);
    }
    console.error(`glit ${name}: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.GLIT_DEBUG) console.error(e);
    process.exit(1);
  }
}
