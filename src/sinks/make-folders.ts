// `mkdir -p` that always ends: Node's own recursive mkdir loops forever where mkdir answers ENOENT
// under a folder that exists (a path under /proc or /sys), which turned `-o /proc/x` into a hang.
import {mkdirSync, statSync} from 'node:fs';
import {dirname, resolve} from 'node:path';

/**
 * Make `dir` and any missing folders above it, one `mkdir` each, nearest the root first. Throws the
 * system error of the first folder that cannot be made (ENOENT, ENOTDIR, EACCES, EROFS, …), or EEXIST
 * when `dir` itself exists and is not a folder. At most one `mkdir` per path component: no loop.
 * @example makeFoldersSync('out/a/b'); // like mkdirSync('out/a/b', {recursive: true})
 */
export function makeFoldersSync(dir: string): void {
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
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
    } catch (error) {
      // Made by someone else meanwhile: as good as made here.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
