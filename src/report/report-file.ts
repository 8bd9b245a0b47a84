// --report FILE: one append per record as it completes, and --resume's reading of it.
import {closeSync, createReadStream, fstatSync, ftruncateSync, openSync, readSync, writeSync} from 'node:fs';
import {resolve} from 'node:path';
import {describeErrno, OutputError} from '../errors.js';
import {MAX_LINE_BYTES, readLines} from '../input/lines.js';

/**
 * Appends records to a report. One write(2) per line on an O_APPEND descriptor, so a crash leaves only
 * whole lines and concurrent shards appending to one file do not tear each other's lines.
 * @example const report = ReportFile.open('run.jsonl'); report.append(json); report.close();
 */
export class ReportFile {
  readonly #fd: number;
  readonly #path: string;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  /**
   * Open (create) for appending; an OutputError when it cannot be. A report whose last line has no
   * newline (edited by hand, or written by another tool) gets one first, so the first record appended
   * is a line of its own, not glued onto that one.
   */
  static open(path: string): ReportFile {
    let report: ReportFile;
    try {
      report = new ReportFile(openSync(path, 'a'), path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new OutputError(`cannot open report ${path}: ${code === undefined ? String(error) : describeErrno(code)}`, {code, cause: error});
    }
    if (endsMidLine(path)) report.#write(Buffer.from('\n'));
    return report;
  }

  append(line: string): void {
    this.#write(Buffer.from(line + '\n'));
  }

  #write(buffer: Buffer): void {
    let written = 0;
    try {
      while (written < buffer.length) written += writeSync(this.#fd, buffer, written);
    } catch (error) {
      // A write cut short by a full disk or the file-size limit (then failing) left part of a line:
      // take it back, so the report still ends with a whole record.
      if (written > 0) {
        try {
          ftruncateSync(this.#fd, fstatSync(this.#fd).size - written);
        } catch {
          // nothing more can be done: --resume ignores a torn line
        }
      }
      const code = (error as NodeJS.ErrnoException).code;
      throw new OutputError(`cannot write report ${this.#path}: ${code === undefined ? String(error) : describeErrno(code)}`, {code, cause: error});
    }
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // closing twice or after a failure changes nothing for the user
    }
  }
}

/** Whether the file at `path` is not empty and its last byte is not a newline (false if unreadable). */
function endsMidLine(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * What `--resume` skips: the entries whose URL's latest record in the report is ok. With `-o`, a URL
 * listed twice is saved under two names (`a.txt`, `a-1.txt`): an entry is skipped only if one of its
 * URL's ok records (since the last failure) saved this very file, so an ok copy never skips the other
 * copy, whose file may never have been written. Paths are compared resolved (`out/a.txt`, `./out/a.txt`
 * and the absolute path are one file). Records without a file (no -o, HEAD) match by URL alone.
 * @example if (resume.isOk(entry.url, 'out/a.txt')) skip();
 */
export class ResumeSet {
  // URL → the resolved files of its ok records since its latest failure: null for none (the common
  // case without -o: no allocation per URL), a string for one, a Set for several.
  readonly #ok = new Map<string, null | string | Set<string>>();

  /** Take one record, in report order: a failure forgets the URL's earlier ok records. */
  add(url: string, ok: boolean, file: string | null): void {
    if (!ok) {
      this.#ok.delete(url);
      return;
    }
    const had = this.#ok.get(url);
    if (file === null) {
      if (had === undefined) this.#ok.set(url, null);
      return;
    }
    const saved = resolve(file);
    if (had === undefined || had === null) this.#ok.set(url, saved);
    else if (typeof had === 'string') {
      if (had !== saved) this.#ok.set(url, new Set([had, saved]));
    } else had.add(saved);
  }

  /** Whether the entry for `url`, saved as `file` (null without -o), is done already. */
  isOk(url: string, file: string | null): boolean {
    const saved = this.#ok.get(url);
    if (saved === undefined) return false;
    if (file === null || saved === null) return true;
    const wanted = resolve(file);
    return typeof saved === 'string' ? saved === wanted : saved.has(wanted);
  }
}

/**
 * The entries a report says are done (see {@link ResumeSet}). A missing report counts as empty; a
 * torn or foreign line is ignored. Read as a stream: memory holds only the ok URLs (and files).
 */
export async function readOkUrls(path: string): Promise<ResumeSet> {
  const ok = new ResumeSet();
  const stream = createReadStream(path);
  const opened = await new Promise<boolean>((resolve, reject) => {
    stream.once('open', () => resolve(true));
    stream.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(false) : reject(error)));
  }).catch((error: NodeJS.ErrnoException) => {
    throw new OutputError(`cannot read report ${path}: ${error.code === undefined ? error.message : describeErrno(error.code)}`, {code: error.code, cause: error});
  });
  if (!opened) return ok;
  try {
    // A record holds its URL (up to a list's 16 MiB line) and some 300 bytes more: room for four.
    for await (const line of readLines(stream, 4 * MAX_LINE_BYTES)) {
      // A report begun by hand, or by an editor, may start with a BOM.
      const text = line.startsWith('\ufeff') ? line.slice(1) : line;
      if (!text.startsWith('{')) continue;
      let record: {url?: unknown; ok?: unknown; file?: unknown};
      try {
        record = JSON.parse(text) as {url?: unknown; ok?: unknown; file?: unknown};
      } catch {
        continue;
      }
      if (typeof record.url !== 'string') continue;
      ok.add(record.url, record.ok === true, typeof record.file === 'string' ? record.file : null);
    }
  } catch (error) {
    // Opened but unreadable: a directory at the path (EISDIR), an I/O error.
    const code = (error as NodeJS.ErrnoException).code;
    throw new OutputError(`cannot read report ${path}: ${code === undefined ? String(error) : describeErrno(code)}`, {code, cause: error});
  }
  return ok;
}
