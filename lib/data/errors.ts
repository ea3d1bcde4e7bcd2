// Errors about data on disk, and the file reads that raise them: every message starts with the file it is about,
// says what is wrong with it, and where it helps, what to do.
import * as fs from 'node:fs';

export class DataError extends Error {
  constructor(
    /** The file or folder at fault. */
    readonly file: string,
    /** What is wrong, without the file name. */
    readonly problem: string,
    fix?: string,
  ) {
    super(`${file}: ${problem}${fix ? `\n  fix: ${fix}` : ''}`);
    this.name = 'DataError';
  }
}

/** What a failed fs call means, in words, for the common causes. */
function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EISDIR') return 'is a folder, expected a file';
  if (code === 'ENOTDIR') return 'is a file, expected a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (e as Error).message;
}

export function readDataFile(file: string, fix?: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new DataError(file, describe(e), fix);
  }
}

/** The entries of a folder, sorted by name so that every listing (and so every label) is deterministic. */
export function listFolder(dir: string, fix?: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    throw new DataError(dir, describe(e), fix);
  }
}

export function isFolder(path: string): boolean {
  return fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function isFile(path: string): boolean {
  return fs.statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
