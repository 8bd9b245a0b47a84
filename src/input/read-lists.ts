// Lists from files and stdin, read line by line as a stream: memory does not grow with the list.
import {open, type FileHandle} from 'node:fs/promises';
import {createInterface, type Interface} from 'node:readline';
import type {Readable} from 'node:stream';
import {UsageError} from '../errors.js';
import type {Entry} from '../record.js';
import {parseLine} from './parse-line.js';

/** A list opened and ready to read: its display name and its byte stream. */
export interface OpenList {
  readonly name: string;
  readonly stream: Readable;
  /** True when it is a regular file, so its entries can be counted ahead. */
  readonly regularFile: boolean;
  readonly path: string | undefined;
}

/**
 * Open every list before the first request, so a missing one fails the run before anything is sent.
 * `-` (or no list at all) is standard input.
 */
export async function openLists(paths: readonly string[], stdin: () => Readable): Promise<OpenList[]> {
  const lists = paths.length === 0 ? ['-'] : paths;
  if (lists.filter((p) => p === '-').length > 1) throw new UsageError('standard input (-) can be given only once');
  const opened: OpenList[] = [];
  const handles: FileHandle[] = [];
  try {
    for (const path of lists) {
      if (path === '-') {
        opened.push({name: '-', stream: stdin(), regularFile: false, path: undefined});
        continue;
      }
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (error) {
        throw new UsageError(`cannot read list ${path}: ${describeErrno(error)}`);
      }
      handles.push(handle);
      const stat = await handle.stat();
      if (stat.isDirectory()) throw new UsageError(`cannot read list ${path}: it is a directory`);
      opened.push({name: path, stream: handle.createReadStream({highWaterMark: 256 * 1024}), regularFile: stat.isFile(), path});
    }
  } catch (error) {
    await Promise.all(handles.map((h) => h.close().catch(() => {})));
    throw error;
  }
  return opened;
}

function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? String(error);
}

/**
 * Read the entries of every list in order, numbered from 1 across lists.
 * @example for await (const entry of readEntries(await openLists(['urls.txt'], () => process.stdin))) …
 */
export function readEntries(lists: readonly OpenList[]): AsyncIterable<Entry> {
  return new EntryReader(lists);
}

// Lines buffered ahead of the consumer before the list stream is paused. readline still hands over
// the rest of a chunk it has started, so the queue can briefly exceed this by one chunk's lines.
const QUEUE_LINES = 4096;

/**
 * The lists' lines, split by readline (its rules for CRLF, lone CR and a last line without newline),
 * queued as they come and parsed as they are taken. `next()` answers at once, without a promise, when
 * a line is already queued — most of the time — and with a promise only when it has to wait for the
 * stream: no async-iteration round trip per entry. Callers that await it (`for await`) see no difference.
 */
class EntryReader implements AsyncIterable<Entry> {
  readonly #lists: readonly OpenList[];
  #listIndex = -1;
  #lines: Interface | undefined;
  #queue: string[] = [];
  #head = 0;
  #closed = true;
  #paused = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  #lineNumber = 0;
  #index = 0;
  #done = false;

  constructor(lists: readonly OpenList[]) {
    this.#lists = lists;
  }

  [Symbol.asyncIterator](): AsyncIterator<Entry> {
    return this as unknown as AsyncIterator<Entry>;
  }

  next(): IteratorResult<Entry> | Promise<IteratorResult<Entry>> {
    for (;;) {
      if (this.#head < this.#queue.length) {
        const entry = this.#parse(this.#take());
        if (entry !== null) return {value: entry, done: false};
        continue;
      }
      if (this.#error !== undefined) {
        const error = this.#error;
        this.#end();
        return Promise.reject(error);
      }
      if (this.#done) return {value: undefined, done: true};
      if (this.#closed) {
        this.#openNext();
        continue;
      }
      if (this.#paused) {
        this.#paused = false;
        this.#lines!.resume();
      }
      return new Promise<void>((resolve) => {
        this.#wake = resolve;
      }).then(() => this.next());
    }
  }

  /** Stop early: the list being read is closed and its stream destroyed. */
  return(): Promise<IteratorResult<Entry>> {
    this.#end();
    return Promise.resolve({value: undefined, done: true});
  }

  #take(): string {
    const line = this.#queue[this.#head]!;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    return line;
  }

  #parse(raw: string): Entry | null {
    this.#lineNumber++;
    const line = this.#lineNumber === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    const list = this.#lists[this.#listIndex]!;
    const entry = parseLine(line, this.#index + 1, {list: list.name, line: this.#lineNumber});
    if (entry !== null) this.#index++;
    return entry;
  }

  #openNext(): void {
    this.#closeCurrent();
    this.#listIndex++;
    const list = this.#lists[this.#listIndex];
    if (list === undefined) {
      this.#done = true;
      return;
    }
    this.#lineNumber = 0;
    this.#closed = false;
    const lines = createInterface({input: list.stream, crlfDelay: Infinity});
    this.#lines = lines;
    lines.on('line', (line: string) => {
      this.#queue.push(line);
      if (!this.#paused && this.#queue.length - this.#head >= QUEUE_LINES) {
        this.#paused = true;
        lines.pause();
      }
      this.#wakeUp();
    });
    lines.on('close', () => {
      if (this.#lines !== lines) return;
      this.#closed = true;
      this.#wakeUp();
    });
    // readline passes its input's errors on as its own 'error' (which must be listened to); the
    // stream's own listener covers a stream that fails before readline takes it up.
    const fail = (error: unknown): void => {
      if (this.#lines !== lines) return;
      this.#error ??= error;
      this.#wakeUp();
    };
    lines.on('error', fail);
    list.stream.on('error', fail);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #closeCurrent(): void {
    const lines = this.#lines;
    if (lines === undefined) return;
    this.#lines = undefined;
    lines.close();
    this.#lists[this.#listIndex]?.stream.destroy();
  }

  #end(): void {
    this.#done = true;
    this.#queue = [];
    this.#head = 0;
    this.#closeCurrent();
  }
}

/** Close lists that will not be read (a usage error after opening them, a dry run that stopped). */
export function closeLists(lists: readonly OpenList[]): void {
  for (const list of lists) if (list.name !== '-') list.stream.destroy();
}
