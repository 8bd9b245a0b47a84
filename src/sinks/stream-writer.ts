// One owner for an output stream (stdout): coalesced writes with backpressure, and a closed pipe as a typed error.
import type {Writable} from 'node:stream';
import {describeErrno, OutputError} from '../errors.js';

// Small writes (many tiny bodies, JSON records) are gathered into one write of up to this many bytes:
// one system call instead of hundreds.
const COALESCE_BYTES = 64 * 1024;

/**
 * Wraps a Writable so writes can be awaited, small writes are coalesced, and a broken pipe or full
 * disk becomes one OutputError (code `EPIPE`, `ENOSPC`, …) instead of an unhandled 'error' event.
 * A write returns a promise only when the stream is full; await it before writing more.
 * Call `flush()` before exiting: gathered bytes are written within the same turn of the event loop.
 * @example const out = new StreamWriter(process.stdout, 'standard output'); await out.write(buf);
 */
export class StreamWriter {
  readonly #stream: Writable;
  readonly #what: string;
  #failure: OutputError | undefined;
  #drainWaiters: {resolve: () => void; reject: (error: OutputError) => void}[] = [];
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  #scheduled = false;
  #full = false;
  /**
   * Told once, at the moment the output fails (a write of gathered bytes fails in the background
   * too): the caller stops the run then, not at its next write.
   */
  onFailure: ((failure: OutputError) => void) | undefined;
  // Bytes taken by write() and bytes the stream has confirmed written (its write callbacks, in order).
  #accepted = 0;
  #confirmed = 0;
  #lastByte = -1;
  #deliveryWaiters: {upTo: number; resolve: () => void; reject: (error: OutputError) => void}[] = [];

  constructor(stream: Writable, what: string) {
    this.#stream = stream;
    this.#what = what;
    stream.on('error', (error: NodeJS.ErrnoException) => this.#fail(error));
    stream.on('drain', () => {
      this.#full = false;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    });
  }

  /** Bytes taken by write() so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Whether what was written so far ends in the middle of a line (a body without a final newline). */
  get endsMidLine(): boolean {
    return this.#lastByte !== -1 && this.#lastByte !== 0x0a;
  }

  /** The failure that closed this output, if any. */
  get failure(): OutputError | undefined {
    return this.#failure;
  }

  /** Write; returns a promise only when the stream is full (resolves on 'drain'). Rejects once it has failed. */
  write(chunk: Buffer | string): Promise<void> | void {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#accepted += buffer.length;
    if (buffer.length > 0) this.#lastByte = buffer[buffer.length - 1]!;
    if (buffer.length >= COALESCE_BYTES && this.#gatheredBytes === 0) return this.#send(buffer);
    this.#gathered.push(buffer);
    this.#gatheredBytes += buffer.length;
    if (this.#gatheredBytes >= COALESCE_BYTES) return this.#sendGathered();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        if (this.#gatheredBytes > 0 && this.#failure === undefined) void this.#sendGathered()?.catch(() => {});
      });
    }
    if (this.#full) return this.#waitForDrain();
  }

  /**
   * Resolves once every byte written so far has really been written by the stream (not only gathered
   * or buffered); rejects with the failure if the output fails first. Does not hurry the writing.
   */
  delivered(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const upTo = this.#accepted;
    if (this.#confirmed >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.#deliveryWaiters.push({upTo, resolve, reject}));
  }

  #confirm(bytes: number): void {
    this.#confirmed += bytes;
    let done = 0;
    while (done < this.#deliveryWaiters.length && this.#deliveryWaiters[done]!.upTo <= this.#confirmed) this.#deliveryWaiters[done++]!.resolve();
    if (done > 0) this.#deliveryWaiters.splice(0, done);
  }

  /** Write what was gathered and resolve once the stream has taken everything (or failed). */
  flush(): Promise<void> {
    if (this.#failure === undefined && this.#gatheredBytes > 0) void this.#sendGathered()?.catch(() => {});
    if (this.#failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#stream.writableLength === 0) return resolve();
      this.#stream.write('', () => resolve());
    });
  }

  #sendGathered(): Promise<void> | void {
    const data = this.#gathered.length === 1 ? this.#gathered[0]! : Buffer.concat(this.#gathered, this.#gatheredBytes);
    this.#gathered = [];
    this.#gatheredBytes = 0;
    return this.#send(data);
  }

  #send(data: Buffer): Promise<void> | void {
    let ok: boolean;
    // The callback keeps the count, not the bytes: a stream that writes synchronously (stdout to a file
    // or /dev/null) calls it only on a later tick, and a replayed body's chunks, each held by its
    // callback until then, added up to the whole body in memory.
    const bytes = data.length;
    try {
      ok = this.#stream.write(data, (error) => {
        if (error === null || error === undefined) this.#confirm(bytes);
      });
    } catch (error) {
      this.#fail(error as NodeJS.ErrnoException);
      return Promise.reject(this.#failure);
    }
    if (ok) return;
    this.#full = true;
    return this.#waitForDrain();
  }

  #waitForDrain(): Promise<void> {
    return new Promise((resolve, reject) => this.#drainWaiters.push({resolve, reject}));
  }

  #fail(error: NodeJS.ErrnoException): void {
    if (this.#failure !== undefined) return;
    this.#failure = new OutputError(`cannot write to ${this.#what}: ${error.code === undefined ? error.message : describeErrno(error.code)}`, {code: error.code, cause: error});
    this.#gathered = [];
    this.#gatheredBytes = 0;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.reject(this.#failure);
    const delivering = this.#deliveryWaiters;
    this.#deliveryWaiters = [];
    for (const w of delivering) w.reject(this.#failure);
    this.onFailure?.(this.#failure);
  }
}
