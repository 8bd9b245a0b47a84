// What a body is written into: a target per entry, opened lazily, kept across attempts for Range resume.
import type {Entry} from '../record.js';

/**
 * One entry's body on its way to its destination. Writes may return a promise: await it before the
 * next write (backpressure). Exactly one of `commit` or `discard` ends it.
 */
export interface BodyTarget {
  /** Bytes kept so far (what a Range request would resume from). */
  readonly size: number;
  write(chunk: Buffer): void | Promise<void>;
  /** Throw away what was kept and start again from byte 0. */
  reset(): Promise<void>;
  /**
   * The body is complete and verified: make it final. Gives the file's path, or null; directly when
   * nothing had to wait (a small body), else through a promise; a failure comes the same way (thrown,
   * or as a rejection). A wait for a resource (a file descriptor) gives up, as `aborted`, when `stop`
   * aborts.
   */
  commit(stop?: AbortSignal): Promise<string | null> | string | null;
  /** The body failed or the run stopped: remove every trace. Safe to call more than once. */
  discard(): Promise<void>;
  /** Called when the entry's record is emitted, in output order: a stdout target writes now. */
  publish?(): Promise<void> | void;
  /** After publish: resolves once the body is really written out (a stdout target); rejects if not. */
  delivered?(): Promise<void> | undefined;
}

/** Makes targets; one per run. */
export interface BodySink {
  /** `name` is the entry's output name relative to the output folder, when there is one. */
  open(entry: Entry, name: string | undefined): BodyTarget;
  /** Remove anything left behind (temporary files). */
  close(): Promise<void>;
  /** The same, synchronously, for a second signal that will not wait. */
  cleanupSync?(): void;
}
