// Per-host waits: a host paused by Retry-After, and the --per-host permit pools (lazy, dropped when idle).
import {Semaphore, type Release} from '../semaphore.js';
import {sleep} from '../sleep.js';

/**
 * Gates requests per host. Neither wait holds a global slot: callers take these first, then the
 * global permit.
 * @example const release = await gate.acquire('a.test:443', signal); … release();
 */
export class HostGate {
  readonly #perHost: number | undefined;
  readonly #pools = new Map<string, Semaphore>();
  readonly #pausedUntil = new Map<string, number>();

  constructor(perHost: number | undefined) {
    this.#perHost = perHost;
  }

  /** Pause every new request to `host` for `waitMs` (a longer pause already set wins). */
  pause(host: string, waitMs: number): void {
    const until = Date.now() + waitMs;
    if ((this.#pausedUntil.get(host) ?? 0) < until) this.#pausedUntil.set(host, until);
  }

  /** True when a request to `host` could start right now without waiting. */
  isOpen(host: string): boolean {
    const until = this.#pausedUntil.get(host);
    if (until !== undefined && until > Date.now()) return false;
    const pool = this.#pools.get(host);
    return pool === undefined || pool.available > 0 && pool.waiting === 0;
  }

  /** Wait out any pause on `host`, then take its per-host permit (a no-op release without --per-host). */
  async acquire(host: string, signal: AbortSignal): Promise<Release> {
    for (;;) {
      const until = this.#pausedUntil.get(host);
      if (until === undefined) break;
      const wait = until - Date.now();
      if (wait <= 0) {
        this.#pausedUntil.delete(host);
        break;
      }
      await sleep(wait, signal);
    }
    if (this.#perHost === undefined) return noop;
    let pool = this.#pools.get(host);
    if (pool === undefined) {
      pool = new Semaphore(this.#perHost);
      this.#pools.set(host, pool);
    }
    const release = await pool.acquire(signal);
    const owned = pool;
    return () => {
      release();
      // Drop idle pools so a run over a million hosts does not keep a million of them.
      if (owned.inUse === 0 && owned.waiting === 0 && this.#pools.get(host) === owned) this.#pools.delete(host);
    };
  }

  /** Pools alive right now (for tests). */
  get poolCount(): number {
    return this.#pools.size;
  }
}

function noop(): void {}
