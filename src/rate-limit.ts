// The start-rate limiter: starts spaced evenly, at least 1/R s apart, never in bursts.
import {sleep} from './sleep.js';

/**
 * Reserves evenly spaced start times, first come first served. Each `take()` waits for its own slot,
 * and never goes less than one interval after the start before it actually went (a start let
 * through late, on a busy event loop, pushes the next one back instead of bunching them). After an
 * idle spell the next start goes at once and the one after it a full interval later: no catching up,
 * so never a burst.
 * @example const limiter = new RateLimiter(10); await limiter.take(signal); // ≤ 10 starts a second
 */
export class RateLimiter {
  readonly #intervalMs: number;
  /** The slot the next reservation gets, unless it comes later than that. */
  #next = Number.NEGATIVE_INFINITY;
  /** When the latest start was actually let through. */
  #last = Number.NEGATIVE_INFINITY;

  constructor(perSecond: number) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError(`RateLimiter needs a rate above 0 per second, got ${String(perSecond)}`);
    }
    this.#intervalMs = 1000 / perSecond;
  }

  /** Wait for the next start slot; returns nothing (no promise) when the slot is now. */
  take(signal: AbortSignal): Promise<void> | void {
    if (signal.aborted) return Promise.reject(signal.reason);
    const now = performance.now();
    const slot = Math.max(now, this.#next);
    this.#next = slot + this.#intervalMs;
    if (slot <= now && now >= this.#last + this.#intervalMs) {
      this.#last = now;
      return;
    }
    return this.#waitFor(slot, signal);
  }

  /**
   * A start actually went out at `at` (the request reached its connection: after connecting, and after
   * undici's one-time parser set-up on the first). Later starts keep a full interval from it, so the
   * spacing holds for what the server sees, not only for when we asked.
   */
  sent(at: number): void {
    if (at > this.#last) this.#last = at;
    if (at + this.#intervalMs > this.#next) this.#next = at + this.#intervalMs;
  }

  async #waitFor(slot: number, signal: AbortSignal): Promise<void> {
    try {
      // Re-check after every timer: one may fire a little early by this clock (it counts from the
      // loop's cached time), and the start before this one may have gone late.
      for (;;) {
        const left = Math.max(slot, this.#last + this.#intervalMs) - performance.now();
        if (left <= 0) break;
        await sleep(Math.ceil(left), signal);
      }
      this.#last = performance.now();
    } catch (error) {
      // The last slot reserved, unused, goes back; an earlier one cannot without moving later ones.
      if (this.#next === slot + this.#intervalMs) this.#next = slot;
      throw error;
    }
  }
}
