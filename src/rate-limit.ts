// The start-rate limiter: starts spaced evenly, at least 1/R s apart, never in bursts.
import {sleep} from './sleep.js';

/**
 * Reserves evenly spaced start times. Each `take()` waits for its own slot.
 * @example const limiter = new RateLimiter(10); await limiter.take(signal); // ≤ 10 starts a second
 */
export class RateLimiter {
  readonly #intervalMs: number;
  #next = 0;

  constructor(perSecond: number) {
    this.#intervalMs = 1000 / perSecond;
  }

  take(signal: AbortSignal): Promise<void> | void {
    const now = performance.now();
    const slot = Math.max(now, this.#next);
    this.#next = slot + this.#intervalMs;
    if (slot <= now) return;
    return sleep(slot - now, signal);
  }
}
