// The shape every `glit` subcommand has, and the argument parsing they share (node:util parseArgs, strict).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  /** One line for `glit --help`. */
  summary: string;
  /** Full help text for `glit <name> --help`: usage line, options, examples. */
  help: string;
  run(argv: string[]): Promise<void>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs options from flag names: each of `strings` takes a value, each of `switches` is a boolean. */
export function flags<S extends string, B extends string = never>(strings: readonly S[], switches: readonly B[] = []) {
  const spec = (names: readonly string[], type: 'string' | 'boolean') => names.map((n) => [n, { type }]);
  return Object.fromEntries([...spec(strings, 'string'), ...spec(switches, 'boolean')]) as {
    [K in S | B]: { type: K extends B ? 'boolean' : 'string' };
  };
}

/** Parses argv strictly against `options`; unknown flags and bad values become UsageErrors that name the flag. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A numeric option: undefined stays undefined, anything that is not a finite number is a UsageError. */
export function numberOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag} expects a number, got '${value}'`);
  return n;
}
