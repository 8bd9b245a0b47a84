// The shared, bounded, FIFO, abortable counting semaphore: one per run gates every request.

import {watch, type Abortable} from './abort-registry.js';

/** Gives a permit back. Calling it a second time throws: over-release is a bug. */
export type Release = () => void;

interface Waiter extends Abortable {
  resolve: (release: Release) => void;
  reject: (reason: unknown) => void;
  /** Where the waiter is watched for its signal's abort; deleted from when it is served. */
  watchers: Set<Abortable> | undefined;
  settled: boolean;
}

/**
 * A counting semaphore with `n` permits. Waiters are served first in, first out.
 *
 * @example
 * const semaphore = new Semaphore(3);
 * const release = await semaphore.acquire(signal);
 * try { await work(); } finally { release(); }
 * // or: await semaphore.use(() => work(), signal);
 */
export class Semaphore {
  readonly capacity: number;
  #available: number;
  // A growable ring would be faster still; an array with a moving head is O(1) amortised.
  #queue: (Waiter | undefined)[] = [];
  #head = 0;
  #waiting = 0;
  // Waiters aborted while queued, still in #queue: dropped in bulk once they are most of it, so
  // acquires that time out behind a stuck holder do not pile up until the next release.
  #holes = 0;

  constructor(n: number) {
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new RangeError(`Semaphore needs a whole number of permits ≥ 1, got ${typeof n === 'string' ? JSON.stringify(n) : String(n)}`);
    }
    this.capacity = n;
    this.#available = n;
  }

  /** Permits free right now. */
  get available(): number {
    return this.#available;
  }

  /** Acquirers queued behind a permit. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Permits held right now. */
  get inUse(): number {
    return this.capacity - this.#available;
  }

  /** Take a permit now if one is free and nobody is queued; else null. */
  tryAcquire(): Release | null {
    if (this.#available > 0 && this.#waiting === 0) {
      this.#available--;
      return this.#makeRelease();
    }
    return null;
  }

  /**
   * Resolve with a release function once a permit is free. If `signal` aborts before that, reject
   * with its reason and take no permit.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.tryAcquire();
    if (now !== null) return Promise.resolve(now);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        watchers: undefined,
        settled: false,
        abortFromSignal: (reason) => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.#waiting--;
          // Leave a hole in the queue; #grant skips it. O(1) instead of a splice.
          this.#holes++;
          this.#dropHoles();
          reject(reason);
        },
      };
      // One listener per signal for all its waiters (see abort-registry), not one per acquire.
      if (signal !== undefined) waiter.watchers = watch(signal, waiter);
      this.#queue.push(waiter);
      this.#waiting++;
    });
  }

  /** Run `fn` under a permit and give it back however `fn` ends. */
  async use<T>(fn: () => T | PromiseLike<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #makeRelease(): Release {
    let released = false;
    return () => {
      if (released) throw new Error('Semaphore permit released twice');
      released = true;
      this.#grant();
    };
  }

  /** A permit came back: hand it to the oldest live waiter, or make it available. */
  #grant(): void {
    while (this.#head < this.#queue.length) {
      const waiter = this.#queue[this.#head];
      this.#queue[this.#head] = undefined;
      this.#head++;
      if (waiter === undefined) continue;
      if (waiter.settled) {
        this.#holes--;
        continue;
      }
      waiter.settled = true;
      this.#waiting--;
      waiter.watchers?.delete(waiter);
      this.#compact();
      waiter.resolve(this.#makeRelease());
      return;
    }
    this.#compact();
    if (this.#available >= this.capacity) {
      throw new Error('Semaphore released more permits than it has');
    }
    this.#available++;
  }

  /** Drop the aborted waiters once they are more than half the queue (amortised O(1) per abort). */
  #dropHoles(): void {
    if (this.#holes <= 1024 || this.#holes * 2 <= this.#queue.length - this.#head) return;
    this.#queue = this.#queue.slice(this.#head).filter((waiter) => waiter !== undefined && !waiter.settled);
    this.#head = 0;
    this.#holes = 0;
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
