// Count a list's entries ahead of the run, for the progress total, without holding the list in memory.
import {createReadStream} from 'node:fs';
import {createInterface} from 'node:readline';
import {inShard, type Shard} from '../parse/shard.js';

/**
 * Entries (non-blank, non-comment lines) in the given files, counted by streaming them;
 * with a shard, only those that fall in it.
 */
export async function countEntries(paths: readonly string[], shard: Shard | undefined, signal?: AbortSignal): Promise<number> {
  let index = 0;
  let selected = 0;
  for (const path of paths) {
    const lines = createInterface({input: createReadStream(path, {highWaterMark: 256 * 1024, signal}), crlfDelay: Infinity});
    for await (const raw of lines) {
      const line = raw.trim().replace(/^\uFEFF/, '');
      if (line === '' || line.startsWith('#')) continue;
      index++;
      if (shard === undefined || inShard(index, shard)) selected++;
    }
  }
  return selected;
}
