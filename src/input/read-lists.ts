// Lists from files and stdin, read line by line as a stream: memory does not grow with the list.
import {closeSync, constants, createReadStream, fstatSync, open as openCallback, openSync, statSync, type Stats} from 'node:fs';
import {Socket} from 'node:net';
import type {Readable} from 'node:stream';
import {describeErrno as describeCode, UsageError} from '../errors.js';
import {isWriteOnly, offsetOf} from '../fd-info.js';
import type {Entry} from '../record.js';
import {LineSplitter} from './lines.js';
import {parseLine} from './parse-line.js';

/** A list opened and ready to read: its display name and its byte stream. */
export interface OpenList {
  readonly name: string;
  readonly stream: Readable;
  /** Where its entries can be counted ahead: set when it is a regular file (standard input too). */
  readonly countFrom: CountSource | undefined;
  readonly path: string | undefined;
  /** The file's identity (device, inode), when it is one: standard input redirected from a file too. */
  readonly identity: FileIdentity | undefined;
}

/**
 * A regular file to count entries in, without disturbing the list's own reader: a path to open again,
 * or (standard input redirected from a file) its descriptor, read at explicit positions from `start`,
 * the offset standard input had when fetchall started.
 */
export type CountSource = {readonly path: string} | {readonly fd: number; readonly start: number};

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Open every list before the first request, so a missing one fails the run before anything is sent.
 * `-` (or no list at all) is standard input.
 */
export async function openLists(paths: readonly string[], stdin: () => Readable): Promise<OpenList[]> {
  const lists = paths.length === 0 ? ['-'] : paths;
  if (lists.filter((p) => p === '-').length > 1) throw new UsageError('standard input (-) can be given only once');
  const opened: OpenList[] = [];
  const fds: number[] = [];
  try {
    for (const path of lists) {
      if (path === '-') {
        const input = stdin();
        const fd = (input as {fd?: unknown}).fd;
        const stat = typeof fd === 'number' ? statOfFd(fd) : undefined;
        if (stat?.isDirectory() === true) throw new UsageError('cannot read list -: standard input is a directory');
        if (typeof fd === 'number' && isWriteOnly(fd)) throw new UsageError('cannot read list -: standard input is open for writing only (0>FILE?)');
        const identity = stat?.isFile() === true ? {dev: stat.dev, ino: stat.ino} : undefined;
        const start = identity !== undefined ? offsetOf(fd as number) : undefined;
        const countFrom = start !== undefined ? {fd: fd as number, start} : undefined;
        opened.push({name: '-', stream: input, countFrom, path: undefined, identity});
        continue;
      }
      let fd: number;
      try {
        fd = await openForReading(path);
      } catch (error) {
        // `fetchall https://a.test/x`: a URL where a list goes.
        const hint = /^https?:\/\//i.test(path) ? ' (a list is a file of URLs; to fetch one URL: echo URL | fetchall)' : '';
        throw new UsageError(`cannot read list ${path}: ${describeErrno(error)}${hint}`);
      }
      fds.push(fd);
      const stat = fstatSync(fd);
      if (stat.isDirectory()) throw new UsageError(`cannot read list ${path}: it is a directory`);
      const countFrom = stat.isFile() ? {path} : undefined;
      opened.push(lazyList({name: path, countFrom, path, identity: {dev: stat.dev, ino: stat.ino}}, () => streamOf(fd, stat)));
    }
  } catch (error) {
    for (const fd of fds) closeQuietly(fd);
    throw error;
  }
  return opened;
}

/**
 * The list with its stream made when first asked for: a pipe's socket starts reading as soon as it is
 * made, so the same FIFO given twice would be drained by its second reader while the first is read
 * (lines torn between them). Made in its turn, each reads only while it is the list being read.
 */
function lazyList(list: Omit<OpenList, 'stream'>, make: () => Readable): OpenList {
  let stream: Readable | undefined;
  return {
    ...list,
    get stream(): Readable {
      stream ??= make();
      return stream;
    },
  };
}

/**
 * open(2) a list. A FIFO is opened without waiting for its writer (O_NONBLOCK): a blocking open would
 * hold a thread-pool thread that no exit can join until a writer comes, so even a signal could not end
 * the process. Its reader (a socket in the event loop) then waits for the writer's lines instead.
 */
function openForReading(path: string): Promise<number> {
  if (statSync(path, {throwIfNoEntry: false})?.isFIFO() === true) {
    return Promise.resolve(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  }
  return new Promise((resolve, reject) => {
    openCallback(path, 'r', (error, fd) => (error === null ? resolve(fd) : reject(error)));
  });
}

/**
 * A pipe (`<(generate)`, a named FIFO) or socket is read through the event loop, like standard input:
 * a file stream would block a thread-pool thread in read(2), which no stop can cancel, so a run that
 * ended (a --deadline, a signal) could not exit until the producer wrote again. A file is read in
 * 256 KiB chunks.
 */
function streamOf(fd: number, stat: Stats): Readable {
  if (stat.isFIFO() || stat.isSocket()) return new Socket({fd, readable: true, writable: false});
  return createReadStream('', {fd, highWaterMark: 256 * 1024});
}

function statOfFd(fd: number): Stats | undefined {
  try {
    return fstatSync(fd);
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * The list that is the file at `path`, if any: `--report urls.txt urls.txt` would read its own
 * records back as entries, and append a record for each, without end.
 */
export function listAtPath(lists: readonly OpenList[], path: string): OpenList | undefined {
  const stat = statSync(path, {throwIfNoEntry: false});
  if (stat === undefined) return undefined;
  return lists.find((list) => list.identity !== undefined && list.identity.dev === stat.dev && list.identity.ino === stat.ino);
}

function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  // Every list is opened before the first request: hundreds of lists can pass the descriptor limit.
  if (code === 'EMFILE') return `${describeCode(code)}: every list is opened before the first request; join the lists, or raise the limit (ulimit -n)`;
  return code === undefined ? String(error) : describeCode(code);
}

/**
 * Read the entries of every list in order, numbered from 1 across lists.
 * @example for await (const entry of readEntries(await openLists(['urls.txt'], () => process.stdin))) …
 */
export function readEntries(lists: readonly OpenList[]): AsyncIterable<Entry> {
  return new EntryReader(lists);
}

// Lines buffered ahead of the consumer before the list stream is paused. The rest of a chunk being
// split is still queued, so the queue can briefly exceed this by one chunk's lines.
const QUEUE_LINES = 4096;
// …and characters: lines can be up to MAX_LINE_BYTES long, and 4,096 of those behind one slow URL
// read the whole list into memory (2.7 GB of 8 MiB comment lines in 30 s). 8M characters is 16 MiB.
const QUEUE_CHARS = 8 * 1024 * 1024;

/**
 * The lists' lines, split by {@link LineSplitter} (LF or CRLF ends a line, nothing else does), queued
 * as they come and parsed as they are taken. `next()` answers at once, without a promise, when
 * a line is already queued — most of the time — and with a promise only when it has to wait for the
 * stream: no async-iteration round trip per entry. Callers that await it (`for await`) see no difference.
 */
class EntryReader implements AsyncIterable<Entry> {
  readonly #lists: readonly OpenList[];
  #listIndex = -1;
  #stream: Readable | undefined;
  #queue: string[] = [];
  #queuedChars = 0;
  // Lines of the current list (by number) whose bytes are not valid UTF-8.
  #notUtf8 = new Set<number>();
  // Lines longer than MAX_LINE_BYTES (only their head was kept).
  #overlong = new Set<number>();
  #splitLines = 0;
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
        this.#stream!.resume();
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
    this.#queuedChars -= line.length;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.#queuedChars = 0;
    }
    return line;
  }

  #parse(raw: string): Entry | null {
    this.#lineNumber++;
    const line = this.#lineNumber === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    const list = this.#lists[this.#listIndex]!;
    const notUtf8 = this.#notUtf8.size > 0 && this.#notUtf8.delete(this.#lineNumber);
    const overlong = this.#overlong.size > 0 && this.#overlong.delete(this.#lineNumber);
    const entry = parseLine(line, this.#index + 1, {list: list.name, line: this.#lineNumber, notUtf8, overlong});
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
    this.#splitLines = 0;
    this.#notUtf8.clear();
    this.#overlong.clear();
    this.#closed = false;
    const stream = list.stream;
    this.#stream = stream;
    const split = new LineSplitter((line, utf8, overlong) => {
      this.#splitLines++;
      if (overlong) this.#overlong.add(this.#splitLines);
      else if (!utf8) this.#notUtf8.add(this.#splitLines);
      this.#queue.push(line);
      this.#queuedChars += line.length;
    });
    stream.on('data', (chunk: Buffer | string) => {
      if (this.#stream !== stream) return;
      split.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (!this.#paused && (this.#queue.length - this.#head >= QUEUE_LINES || this.#queuedChars >= QUEUE_CHARS)) {
        this.#paused = true;
        stream.pause();
      }
      this.#wakeUp();
    });
    stream.on('end', () => {
      if (this.#stream !== stream) return;
      split.end();
      this.#closed = true;
      this.#wakeUp();
    });
    stream.on('error', (error: unknown) => {
      if (this.#stream !== stream) return;
      // The user's input, not fetchall, failed: a usage error (exit 2) naming the list.
      this.#error ??= new UsageError(`cannot read list ${list.name}: ${describeErrno(error)}`, {cause: error});
      this.#wakeUp();
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #closeCurrent(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    stream.destroy();
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
