// Files that are never left half-written: results and checkpoints go to a temporary file that is renamed into place,
// so a run killed mid-write leaves the previous version intact. A failed write removes its temporary; one left by a
// killed process is swept when the run folder is opened again (sweepTemporaries).
import * as fs from 'node:fs';
import * as path from 'node:path';

// A writer's temporary, and the private files lib/io/run-lock.ts links its lock from.
const TEMPORARY = /\.tmp-\d+$|^\.lock\.(stale-)?\d+$/;

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** The error of a failed write, saying which file and, when the disk is full, how much space it needed. */
function writeError(file: string, bytes: number, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new Error(`${file}: the disk is full (writing ${megabytes(bytes)}); free at least that much and --resume`);
  }
  return new Error(`${file}: could not be written (${(e as Error).message})`);
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, e);
  }
}

export const writeJsonAtomic = (file: string, value: unknown): void =>
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');

/** One JSON object per line; a line is appended whole (a crash can only lose the line being written). */
export function appendJsonLine(file: string, value: unknown): void {
  const line = JSON.stringify(value) + '\n';
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, line);
  } catch (e) {
    throw writeError(file, Buffer.byteLength(line), e);
  }
}

/** Removes the temporaries that killed writers left under `dir`; call it only while holding the folder's lock. */
export function sweepTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const swept: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !TEMPORARY.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    fs.rmSync(file, { force: true });
    swept.push(file);
  }
  return swept;
}
