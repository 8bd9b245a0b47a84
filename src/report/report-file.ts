// --report FILE: one append per record as it completes, and --resume's reading of it.
import {closeSync, createReadStream, fstatSync, openSync, readSync, writeSync} from 'node:fs';
import {describeErrno, OutputError} from '../errors.js';
import {readLines} from '../input/lines.js';

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
    try {
      let written = 0;
      while (written < buffer.length) written += writeSync(this.#fd, buffer, written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new OutputError(`cannot write report ${this.#path}: ${code ?? String(error)}`, {code, cause: error});
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
 * listed twice is saved under two names (`a.txt`, `a-1.txt`): its records are told apart by their
 * `file`, so an ok copy does not skip the other copy, whose file may never have been written.
 * @example if (resume.isOk(entry.url, 'out/a.txt')) skip();
 */
export class ResumeSet {
  // URLs whose latest record is ok.
  readonly #urls = new Set<string>();
  // URL and file (`URL\nFILE`) pairs whose latest record is ok, and the URLs that have such records.
  readonly #files = new Set<string>();
  readonly #urlsWithFiles = new Set<string>();

  /** Take one record, in report order: the latest record of a URL (and of a URL and file) wins. */
  add(url: string, ok: boolean, file: string | null): void {
    if (ok) this.#urls.add(url);
    else this.#urls.delete(url);
    if (file === null) return;
    const key = `${url}\n${file}`;
    if (ok) {
      this.#files.add(key);
      this.#urlsWithFiles.add(url);
    } else {
      this.#files.delete(key);
    }
  }

  /** Whether the entry for `url` that would be saved as `file` (null without -o) is done already. */
  isOk(url: string, file: string | null): boolean {
    if (file !== null && this.#urlsWithFiles.has(url)) return this.#files.has(`${url}\n${file}`);
    return this.#urls.has(url);
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
    for await (const line of readLines(stream)) {
      if (!line.startsWith('{')) continue;
      let record: {url?: unknown; ok?: unknown; file?: unknown};
      try {
        record = JSON.parse(line) as {url?: unknown; ok?: unknown; file?: unknown};
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
