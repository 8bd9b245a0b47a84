// --report FILE: one append per record as it completes, and --resume's reading of it.
import {closeSync, createReadStream, fstatSync, openSync, readSync, writeSync} from 'node:fs';
import {sep} from 'node:path';
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
 * listed twice is saved under two names (`a.txt`, `a-1.txt`): an entry is skipped only if one of its
 * URL's ok records (since the last failure) saved its name, so an ok copy never skips the other copy,
 * whose file may never have been written. Names are matched at the end of the recorded path, so DIR
 * spelled another way (`out`, `/abs/out`) or renamed between runs still matches.
 * @example if (resume.isOk(entry.url, 'out/a.txt', 'a.txt')) skip();
 */
export class ResumeSet {
  // URL → the files of its ok records since its latest failure (empty: none had a file, as without -o).
  readonly #ok = new Map<string, Set<string>>();

  /** Take one record, in report order: a failure forgets the URL's earlier ok records. */
  add(url: string, ok: boolean, file: string | null): void {
    if (!ok) {
      this.#ok.delete(url);
      return;
    }
    let files = this.#ok.get(url);
    if (files === undefined) {
      files = new Set();
      this.#ok.set(url, files);
    }
    if (file !== null) files.add(file);
  }

  /**
   * Whether the entry for `url` is done: its URL's latest record is ok, and, when it would be saved
   * (`file`, as DIR joined with `name`) and the ok records name files, one of them is this name.
   */
  isOk(url: string, file: string | null, name?: string): boolean {
    const files = this.#ok.get(url);
    if (files === undefined) return false;
    if (file === null || name === undefined || files.size === 0 || files.has(file)) return true;
    for (const saved of files) if (saved === name || saved.endsWith(`/${name}`) || saved.endsWith(`${sep}${name}`)) return true;
    return false;
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
