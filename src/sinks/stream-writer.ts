// One owner for an output stream (stdout): awaited writes with backpressure, and a closed pipe as a typed error.
import type {Writable} from 'node:stream';
import {OutputError} from '../errors.js';

/**
 * Wraps a Writable so every write can be awaited, and a broken pipe or full disk becomes one
 * OutputError (code `EPIPE`, `ENOSPC`, …) instead of an unhandled 'error' event.
 * @example const out = new StreamWriter(process.stdout, 'standard output'); await out.write(buf);
 */
export class StreamWriter {
  readonly #stream: Writable;
  readonly #what: string;
  #failure: OutputError | undefined;
  #drainWaiters: {resolve: () => void; reject: (error: OutputError) => void}[] = [];

  constructor(stream: Writable, what: string) {
    this.#stream = stream;
    this.#what = what;
    stream.on('error', (error: NodeJS.ErrnoException) => this.#fail(error));
    stream.on('drain', () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    });
  }

  /** The failure that closed this output, if any. */
  get failure(): OutputError | undefined {
    return this.#failure;
  }

  /** Write; resolves at once unless the stream is full, then on 'drain'. Rejects once it has failed. */
  write(chunk: Buffer | string): Promise<void> | void {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    let ok: boolean;
    try {
      ok = this.#stream.write(chunk);
    } catch (error) {
      this.#fail(error as NodeJS.ErrnoException);
      return Promise.reject(this.#failure);
    }
    if (ok) return;
    return new Promise((resolve, reject) => this.#drainWaiters.push({resolve, reject}));
  }

  /** Resolve once everything written so far has been flushed (or the stream failed). */
  flush(): Promise<void> {
    if (this.#failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#stream.writableLength === 0) return resolve();
      this.#stream.write('', () => resolve());
    });
  }

  #fail(error: NodeJS.ErrnoException): void {
    if (this.#failure !== undefined) return;
    this.#failure = new OutputError(`cannot write to ${this.#what}: ${error.code ?? error.message}`, {code: error.code, cause: error});
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.reject(this.#failure);
  }
}
