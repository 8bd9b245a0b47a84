// The start-rate limiter: starts spaced evenly, at least 1/R s apart, never in bursts.
import {sleep} from './sleep.js';

/**
 * Reserves evenly spaced start times, first come first served. Each `take()` waits for its own slot;
 * after an idle spell the next start goes at once, and the one after it a full interval later (no
 * catching up, so never a burst).
 * @example const limiter = new RateLimiter(10); await limiter.take(signal); // ≤ 10 starts a second
 */
export class RateLimiter {
  readonly #intervalMs: number;
  #next = Number.NEGATIVE_INFINITY;

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
    if (slot <= now) return;
    return this.#waitFor(slot, signal);
  }

  async #waitFor(slot: number, signal: AbortSignal): Promise<void> {
    try {
      // A timer may fire a little early by this clock (it counts from the loop's cached time): top it up.
      for (let left = slot - performance.now(); left > 0; left = slot - performance.now()) await sleep(Math.ceil(left), signal);
    } catch (error) {
      // The last slot reserved, unused, goes back; an earlier one cannot without moving later ones.
      if (this.#next === slot + this.#intervalMs) this.#next = slot;
      throw error;
    }
  }
}
