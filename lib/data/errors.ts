// Errors about data on disk, and the file reads that raise them: every message starts with the file it is about,
// says what is wrong with it, and where it helps, what to do.
import * as fs from 'node:fs';
import { describeFsError, FileError, readFileChecked } from '../io/read-file';

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

export function readDataFile(file: string, fix?: string): Buffer {
  try {
    return readFileChecked(file);
  } catch (e) {
    throw e instanceof FileError ? new DataError(file, e.problem, fix) : e;
  }
}

/** The entries of a folder, sorted by name so that every listing (and so every label) is deterministic. */
export function listFolder(dir: string, fix?: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    throw new DataError(dir, describeFsError(e), fix);
  }
}

export function isFolder(path: string): boolean {
  return fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function isFile(path: string): boolean {
  return fs.statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
