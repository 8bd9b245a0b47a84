// RateLimiter: starts evenly spaced at 1/R, first come first served, no burst after an idle spell, aborts clean.
import {afterEach, beforeEach, describe, expect, test, vi} from 'vitest';
import {RateLimiter} from '../../src/rate-limit.js';

// node:timers/promises is not faked by vitest: route the library's one sleep through the faked setTimeout.
// `timers.early` makes every timer fire that many ms early, as a real one may by performance.now().
// It mirrors src/sleep.ts on purpose, but always arms a timer (even for 0 ms): the limiter's re-check
// loop must wait for the fake clock, where the real sleep would resolve at once and spin.
const timers = vi.hoisted(() => ({early: 0, late: 0}));
vi.mock('../../src/sleep.js', () => ({
  sleep: (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms - timers.early + timers.late));
      timers.late = 0;
      signal?.addEventListener('abort', onAbort, {once: true});
    }),
}));

const never = new AbortController().signal;

/** Start `n` takes at once; resolve with the fake clock's time at which each one was let through. */
function startAll(limiter: RateLimiter, n: number, signal = never): Promise<number>[] {
  return Array.from({length: n}, async () => {
    await limiter.take(signal);
    return performance.now();
  });
}

describe('RateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance']});
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test.each([
    [20, 50],
    [10, 100],
    [600 / 60, 100],
    [3, 1000 / 3],
  ])('at %d per second, 30 takes at once are let through %d ms apart', async (rate, gap) => {
    const limiter = new RateLimiter(rate);
    const t0 = performance.now();
    const times = startAll(limiter, 30);
    await vi.advanceTimersByTimeAsync(30 * gap + 10);
    const at = (await Promise.all(times)).map((t) => t - t0);
    // Fake timers count whole milliseconds, so a fractional interval is rounded up: each gap is the
    // interval or up to 1 ms more, never less.
    expect(at[0]).toBe(0);
    for (let i = 1; i < at.length; i++) {
      expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(gap);
      expect(at[i]! - at[i - 1]!).toBeLessThanOrEqual(gap + 1);
    }
  });

  test('the first take after an idle spell goes at once, the next one a full interval later: no burst', async () => {
    const limiter = new RateLimiter(10);
    expect(limiter.take(never)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(5000);
    const t0 = performance.now();
    // Five seconds of idleness earns no credit: after one immediate start, the rest are 100 ms apart.
    expect(limiter.take(never)).toBeUndefined();
    const times = startAll(limiter, 5);
    await vi.advanceTimersByTimeAsync(600);
    expect((await Promise.all(times)).map((t) => Math.round(t - t0))).toEqual([100, 200, 300, 400, 500]);
  });

  test('in any one-second window at most R starts go through', async () => {
    const limiter = new RateLimiter(20);
    const times = startAll(limiter, 100);
    await vi.advanceTimersByTimeAsync(6000);
    const at = await Promise.all(times);
    for (const start of at) expect(at.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(20);
  });

  test('a take never returns before its slot even when a timer fires early', async () => {
    timers.early = 30;
    try {
      const limiter = new RateLimiter(10);
      const t0 = performance.now();
      const times = startAll(limiter, 4);
      await vi.advanceTimersByTimeAsync(400);
      const at = (await Promise.all(times)).map((t) => t - t0);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(100);
    } finally {
      timers.early = 0;
    }
  });

  test('a start let through late pushes the next one back: no two starts closer than 1/R', async () => {
    const limiter = new RateLimiter(10);
    const t0 = performance.now();
    const first = startAll(limiter, 1);
    // A busy event loop: the second start's timer (due at 100 ms) runs 70 ms late, the third's (200) on time.
    timers.late = 70;
    const second = startAll(limiter, 1);
    const third = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(400);
    const at = (await Promise.all([...first, ...second, ...third])).map((t) => Math.round(t - t0));
    expect(at).toEqual([0, 170, 270]);
  });

  test('an abort rejects the waiting take with its reason; the last unused slot goes back', async () => {
    const limiter = new RateLimiter(10);
    const t0 = performance.now();
    limiter.take(never);
    const controller = new AbortController();
    const aborted = limiter.take(controller.signal)!;
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    const next = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(Math.round((await next[0]!) - t0)).toBe(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a take exactly one interval after the last start goes at once, with no promise', async () => {
    const limiter = new RateLimiter(10);
    expect(limiter.take(never)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    expect(limiter.take(never)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(99);
    const early = limiter.take(never);
    expect(early).toBeInstanceOf(Promise);
    await vi.advanceTimersByTimeAsync(1);
    await early;
  });

  test('a take whose slot has come still keeps a full interval after a start let through late', async () => {
    const limiter = new RateLimiter(10);
    const t0 = performance.now();
    expect(limiter.take(never)).toBeUndefined();
    // The second start's timer (due at 100 ms) runs 70 ms late.
    timers.late = 70;
    const second = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(200);
    // At 200 ms the next slot has come, but the last start went only 30 ms ago.
    const third = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(200);
    expect((await Promise.all([...second, ...third])).map((t) => Math.round(t - t0))).toEqual([170, 270]);
  });

  test('a start reported sent late holds back a take already waiting for its slot', async () => {
    const limiter = new RateLimiter(10);
    const t0 = performance.now();
    expect(limiter.take(never)).toBeUndefined();
    const next = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(50);
    // The first start reached its connection only now, 50 ms after it was let through.
    limiter.sent(performance.now());
    await vi.advanceTimersByTimeAsync(200);
    expect(Math.round((await next[0]!) - t0)).toBe(150);
  });

  test('an aborted take that was not the last leaves its slot unused: later takes keep their order', async () => {
    const limiter = new RateLimiter(10);
    const t0 = performance.now();
    limiter.take(never);
    const controller = new AbortController();
    const aborted = limiter.take(controller.signal)!;
    const kept = startAll(limiter, 1);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    const later = startAll(limiter, 1);
    await vi.advanceTimersByTimeAsync(400);
    expect((await Promise.all([...kept, ...later])).map((t) => Math.round(t - t0))).toEqual([200, 300]);
  });

  test('an aborted signal is refused at once', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(new RateLimiter(5).take(controller.signal)).rejects.toThrow('gone');
  });

  test.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('a rate of %d is refused', (rate) => {
    expect(() => new RateLimiter(rate)).toThrow(RangeError);
  });
});
