// Lines of a byte stream, split the way `sed`, `wc -l` and an editor's line numbers count them.
import {isUtf8} from 'node:buffer';
import type {Readable} from 'node:stream';

/**
 * Splits bytes into lines at LF only; a CR right before the LF is dropped (CRLF files), and a last line
 * without a newline still counts. Unlike Node's readline, neither a lone CR nor U+2028/U+2029 ends a
 * line: JSON allows those two raw inside strings, and a list's line numbers must match `sed -n Np`.
 * Each line is decoded as UTF-8 and handed over with whether its bytes were valid UTF-8 (invalid
 * bytes decode to U+FFFD, so the caller can refuse the line instead of fetching another URL).
 * @example const split = new LineSplitter((line, utf8) => …); split.push(chunk); split.end();
 */
export class LineSplitter {
  readonly #onLine: (line: string, utf8: boolean, overlong: boolean) => void;
  // The start of a line whose end has not come yet, in the pieces it came in (joined once, at its end:
  // joining at every chunk made one long line quadratic).
  #rest: Buffer[] = [];
  #restBytes = 0;
  // The line now being split is longer than MAX_LINE_BYTES: only its head is kept, the rest dropped.
  #overlong = false;

  /** `overlong`: the line was longer than {@link MAX_LINE_BYTES}; `line` is then its first KiB only. */
  constructor(onLine: (line: string, utf8: boolean, overlong: boolean) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let end = chunk.indexOf(0x0a);
    if (end === -1) {
      this.#keep(chunk);
      return;
    }
    if (this.#rest.length > 0 || this.#overlong) {
      this.#keep(chunk.subarray(0, end));
      this.#flush();
      start = end + 1;
      end = chunk.indexOf(0x0a, start);
    }
    while (end !== -1) {
      if (end - start > MAX_LINE_BYTES) this.#emit(chunk, start, start + HEAD_BYTES, true);
      else this.#emit(chunk, start, end, false);
      start = end + 1;
      end = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) this.#keep(chunk.subarray(start));
  }

  /** The input ended: a last line without a newline is a line too. */
  end(): void {
    if (this.#rest.length > 0 || this.#overlong) this.#flush();
  }

  #keep(piece: Buffer): void {
    if (this.#overlong || piece.length === 0) return;
    if (this.#restBytes + piece.length > MAX_LINE_BYTES) {
      // Past the cap: keep the head (for the message), drop the rest up to the line's end.
      this.#overlong = true;
      this.#rest = [Buffer.from(Buffer.concat([...this.#rest, piece.subarray(0, HEAD_BYTES)]).subarray(0, HEAD_BYTES))];
      this.#restBytes = 0;
      return;
    }
    this.#rest.push(piece);
    this.#restBytes += piece.length;
  }

  #flush(): void {
    const line = Buffer.concat(this.#rest);
    const overlong = this.#overlong;
    this.#rest = [];
    this.#restBytes = 0;
    this.#overlong = false;
    this.#emit(line, 0, line.length, overlong);
  }

  #emit(bytes: Buffer, start: number, end: number, overlong: boolean): void {
    if (!overlong && end > start && bytes[end - 1] === 0x0d) end--;
    const line = bytes.toString('utf8', start, end);
    // U+FFFD is rare in a list: only then are the bytes checked again.
    this.#onLine(line, !line.includes('\uFFFD') || isUtf8(bytes.subarray(start, end)), overlong);
  }
}

/**
 * The longest line kept whole: 16 MiB, far beyond any URL or JSON entry. A longer one (a file with no
 * newline, `/dev/zero`) is dropped as it streams, so memory stays flat, and the list names it.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
const HEAD_BYTES = 1024;

/**
 * The lines of a stream, as {@link LineSplitter} splits them (invalid UTF-8 decoded as U+FFFD).
 * @example for await (const line of readLines(createReadStream('report.jsonl'))) …
 */
export async function* readLines(stream: Readable): AsyncGenerator<string> {
  let lines: string[] = [];
  const split = new LineSplitter((line) => lines.push(line));
  for await (const chunk of stream) {
    split.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    if (lines.length === 0) continue;
    const ready = lines;
    lines = [];
    yield* ready;
  }
  split.end();
  yield* lines;
}
