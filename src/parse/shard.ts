// Parses `--shard K/N` and says whether an entry's index belongs to that shard.

import {UsageError} from '../errors.js';

/** One shard of a list: `index` K of `count` N, 1 ≤ K ≤ N. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

const SHARD = /^(\d+)\/(\d+)$/;

/**
 * Parses `K/N` with whole numbers 1 ≤ K ≤ N. Throws a {@link UsageError} naming `flag` otherwise.
 *
 * @example
 * parseShard('2/4', '--shard'); // {index: 2, count: 4}
 * parseShard('5/4', '--shard'); // throws: --shard must be K/N with whole numbers 1 ≤ K ≤ N, like 1/4 (got "5/4")
 */
export function parseShard(text: string, flag: string): Shard {
  const match = SHARD.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || index < 1 || index > count) {
    throw new UsageError(`${flag} must be K/N with whole numbers 1 ≤ K ≤ N, like 1/4 (got ${JSON.stringify(text)})`);
  }
  return {index, count};
}

/**
 * Whether the entry numbered `entryIndex` (from 1, in input order) falls in `shard`:
 * `(entryIndex - 1) % N === K - 1`. Shards 1..N are disjoint and together cover every entry.
 *
 * @example
 * inShard(5, {index: 1, count: 4}); // true  (entries 1, 5, 9, … are shard 1/4)
 * inShard(6, {index: 1, count: 4}); // false
 */
export function inShard(entryIndex: number, shard: Shard): boolean {
  return (entryIndex - 1) % shard.count === shard.index - 1;
}
