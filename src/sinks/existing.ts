// --skip-existing: is the file already there (and, with an expected digest, the right one)?
import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {lstat} from 'node:fs/promises';

/**
 * Whether an existing regular file at `path` lets --skip-existing skip its URL: any such file, or with
 * an expected `sha256`, only one whose content matches it.
 * @example if (await existingMatches('out/a.txt', undefined)) skip();
 */
export async function existingMatches(path: string, sha256: string | undefined): Promise<boolean> {
  try {
    const stat = await lstat(path);
    if (!stat.isFile()) return false;
  } catch {
    return false;
  }
  if (sha256 === undefined) return true;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex') === sha256;
}
