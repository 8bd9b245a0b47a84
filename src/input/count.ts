// Count a list's entries ahead of the run, for the progress total, without holding the list in memory.
import {createReadStream} from 'node:fs';
import type {Readable} from 'node:stream';
import {inShard, type Shard} from '../parse/shard.js';
import type {CountSource} from './read-lists.js';
import {HEAD_BYTES, isAsciiSpace, MAX_LINE_BYTES} from './lines.js';
import {isEntryText} from './parse-line.js';

/**
 * Entries (non-blank, non-comment lines) in the given files, counted by streaming them;
 * with a shard, only those that fall in it. A descriptor is read at explicit positions (pread), so
 * the list's own reader of the same descriptor keeps its offset.
 *
 * Bytes, not strings: most lines are decided by their first byte that is not ASCII white space (a
 * `#` is a comment, any other ASCII byte an entry), with one `indexOf` to the line's end. Only a line
 * whose first such byte is not ASCII (a BOM, a no-break space, U+2028…) is decoded and trimmed as the
 * reader trims it. A 3,000,000-line list takes a fraction of a second, not seconds: a stopped run's
 * summary can say how many entries it never started.
 * @example await countEntries([{path: 'urls.txt'}], undefined); // 1000
 */
export async function countEntries(sources: readonly CountSource[], shard: Shard | undefined, signal?: AbortSignal): Promise<number> {
  let index = 0;
  let selected = 0;
  const count = (): void => {
    index++;
    if (shard === undefined || inShard(index, shard)) selected++;
  };
  for (const source of sources) {
    // 'start': before the line's first significant byte; 'rest': the line is decided, skip to its end;
    // 'slow': gathering a line that must be decoded to be decided.
    let state: 'start' | 'rest' | 'slow' = 'start';
    let gathered: Buffer[] = [];
    // The line's bytes so far (its leading ASCII white space too), and its last one: the reader's cap.
    let lineBytes = 0;
    let lastByte = -1;
    const decide = (overlong: boolean): void => {
      // An overlong line is only its head to the reader (trim() takes a BOM or a no-break space too).
      const bytes = Buffer.concat(gathered);
      gathered = [];
      if (isEntryText((overlong ? bytes.subarray(0, HEAD_BYTES) : bytes).toString('utf8'), overlong)) count();
    };
    // Overlong as the reader has it: past MAX_LINE_BYTES, a CR right before the LF not counted.
    const overlong = (): boolean => lineBytes > MAX_LINE_BYTES && !(lineBytes === MAX_LINE_BYTES + 1 && lastByte === 0x0d);
    for await (const chunk of readerOf(source, signal) as AsyncIterable<Buffer>) {
      let i = 0;
      while (i < chunk.length) {
        if (state !== 'start') {
          const end = chunk.indexOf(0x0a, i);
          if (state === 'slow') {
            const piece = chunk.subarray(i, end < 0 ? chunk.length : end);
            if (piece.length > 0) {
              gathered.push(piece);
              lineBytes += piece.length;
              lastByte = piece[piece.length - 1]!;
            }
            // Past the reader's cap whatever comes next: decided by its head, the rest skipped.
            if (lineBytes > MAX_LINE_BYTES + 1) {
              decide(true);
              state = 'rest';
            }
          }
          if (end < 0) break;
          if (state === 'slow') decide(overlong());
          state = 'start';
          lineBytes = 0;
          i = end + 1;
          continue;
        }
        const byte = chunk[i]!;
        if (byte === 0x0a) {
          lineBytes = 0;
          i++;
        } else if (isAsciiSpace(byte)) {
          lineBytes++;
          i++;
        } else if (byte >= 0x80) {
          state = 'slow';
        } else {
          if (byte !== 0x23) count();
          state = 'rest';
          i++;
        }
      }
    }
    if (state === 'slow') decide(overlong());
  }
  return selected;
}

function readerOf(source: CountSource, signal: AbortSignal | undefined): Readable {
  const options = {highWaterMark: 256 * 1024, signal};
  if ('path' in source) return createReadStream(source.path, options);
  return createReadStream('', {...options, fd: source.fd, start: source.start, autoClose: false});
}
