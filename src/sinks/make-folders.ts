// `mkdir -p` that always ends: Node's own recursive mkdir loops forever where mkdir answers ENOENT
// under a folder that exists (a path under /proc or /sys), which turned `-o /proc/x` into a hang.
import {closeSync, fsyncSync, mkdirSync, openSync, statSync} from 'node:fs';
import {dirname, resolve} from 'node:path';

/**
 * Make `dir` and any missing folders above it, one `mkdir` each, nearest the root first. Throws the
 * system error of the first folder that cannot be made (ENOENT, ENOTDIR, EACCES, EROFS, …), or EEXIST
 * when `dir` itself exists and is not a folder. At most one `mkdir` per path component: no loop.
 * Returns the folders it made, nearest the root first.
 * @example makeFoldersSync('out/a/b'); // like mkdirSync('out/a/b', {recursive: true})
 */
export function makeFoldersSync(dir: string): string[] {
  const missing: string[] = [];
  for (let current = resolve(dir); ; ) {
    let stat;
    try {
      stat = statSync(current, {throwIfNoEntry: false});
    } catch {
      // Not reachable (EACCES, ENOTDIR, ELOOP…): the mkdir below it reports the real reason.
      break;
    }
    if (stat !== undefined) {
      if (missing.length === 0 && !stat.isDirectory()) throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${current}'`), {code: 'EEXIST', path: current});
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  const made: string[] = [];
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
      made.push(missing[i]!);
    } catch (error) {
      // Made by someone else meanwhile: as good as made here.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return made;
}

/**
 * Flush a folder's entries to disk (fsync on the folder): a new file's, or a new sub-folder's, name
 * survives a power cut only once its parent folder is synced. Ignores file systems that refuse it.
 */
export function syncFolderSync(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a folder; the file's own bytes were synced already.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
