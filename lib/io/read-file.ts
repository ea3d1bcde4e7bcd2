// Reading a file a user named, with errors that say which file and what is wrong with it: missing, a folder, too big
// for Node to read at once, or (for JSON) damaged.
import * as fs from 'node:fs';

/** Node reads at most 2 GiB into one buffer. */
const MAX_READ = 2 ** 31 - 1;

export class FileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    fix?: string,
  ) {
    super(`${file}: ${problem}${fix ? `; ${fix}` : ''}`);
    this.name = 'FileError';
  }
}

/** What a failed fs call means, in words, for the common causes. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EISDIR') return 'is a folder, expected a file';
  if (code === 'ENOTDIR') return 'is a file, expected a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (e as Error).message;
}

export function readFileChecked(file: string, fix?: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new FileError(file, describeFsError(e), fix);
  }
  if (stat.isDirectory()) throw new FileError(file, 'is a folder, expected a file', fix);
  if (stat.size > MAX_READ) {
    throw new FileError(
      file,
      `is ${(stat.size / 2 ** 30).toFixed(1)} GiB, more than the 2 GiB that can be read at once`,
      fix,
    );
  }
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new FileError(file, describeFsError(e), fix);
  }
}

/** A JSON file's value; a damaged file names itself and what to do (`fix`, e.g. how to rebuild it). */
export function readJsonFile(file: string, fix?: string): unknown {
  const text = readFileChecked(file, fix).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileError(file, `is not valid JSON (${(e as Error).message})`, fix ?? 'restore or delete it');
  }
}
