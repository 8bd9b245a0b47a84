// Per-host waits: a host paused by Retry-After, and the --per-host permit pools (lazy, dropped when idle).
import {Semaphore, type Release} from '../semaphore.js';
import {sleep} from '../sleep.js';

/**
 * Gates requests per host (a host is `hostname:port`). Neither wait holds a global slot: callers take
 * these first, then the global permit.
 * @example const release = await gate.acquire('a.test:443', signal); … release();
 */
export class HostGate {
  readonly #perHost: number | undefined;
  readonly #pools = new Map<string, Semaphore>();
  readonly #pausedUntil = new Map<string, number>();

  constructor(perHost: number | undefined) {
    if (perHost !== undefined && (!Number.isSafeInteger(perHost) || perHost < 1)) {
      throw new RangeError(`HostGate needs a whole number of permits per host ≥ 1, got ${String(perHost)}`);
    }
    this.#perHost = perHost;
  }

  /** Pause every new request to `host` for `waitMs` (a longer pause already set wins). */
  pause(host: string, waitMs: number): void {
    const until = Date.now() + waitMs;
    if ((this.#pausedUntil.get(host) ?? 0) < until) this.#pausedUntil.set(host, until);
  }

  /** Whether any host may be paused now (cheap: lets the common path skip building host keys). */
  get anyPaused(): boolean {
    return this.#pausedUntil.size > 0;
  }

  /** Milliseconds left of `host`'s pause (0 when it is not paused). */
  pausedFor(host: string): number {
    const until = this.#pausedUntil.get(host);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left > 0) return left;
    // An expired pause is forgotten, so a run over a million hosts does not keep a million dates.
    this.#pausedUntil.delete(host);
    return 0;
  }

  /** True when a request to `host` could start right now without waiting. */
  isOpen(host: string): boolean {
    if (this.pausedFor(host) > 0) return false;
    const pool = this.#pools.get(host);
    return pool === undefined || pool.available > 0 && pool.waiting === 0;
  }

  /**
   * The permit at once when nothing stands in the way (no pause, no per-host limit, or a free one
   * nobody queues for): the common case pays no promise. Otherwise undefined: call `acquire`.
   */
  tryAcquire(host: string): Release | undefined {
    if (this.pausedFor(host) > 0) return undefined;
    if (this.#perHost === undefined) return noop;
    // A host seen for the first time gets its pool here: its first permit is free at once (a redirect
    // hop into a new host must not take the waiting path, which gives up the global slot).
    let pool = this.#pools.get(host);
    if (pool === undefined) {
      pool = new Semaphore(this.#perHost);
      this.#pools.set(host, pool);
    }
    const owned = pool;
    const release = owned.tryAcquire();
    if (release === null) return undefined;
    return (): void => {
      release();
      if (owned.inUse === 0 && owned.waiting === 0 && this.#pools.get(host) === owned) this.#pools.delete(host);
    };
  }

  /**
   * Wait out any pause on `host`, then take its per-host permit (a no-op release without --per-host).
   * A pause set while this waited in the host's queue is waited out too, without holding the permit.
   * If `signal` aborts first, reject with its reason and hold nothing.
   */
  async acquire(host: string, signal: AbortSignal): Promise<Release> {
    for (;;) {
      for (let wait = this.pausedFor(host); wait > 0; wait = this.pausedFor(host)) await sleep(wait, signal);
      if (this.#perHost === undefined) {
        signal.throwIfAborted();
        return noop;
      }
      let pool = this.#pools.get(host);
      if (pool === undefined) {
        pool = new Semaphore(this.#perHost);
        this.#pools.set(host, pool);
      }
      const owned = pool;
      const drop = (): void => {
        // Drop idle pools so a run over a million hosts does not keep a million of them.
        if (owned.inUse === 0 && owned.waiting === 0 && this.#pools.get(host) === owned) this.#pools.delete(host);
      };
      let release: Release;
      try {
        release = await owned.acquire(signal);
      } catch (error) {
        drop();
        throw error;
      }
      const wrapped = (): void => {
        release();
        drop();
      };
      if (this.pausedFor(host) === 0) return wrapped;
      // The host was paused while this waited for its permit: hand the permit on and wait the pause out.
      wrapped();
    }
  }

  /** Pools alive right now (for tests). */
  get poolCount(): number {
    return this.#pools.size;
  }
}

function noop(): void {}
