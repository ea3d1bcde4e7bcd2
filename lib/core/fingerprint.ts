// Which code made a run: a hash of the library files that decide its numbers (all of lib/ but the notebook and CLI
// presentation), recorded in each run folder's config.json, so that a notebook rerun after an edit to the model or
// the training code can tell that its saved stages came from other code.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LIB = path.resolve(fs.realpathSync(__dirname), '..');
const PRESENTATION = ['notebook', 'cli'];

/** sha256 over every lib/ .ts file outside lib/notebook and lib/cli, by path and content; 16 hex digits. */
export function codeFingerprint(): string {
  const hash = createHash('sha256');
  const files = (fs.readdirSync(LIB, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !PRESENTATION.includes(f.split(path.sep)[0]))
    .sort();
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(LIB, f)))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}
