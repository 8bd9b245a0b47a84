// Count a list's entries ahead of the run, for the progress total, without holding the list in memory.
import {createReadStream} from 'node:fs';
import {inShard, type Shard} from '../parse/shard.js';
import {readLines} from './lines.js';

/**
 * Entries (non-blank, non-comment lines) in the given files, counted by streaming them;
 * with a shard, only those that fall in it.
 */
export async function countEntries(paths: readonly string[], shard: Shard | undefined, signal?: AbortSignal): Promise<number> {
  let index = 0;
  let selected = 0;
  for (const path of paths) {
    for await (const raw of readLines(createReadStream(path, {highWaterMark: 256 * 1024, signal}))) {
      const line = raw.trim().replace(/^\uFEFF/, '');
      if (line === '' || line.startsWith('#')) continue;
      index++;
      if (shard === undefined || inShard(index, shard)) selected++;
    }
  }
  return selected;
}
