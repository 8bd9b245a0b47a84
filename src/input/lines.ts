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
  readonly #maxBytes: number;
  // The start of a line whose end has not come yet, in the pieces it came in (joined once, at its end:
  // joining at every chunk made one long line quadratic).
  #rest: Buffer[] = [];
  #restBytes = 0;
  // The line now being split is longer than the cap: only its head is kept, the rest dropped. The head
  // starts at its first byte that is not ASCII white space, so that a long blank line stays blank and
  // a long comment a comment.
  #overlong = false;

  /**
   * `overlong`: the line was longer than `maxBytes` (a CR before its LF not counted); `line` is then
   * its first KiB from its first character that is not white space.
   */
  constructor(onLine: (line: string, utf8: boolean, overlong: boolean) => void, maxBytes = MAX_LINE_BYTES) {
    this.#onLine = onLine;
    this.#maxBytes = maxBytes;
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
      if (end - start > this.#maxBytes) {
        this.#keep(chunk.subarray(start, end));
        this.#flush();
      } else {
        this.#emit(chunk, start, end);
      }
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
    if (piece.length === 0) return;
    if (!this.#overlong && this.#restBytes + piece.length > this.#maxBytes + 1) {
      // Past the cap (one byte spared for a CR): from now on only the head is kept.
      this.#overlong = true;
      const kept = this.#rest;
      this.#rest = [];
      this.#restBytes = 0;
      for (const earlier of kept) this.#keepHead(earlier);
    }
    if (this.#overlong) {
      this.#keepHead(piece);
      return;
    }
    this.#rest.push(piece);
    this.#restBytes += piece.length;
  }

  /** Add to an overlong line's head: from its first significant byte, HEAD_BYTES at most. */
  #keepHead(piece: Buffer): void {
    let from = 0;
    if (this.#restBytes === 0) {
      while (from < piece.length && isAsciiSpace(piece[from]!)) from++;
    }
    const room = HEAD_BYTES - this.#restBytes;
    if (room <= 0 || from >= piece.length) return;
    const head = Buffer.from(piece.subarray(from, from + room));
    this.#rest.push(head);
    this.#restBytes += head.length;
  }

  #flush(): void {
    const line = Buffer.concat(this.#rest);
    let overlong = this.#overlong;
    this.#rest = [];
    this.#restBytes = 0;
    this.#overlong = false;
    // Exactly one byte over: overlong unless that byte is the CR of a CRLF.
    if (!overlong && line.length > this.#maxBytes && !(line.length === this.#maxBytes + 1 && line[line.length - 1] === 0x0d)) {
      overlong = true;
      this.#keepHead(line);
      const head = Buffer.concat(this.#rest);
      this.#rest = [];
      this.#restBytes = 0;
      this.#emit(head, 0, head.length, true);
      return;
    }
    this.#emit(line, 0, line.length, overlong);
  }

  #emit(bytes: Buffer, start: number, end: number, overlong = false): void {
    if (!overlong && end > start && bytes[end - 1] === 0x0d) end--;
    const line = bytes.toString('utf8', start, end);
    // U+FFFD is rare in a list: only then are the bytes checked again.
    this.#onLine(line, !line.includes('\uFFFD') || isUtf8(bytes.subarray(start, end)), overlong);
  }
}

/** TAB, LF, VT, FF, CR and space: the ASCII white space `trim()` removes. */
export function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/**
 * The longest line kept whole: 16 MiB, far beyond any URL or JSON entry. A longer one (a file with no
 * newline, `/dev/zero`) is dropped as it streams, so memory stays flat, and the list names it.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** How much of an overlong line is kept (from its first byte that is not ASCII white space). */
export const HEAD_BYTES = 1024;

/**
 * The lines of a stream, as {@link LineSplitter} splits them (invalid UTF-8 decoded as U+FFFD).
 * @example for await (const line of readLines(createReadStream('report.jsonl'))) …
 */
export async function* readLines(stream: Readable, maxBytes = MAX_LINE_BYTES): AsyncGenerator<string> {
  let lines: string[] = [];
  const split = new LineSplitter((line) => lines.push(line), maxBytes);
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
