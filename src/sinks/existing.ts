// --skip-existing: is the file already there (and, with an expected digest, the right one)?
import {createHash} from 'node:crypto';
import {createReadStream, statSync} from 'node:fs';
import {lstat, realpath} from 'node:fs/promises';
import {dirname, resolve} from 'node:path';
import {liesWithin} from './naming.js';

/**
 * Whether an existing regular file at `path` lets --skip-existing skip its URL: any such file, or with
 * an expected `sha256`, only one whose content matches it. A file reached through a symlinked folder
 * that leads out of `root` (the output folder) does not count: fetchall never follows one out of it,
 * neither to skip nor to read a digest (the request is made, and fails as `write` there). A file that
 * cannot be read for its digest (no permission, an I/O error) does not match: it is fetched and, if it
 * can be, replaced. `stop` ends a long digest (a file of gigabytes) when the run stops.
 * @example if (await existingMatches('out/a.txt', undefined, 'out')) skip();
 */
export async function existingMatches(path: string, sha256: string | undefined, root: string, stop?: AbortSignal): Promise<boolean> {
  try {
    const stat = await lstat(path);
    if (!stat.isFile()) return false;
    // DIR as the file sink writes under it: `lnk/../out` normalised as text (`out`), as path.join
    // made `path`; the OS would resolve `lnk/..` through the symlink to somewhere else.
    const [realRoot, realFolder] = await Promise.all([realpath(resolve(root)), realpath(dirname(path))]);
    if (!liesWithin(realRoot, realFolder)) return false;
  } catch {
    return false;
  }
  if (sha256 === undefined) return true;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, stop === undefined ? {} : {signal: stop})) hash.update(chunk as Buffer);
  } catch {
    return false;
  }
  return hash.digest('hex') === sha256;
}

/**
 * The `file` of a record skipped by --resume: the path when a file is there, else null (a URL done in
 * a run without -o, or a file removed since, is not a saved path).
 */
export function savedPathOrNull(path: string | null): string | null {
  try {
    return path !== null && statSync(path, {throwIfNoEntry: false})?.isFile() === true ? path : null;
  } catch {
    // Not there as far as we can tell (a folder made unsearchable since, a symlink loop).
    return null;
  }
}
