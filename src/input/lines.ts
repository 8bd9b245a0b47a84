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
  readonly #onLine: (line: string, utf8: boolean) => void;
  // The start of a line whose end has not come yet, in the pieces it came in (joined once, at its end:
  // joining at every chunk made one long line quadratic).
  #rest: Buffer[] = [];

  constructor(onLine: (line: string, utf8: boolean) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let end = chunk.indexOf(0x0a);
    if (end === -1) {
      this.#rest.push(chunk);
      return;
    }
    if (this.#rest.length > 0) {
      this.#rest.push(chunk.subarray(0, end));
      const line = Buffer.concat(this.#rest);
      this.#rest = [];
      this.#emit(line, 0, line.length);
      start = end + 1;
      end = chunk.indexOf(0x0a, start);
    }
    while (end !== -1) {
      this.#emit(chunk, start, end);
      start = end + 1;
      end = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) this.#rest.push(chunk.subarray(start));
  }

  /** The input ended: a last line without a newline is a line too. */
  end(): void {
    const rest = Buffer.concat(this.#rest);
    this.#rest = [];
    if (rest.length > 0) this.#emit(rest, 0, rest.length);
  }

  #emit(bytes: Buffer, start: number, end: number): void {
    if (end > start && bytes[end - 1] === 0x0d) end--;
    const line = bytes.toString('utf8', start, end);
    // U+FFFD is rare in a list: only then are the bytes checked again.
    this.#onLine(line, !line.includes('\uFFFD') || isUtf8(bytes.subarray(start, end)));
  }
}

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
