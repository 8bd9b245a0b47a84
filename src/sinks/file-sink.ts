// -o DIR: each body streams into a temporary file beside its final name and is renamed in only when complete.
import {closeSync, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writevSync} from 'node:fs';
import {basename, dirname, join, relative, resolve, sep} from 'node:path';
import {describeErrno, FetchallError, OutputError} from '../errors.js';
import type {Entry} from '../record.js';
import {makeFoldersSync, syncFolderSync} from './make-folders.js';
import {liesWithin, resolveInside} from './naming.js';
import {outOfDescriptors, TempFile, tempName, tempPathFor, writeFailing, writeFailure} from './temp-file.js';
import type {BodySink, BodyTarget} from './types.js';

/**
 * Create DIR if missing and prove a file can be made in it, before the first request: a DIR that cannot
 * be created or written (a file in its path, no permission, a read-only file system) would fail every
 * file, so it is one fatal OutputError (exit 3) instead. The probe is a temporary file, removed at once.
 * @example prepareOutputDir('out'); // or throws OutputError: cannot write in output folder out: permission denied (EACCES)
 */
export function prepareOutputDir(dir: string, options: {fsync?: boolean} = {}): void {
  try {
    // With --fsync, a folder made here lasts a power cut too: its parent's entry is synced.
    for (const made of makeFoldersSync(dir)) if (options.fsync === true) syncFolderSync(dirname(made));
  } catch (error) {
    throw outputError(`cannot create output folder ${dir}`, error);
  }
  const probe = join(dir, tempName('probe'));
  try {
    closeSync(openSync(probe, 'wx', 0o600));
  } catch (error) {
    throw outputError(`cannot write in output folder ${dir}`, error);
  }
  try {
    unlinkSync(probe);
  } catch {
    // Made but not removable: the pattern still marks it as ours.
  }
}

/** Where `path` resolves, or would once its missing folders are made: the real path of its nearest existing ancestor, plus the rest. */
function realpathOfWouldBe(path: string): string {
  const missing: string[] = [];
  for (let existing = path; ; existing = dirname(existing)) {
    try {
      return join(realpathSync.native(existing), ...missing);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(existing) === existing) throw error;
      missing.unshift(basename(existing));
    }
  }
}

function outputError(what: string, error: unknown): OutputError {
  const code = (error as NodeJS.ErrnoException).code;
  return new OutputError(`${what}: ${code === undefined ? String(error) : describeErrno(code)}`, {code, cause: error});
}

const FOLDER_CACHE = 4096;

/**
 * Writes bodies under one folder. No file appears under its final name until it is complete and
 * verified; a planted symlink is never followed out of the folder.
 * @example const sink = new FileSink('out'); const target = sink.open(entry, 'a.txt');
 */
export class FileSink implements BodySink {
  readonly #dir: string;
  readonly #live = new Set<TempFile>();
  // Folders already checked and made: no lstat per file for names in the same folder. Both caches
  // are emptied when they reach FOLDER_CACHE entries, so a run that spreads a million files over a
  // million folders keeps flat memory (a forgotten folder is only checked again).
  readonly #folders = new Set<string>();

  // DIR with every symlink in its own path resolved, once made: every folder written in must lie inside it.
  #realRootSync: string | undefined;
  // Set when a folder went during the run: DIR is made again (if it went too) and checked on next use.
  #remakeRoot = false;
  // The identity (device, inode) of the folder DIR led to when it was last resolved.
  #rootId: {dev: number; ino: number} | undefined;
  // Folders proven inside DIR, by the identity (device, inode) their path led to then. While the path
  // still leads to that same folder, it is still inside: one stat per file instead of a realpath,
  // which makes a system call per component of the whole path.
  readonly #inside = new Map<string, {dev: number; ino: number}>();

  /** With `fsync`, each file and its folder entry reach the disk before the file counts as saved. */
  readonly fsync: boolean;

  // Files a download must never replace (the report, the lists being read), by their real paths
  // (symlinks resolved): `-o . --report run.jsonl` with a URL named run.jsonl would rename a body over
  // the report. A hard link elsewhere is another name: replacing it leaves the file itself alone.
  readonly #protectedNames = new Set<string>();
  readonly #protectedPaths = new Map<string, string>();

  constructor(dir: string, options: {fsync?: boolean; protect?: readonly string[] | undefined} = {}) {
    this.#dir = dir;
    this.fsync = options.fsync === true;
    for (const path of options.protect ?? []) {
      // Both the name as given (a symlink, which a rename would replace) and the file it leads to.
      const names: string[] = [];
      try {
        names.push(join(realpathSync.native(dirname(path)), basename(path)));
        names.push(realpathSync.native(path));
      } catch {
        // gone, or not reachable: what could be resolved is protected
      }
      for (const name of names) {
        this.#protectedNames.add(basename(name));
        this.#protectedPaths.set(name, path);
      }
    }
  }

  /** Throw `write` when `path` names one of the protected files (its folder resolved; checked only when the name matches). */
  assertNotProtected(path: string, shown: string): void {
    const name = basename(path);
    if (!this.#protectedNames.has(name)) return;
    let folder: string;
    try {
      folder = realpathSync.native(dirname(path));
    } catch {
      return;
    }
    const hit = this.#protectedPaths.get(join(folder, name));
    if (hit !== undefined) throw new FetchallError('write', `cannot write ${shown}: it is ${hit}, which this run reads or reports to`);
  }

  /** --fsync: make the rename itself durable (the folder's entry), not only the file's bytes. */
  syncFolder(folder: string): void {
    if (this.fsync) syncFolderSync(folder);
  }

  open(_entry: Entry, name: string | undefined): BodyTarget {
    if (name === undefined) throw new Error('FileSink needs a name for every entry');
    return new FileTarget(this, join(this.#dir, name), resolveInside(this.#dir, name));
  }

  /** @internal */ track(file: TempFile): void {
    this.#live.add(file);
  }

  /** @internal */ untrack(file: TempFile): void {
    this.#live.delete(file);
  }

  /**
   * Make the folders between DIR and `path`, refusing to pass through a symlink or a file; then check
   * that the folder still resolves inside DIR (a symlink may be planted after the first check).
   * Synchronous: a few lstat/mkdir/realpath calls, cached per folder, cost less than thread-pool trips.
   */
  prepareFolderSync(path: string): void {
    const folder = dirname(path);
    try {
      if (!this.#folders.has(folder)) this.#makeFoldersSync(folder);
      this.assertInsideSync(folder);
    } catch (error) {
      // A folder made (or found) earlier is gone: something removed it, or DIR itself, during the run.
      // Make it again from DIR down, as `curl --create-dirs` makes a file's folders for each file,
      // rather than fail every later file in it. DIR that cannot be made again is fatal, as at the start.
      // (Or a file now stands in the way: made again, a sub-folder's is `write`, DIR's fatal.)
      const code = ((error instanceof FetchallError ? error.cause : error) as NodeJS.ErrnoException | undefined)?.code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      this.#forgetFolders();
      this.#makeFoldersSync(folder);
      this.assertInsideSync(folder);
    }
  }

  #forgetFolders(): void {
    this.#folders.clear();
    this.#inside.clear();
    this.#remakeRoot = true;
  }

  /** Throw `write` unless `folder`, with every symlink resolved, is DIR or lies inside it. */
  assertInsideSync(folder: string): void {
    if (this.#stillInsideSync(folder)) return;
    const before = statSync(folder, {throwIfNoEntry: false});
    if (before !== undefined && !before.isDirectory()) {
      // Replaced by a file during the run. DIR so replaced would fail every file: fatal, as at the start.
      if (resolve(folder) === resolve(this.#dir)) throw new OutputError(`cannot write in output folder ${this.#dir}: it is no longer a folder`, {code: 'ENOTDIR'});
      throw new FetchallError('write', `cannot write under ${folder}: it is not a folder`);
    }
    const root = this.#rootSync();
    let real: string;
    try {
      real = realpathSync.native(folder);
    } catch (error) {
      throw writeFailure(error, folder);
    }
    if (!liesWithin(root, real)) {
      this.#inside.delete(folder);
      // DIR itself swapped for a symlink during the run would fail every file: fatal.
      if (resolve(folder) === resolve(this.#dir)) throw new OutputError(`cannot write in output folder ${this.#dir}: it now leads to ${real}, and fetchall never follows a symlink out of the output folder`);
      throw new FetchallError('write', `cannot write under ${folder}: a symlink leads out of the output folder`);
    }
    // Remember the folder only if nothing moved while it was being resolved.
    const after = statSync(real, {throwIfNoEntry: false});
    if (before !== undefined && after !== undefined && before.ino === after.ino && before.dev === after.dev) {
      if (this.#inside.size >= FOLDER_CACHE) this.#inside.clear();
      this.#inside.set(folder, {dev: after.dev, ino: after.ino});
    } else {
      this.#inside.delete(folder);
    }
  }

  /**
   * Whether a folder proven inside DIR before still is, without resolving its whole path: DIR is still
   * the folder it was, and every folder between DIR and it is still a folder (lstat: not a symlink,
   * which fetchall never makes) and it the same one. Its identity alone proves nothing: a folder moved
   * out of DIR, with a symlink to it left in its place, is the same folder reached through a symlink.
   */
  #stillInsideSync(folder: string): boolean {
    const known = this.#inside.get(folder);
    if (known === undefined || this.#rootId === undefined || this.#remakeRoot) return false;
    // DIR itself may be a symlink (the user's): it counts as long as it leads to the same folder. By the
    // absolute path the files are written at: a relative DIR read from a working folder moved since
    // would find the folder itself, while the path written at leads elsewhere.
    let current = resolve(this.#dir);
    const root = statSync(current, {throwIfNoEntry: false});
    if (root === undefined || root.ino !== this.#rootId.ino || root.dev !== this.#rootId.dev) return false;
    let last = root;
    for (const segment of relative(current, resolve(folder)).split(sep)) {
      if (segment === '') continue;
      current = join(current, segment);
      const stat = lstatSync(current, {throwIfNoEntry: false});
      if (stat === undefined || !stat.isDirectory()) return false;
      last = stat;
    }
    // A folder removed and a file made in its place may get the same inode number: the type counts too.
    return last.isDirectory() && last.ino === known.ino && last.dev === known.dev;
  }

  #rootSync(): string {
    if (this.#realRootSync !== undefined && !this.#remakeRoot) return this.#realRootSync;
    const root = resolve(this.#dir);
    // Made again during the run, DIR must be where it was, or be plain folders at the path the user
    // named (a symlink given as DIR and removed is made again as a folder there, as curl would): a
    // symlink put in its place leads elsewhere. Checked before anything is made through it.
    const stayed = (real: string): string => {
      if (this.#realRootSync === undefined || real === this.#realRootSync || real === root) return real;
      throw new OutputError(`cannot write in output folder ${this.#dir}: it now leads to ${real}, and fetchall never follows a symlink out of the output folder`);
    };
    let real: string;
    try {
      stayed(realpathOfWouldBe(root));
      // DIR is made before the run (prepareOutputDir); made here only when it went during the run.
      for (const made of makeFoldersSync(root)) this.syncFolder(dirname(made));
      real = stayed(realpathSync.native(root));
    } catch (error) {
      throw error instanceof OutputError ? error : outputError(`cannot create output folder ${this.#dir}`, error);
    }
    this.#remakeRoot = false;
    this.#realRootSync = real;
    const id = statSync(real);
    this.#rootId = {dev: id.dev, ino: id.ino};
    return real;
  }

  #makeFoldersSync(folder: string): void {
    this.#rootSync();
    const root = resolve(this.#dir);
    let current = root;
    for (const segment of relative(root, folder).split(sep).filter((s) => s !== '')) {
      current = join(current, segment);
      // Every folder on the way is looked at again, the known ones too: one swapped for a symlink since
      // would have the new folder made through it, outside DIR. (Only new folders come here.)
      let stat;
      try {
        stat = lstatSync(current);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw writeFailure(error, current);
        try {
          mkdirSync(current);
          // A new sub-folder's own entry, in its parent, must last a power cut as its files do.
          this.syncFolder(dirname(current));
        } catch (mkdirError) {
          if ((mkdirError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeFailure(mkdirError, current);
        }
        stat = lstatSync(current);
      }
      if (stat.isSymbolicLink()) throw new FetchallError('write', `cannot write under ${current}: it is a symlink, and fetchall never follows one out of the output folder`);
      if (!stat.isDirectory()) throw new FetchallError('write', `cannot write under ${current}: it is not a folder`);
      this.#remember(current);
    }
    this.#remember(folder);
  }

  #remember(folder: string): void {
    if (this.#folders.size >= FOLDER_CACHE) this.#folders.clear();
    this.#folders.add(folder);
  }

  cleanupSync(): void {
    for (const file of this.#live) file.removeSync();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#live].map((file) => file.remove()));
    this.#live.clear();
  }
}

// A body up to this size is held in memory and written at commit with a few synchronous system
// calls (open, writev, close, rename): no thread-pool round trips for the many small files of a
// typical list. A larger one streams into its temporary file as it arrives.
const HOLD_BYTES = 256 * 1024;

class FileTarget implements BodyTarget {
  readonly #sink: FileSink;
  readonly #shown: string;
  readonly #path: string;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #file: TempFile | undefined;
  #preparing: Promise<TempFile> | undefined;
  #done = false;

  constructor(sink: FileSink, shown: string, path: string) {
    this.#sink = sink;
    this.#shown = shown;
    this.#path = path;
  }

  get size(): number {
    return (this.#file?.size ?? 0) + this.#heldBytes;
  }

  write(chunk: Buffer): Promise<void> | void {
    if (this.#file !== undefined) return this.#guard(this.#file.write(chunk));
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes < HOLD_BYTES) return;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    return this.#prepare().then(async (file) => {
      for (const piece of held) await this.#guard(file.write(piece));
    });
  }

  async reset(): Promise<void> {
    this.#held = [];
    this.#heldBytes = 0;
    await this.#file?.truncate().catch((error: unknown) => {
      throw writeFailure(error, this.#shown);
    });
  }

  commit(stop?: AbortSignal): Promise<string> | string {
    // No descriptor left for a held body's file right now: it goes the streaming way, which waits for one.
    if (this.#file === undefined && this.#preparing === undefined) return this.#commitHeld() ?? this.#commitStreamed(stop);
    return this.#commitStreamed(stop);
  }

  async #commitStreamed(stop: AbortSignal | undefined): Promise<string> {
    const file = this.#file ?? (await this.#prepare());
    file.stopWaitingOn(stop);
    try {
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const piece of held) await file.write(piece);
      await file.close(this.#sink.fsync);
      // The last look before the file takes its final name: its folder still lies inside DIR.
      this.#sink.assertInsideSync(dirname(this.#path));
      this.#sink.assertNotProtected(this.#path, this.#shown);
      await file.renameTo(this.#path);
      this.#sink.syncFolder(dirname(this.#path));
    } catch (error) {
      await file.remove();
      throw error instanceof FetchallError || error instanceof OutputError ? error : writeFailure(error, this.#shown);
    } finally {
      this.#sink.untrack(file);
    }
    this.#done = true;
    return this.#shown;
  }

  /**
   * The whole body is in memory: write it under a temporary name and rename it, synchronously.
   * Undefined, with the body still held, when no file descriptor is left to open that file with.
   */
  #commitHeld(): string | undefined {
    const temp = tempPathFor(this.#path);
    let fd: number | undefined;
    let keep = false;
    // Whether the temporary file is ours to delete: only once its exclusive open made it (on EEXIST the
    // name is someone else's file).
    let made = false;
    try {
      this.#sink.prepareFolderSync(this.#path);
      this.#sink.assertNotProtected(this.#path, this.#shown);
      try {
        fd = openSync(temp, 'wx', 0o666);
        made = true;
      } catch (error) {
        if (!outOfDescriptors(error)) throw error;
        keep = true;
        return undefined;
      }
      let written = 0;
      let pieces = this.#held;
      while (written < this.#heldBytes) {
        written += writevSync(fd, written === 0 ? pieces : (pieces = [Buffer.concat(this.#held).subarray(written)]));
      }
      if (this.#sink.fsync) fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      // No second folder check here, unlike the streaming path: open, write, close and rename run
      // back to back without yielding, microseconds after the check in prepareFolderSync.
      renameSync(temp, this.#path);
      this.#sink.syncFolder(dirname(this.#path));
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      try {
        if (made) unlinkSync(temp);
      } catch {
        // never made, or already gone
      }
      throw error instanceof FetchallError || error instanceof OutputError ? error : writeFailure(error, this.#shown);
    } finally {
      if (!keep) {
        this.#held = [];
        this.#heldBytes = 0;
      }
    }
    this.#done = true;
    return this.#shown;
  }

  async discard(): Promise<void> {
    this.#held = [];
    this.#heldBytes = 0;
    if (this.#done) return;
    this.#done = true;
    const file = this.#file ?? (await this.#preparing?.catch(() => undefined));
    if (file === undefined) return;
    await file.remove();
    this.#sink.untrack(file);
  }

  #prepare(): Promise<TempFile> {
    this.#preparing ??= Promise.resolve().then(() => {
      this.#sink.prepareFolderSync(this.#path);
      const file = new TempFile(tempPathFor(this.#path));
      this.#sink.track(file);
      this.#file = file;
      return file;
    });
    return this.#preparing;
  }

  #guard(pending: Promise<void> | void): Promise<void> | void {
    return writeFailing(pending, this.#shown);
  }
}
