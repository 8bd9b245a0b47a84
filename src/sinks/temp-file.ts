// A temporary file written in batches at explicit positions: the one way bodies touch the disk.
import {open, rename, unlink, type FileHandle} from 'node:fs/promises';
import {closeSync, openSync, readSync, unlinkSync} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {basename, dirname, join} from 'node:path';
import {describeErrno, FATAL_WRITE_ERRNOS, FetchallError, OutputError} from '../errors.js';
import {sleep} from '../sleep.js';

/**
 * Every temporary file fetchall makes is named `.NAME.RANDOM.fetchall-tmp`, in the folder of the final
 * file `NAME` (RANDOM: 12 lowercase hex digits; NAME shortened to 200 bytes). It is the only name
 * pattern fetchall writes besides final names, so what a SIGKILL leaves can be found and removed with
 * `find DIR -name '*.fetchall-tmp' -delete`. The start-up probe of DIR uses the same pattern.
 */
export const TEMP_SUFFIX = '.fetchall-tmp';

// 1 + 200 + 1 + 12 + 13 bytes: a temporary name fits where its 255-byte final name fits.
const MAX_NAME_BYTES = 200;

// Small chunks are gathered and written with one writev: many small files stay cheap.
const BATCH_BYTES = 1024 * 1024;

/** `.NAME.RANDOM.fetchall-tmp` beside `finalPath`, short enough for any file system's 255-byte limit. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), tempName(basename(finalPath)));
}

// RANDOM is a per-process random prefix and a counter: unique within the run without asking the
// kernel for randomness per file (that alone was 8% of the CPU of writing 5,000 small files), and
// unlikely to meet another process's; files are opened exclusively anyway, so a clash fails loudly.
const RUN_PREFIX = randomBytes(3).toString('hex');
let counter = Math.floor(Math.random() * 0x1000000);

/** 12 lowercase hex digits, different for every call in this process (until 16M calls wrap). */
export function uniqueSuffix(): string {
  counter = (counter + 1) & 0xffffff;
  return RUN_PREFIX + counter.toString(16).padStart(6, '0');
}

/** `.NAME.RANDOM.fetchall-tmp` for a final file name, NAME cut to 200 bytes of UTF-8 (whole characters). */
export function tempName(name: string): string {
  let base = '';
  let bytes = 0;
  for (const char of name) {
    bytes += Buffer.byteLength(char);
    if (bytes > MAX_NAME_BYTES) break;
    base += char;
  }
  return `.${base}.${uniqueSuffix()}${TEMP_SUFFIX}`;
}

// Errors about a folder rather than one file: where every file goes to one folder (the spool), they
// would fail every body that needs one.
const FOLDER_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM']);

/**
 * Map a file-system error to a per-URL `write` failure, or a fatal OutputError when no file could be
 * written (`oneFolder`: every file goes to the same folder, so a folder that is missing or refused is fatal too).
 */
export function writeFailure(error: unknown, what: string, oneFolder = false): FetchallError | OutputError {
  // Already one of ours (a wait for a descriptor that the run's stop cut short is `aborted`).
  if (error instanceof FetchallError || error instanceof OutputError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && (FATAL_WRITE_ERRNOS.has(code) || (oneFolder && FOLDER_ERRNOS.has(code)))) {
    return new OutputError(`cannot write ${what}: ${describeErrno(code)}`, {code, cause: error});
  }
  return new FetchallError('write', `cannot write ${what}: ${code === undefined ? String(error) : describeErrno(code)}`, {cause: error});
}

/**
 * A pending write (or none) whose failure becomes {@link writeFailure} of `what`: the one way the
 * sinks report a temporary file's error. Stays synchronous when nothing is pending.
 * @example return writeFailing(file.write(chunk), 'out/a.txt');
 */
export function writeFailing(pending: Promise<void>, what: string, oneFolder?: boolean): Promise<void>;
export function writeFailing(pending: Promise<void> | void, what: string, oneFolder?: boolean): Promise<void> | void;
export function writeFailing(pending: Promise<void> | void, what: string, oneFolder = false): Promise<void> | void {
  if (pending === undefined) return;
  return pending.catch((error: unknown) => {
    throw writeFailure(error, what, oneFolder);
  });
}

/** The process (EMFILE) or the system (ENFILE) has no file descriptor left. */
export function outOfDescriptors(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

// How long a file waits for a descriptor before the shortage counts as an output failure (fatal).
const DESCRIPTOR_WAIT_MS = 60_000;
// How long a whole body still waits for one once the run stops: a stop closes connections.
const STOP_GRACE_MS = 1_000;

/**
 * open(), waiting while no descriptor is left: with `-c` near the descriptor limit and many large
 * bodies in flight, sockets and temporary files together can take them all, and one comes back as
 * soon as another transfer ends. The transfer waits as for a slow disk (its socket paused), rather
 * than the run stopping. Gives up as soon as the file is no longer wanted, or STOP_GRACE_MS after
 * `stop` aborts (the run stopping while a whole body waits to be saved; the stop itself closes
 * connections, which usually gives a descriptor back): then the entry is `aborted`.
 */
async function openWaiting(path: string, flags: string, mode: number | undefined, wanted: () => boolean, stop: () => AbortSignal | undefined): Promise<FileHandle> {
  let waited = 0;
  let stopping: number | undefined;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await open(path, flags, mode);
    } catch (error) {
      if (!outOfDescriptors(error) || waited >= DESCRIPTOR_WAIT_MS) throw error;
    }
    if (stop()?.aborted === true) stopping ??= waited;
    if (!wanted() || (stopping !== undefined && waited - stopping >= STOP_GRACE_MS)) {
      throw new FetchallError('aborted', 'the run stopped while the body waited for a file descriptor');
    }
    await sleep(delay);
    waited += delay;
  }
}

/**
 * A file opened exclusively (never through a planted symlink), written at explicit positions.
 * Double-buffered: one batch is written while the next one fills, so reading the network and writing
 * the disk overlap; at most two batches (~2 MiB) are held, then `write` asks the caller to wait.
 * @example const file = new TempFile('/out/.a.txt.1f2e.fetchall-tmp'); file.write(buf); await file.flush();
 */
export class TempFile {
  readonly path: string;
  #handle: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  #openFailed = false;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  // Bytes written or being written: the next batch goes here.
  #position = 0;
  #inFlight: Promise<void> | undefined;
  #failure: unknown;
  #closed = false;
  #removed = false;
  #stop: AbortSignal | undefined;
  readonly #mode: number;

  /**
   * `mode` before the umask: 0o666 by default, as curl and wget create a file (0o664 under a group's
   * umask 002); a spool file in the shared temp folder holds someone's body, so it is 0o600.
   */
  constructor(path: string, options: {mode?: number} = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o666;
  }

  /** A wait for a file descriptor gives up when `signal` aborts (the run stopping). */
  stopWaitingOn(signal: AbortSignal | undefined): void {
    this.#stop = signal;
  }

  /** Bytes written or pending. */
  get size(): number {
    return this.#position + this.#pendingBytes;
  }

  /**
   * Queue a chunk. A full batch starts writing in the background; returns a promise (await it before
   * the next write) only while the previous batch is still being written. A failed write rejects here.
   */
  write(chunk: Buffer): Promise<void> | void {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < BATCH_BYTES) return;
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#startBatch();
  }

  /** Write everything queued; rejects with the first write failure. */
  async flush(): Promise<void> {
    await this.#open();
    for (;;) {
      if (this.#inFlight !== undefined) await this.#inFlight;
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#pending.length === 0) return;
      this.#startBatch();
    }
  }

  #startBatch(): void {
    const batch = this.#pending;
    const bytes = this.#pendingBytes;
    const position = this.#position;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#position += bytes;
    this.#inFlight = this.#writeBatch(batch, bytes, position).then(
      () => {
        this.#inFlight = undefined;
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#inFlight = undefined;
      },
    );
  }

  async #writeBatch(batch: Buffer[], bytes: number, position: number): Promise<void> {
    const handle = await this.#open();
    let written = 0;
    while (written < bytes) {
      const {bytesWritten} = await handle.writev(written === 0 ? batch : [Buffer.concat(batch).subarray(written)], position + written);
      written += bytesWritten;
    }
  }

  async truncate(): Promise<void> {
    await this.#inFlight;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#position = 0;
    if (this.#handle !== undefined) await this.#handle.truncate(0);
  }

  /** Flush and close; the file stays. With `sync`, its bytes reach the disk first (fsync). */
  async close(sync = false): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (sync) await this.#handle?.sync();
    await this.#handle?.close();
    this.#handle = undefined;
  }

  /** Close and rename onto `finalPath` (atomic: replaces a file or a symlink there, never follows it). */
  async renameTo(finalPath: string): Promise<void> {
    await this.close();
    await rename(this.path, finalPath);
  }

  /** Close and delete, ignoring errors: used on every failure path. */
  async remove(): Promise<void> {
    this.#removed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#inFlight;
    try {
      if (this.#opening !== undefined) await (await this.#opening.catch(() => undefined))?.close();
    } catch {
      // already closed
    }
    this.#handle = undefined;
    // Only a file this made: an open that failed (EEXIST: the name is someone else's) made nothing.
    if (this.#opening !== undefined && !this.#openFailed) await unlink(this.path).catch(() => {});
  }

  /** Delete at once, synchronously: a second signal will not wait for promises. */
  removeSync(): void {
    this.#removed = true;
    // An open still under way may have made the file already: only one known to have failed made none.
    if (this.#opening === undefined || this.#openFailed) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  /**
   * The file's bytes, read synchronously, for a stdout spool to replay: they were written a moment
   * ago and sit in the page cache, and an asynchronous read waited in the thread pool behind every
   * other spool's writes (the replay ran at 20–30 MB/s while 32 bodies spooled). Undefined when no
   * descriptor is free right now: then use {@link TempFile.read}, which waits for one.
   */
  readSync(chunkBytes = 1024 * 1024): Iterable<Buffer> | undefined {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (error) {
      if (outOfDescriptors(error)) return undefined;
      throw error;
    }
    return (function* chunks(): Generator<Buffer> {
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(chunkBytes);
          const bytesRead = readSync(fd, buffer, 0, chunkBytes, null);
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        closeSync(fd);
      }
    })();
  }

  /** The file's bytes so far, for a stdout spool to replay. */
  async *read(chunkBytes = 256 * 1024): AsyncGenerator<Buffer> {
    const handle = await openWaiting(this.path, 'r', undefined, () => !this.#removed, () => this.#stop);
    try {
      for (let position = 0; ; ) {
        const buffer = Buffer.allocUnsafe(chunkBytes);
        const {bytesRead} = await handle.read(buffer, 0, chunkBytes, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  #open(): Promise<FileHandle> {
    if (this.#closed) return Promise.reject(new Error('temporary file already closed'));
    this.#opening ??= openWaiting(this.path, 'wx', this.#mode, () => !this.#removed, () => this.#stop).then(
      (handle) => {
        this.#handle = handle;
        return handle;
      },
      (error: unknown) => {
        this.#openFailed = true;
        throw error;
      },
    );
    return this.#opening;
  }
}
