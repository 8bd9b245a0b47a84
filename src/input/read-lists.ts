// Lists from files and stdin, read line by line as a stream: memory does not grow with the list.
import {open, type FileHandle} from 'node:fs/promises';
import {createInterface} from 'node:readline';
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
export async function* readEntries(lists: readonly OpenList[]): AsyncGenerator<Entry> {
  let index = 0;
  for (const list of lists) {
    const lines = createInterface({input: list.stream, crlfDelay: Infinity});
    let lineNumber = 0;
    try {
      for await (let line of lines) {
        lineNumber++;
        if (lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
        const entry = parseLine(line, index + 1, {list: list.name, line: lineNumber});
        if (entry === null) continue;
        index++;
        yield entry;
      }
    } finally {
      lines.close();
      list.stream.destroy();
    }
  }
}

/** Close lists that will not be read (a usage error after opening them, a dry run that stopped). */
export function closeLists(lists: readonly OpenList[]): void {
  for (const list of lists) if (list.name !== '-') list.stream.destroy();
}
