// Finding data files that ship inside installed npm packages.
import * as path from 'node:path';
import { DataError } from './errors';

/** The folder of an installed package (resolved the way `require` finds it, so it works from notebooks too). */
export function packageDir(name: string): string {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new DataError(`npm package '${name}'`, 'is not installed', 'run `npm ci` in the project root');
  }
}
