// HostGate: per-host pools made on first use and dropped when idle, aborts hold nothing, pauses block until their time.
import {afterEach, beforeEach, describe, expect, test, vi} from 'vitest';
import {hostKey} from '../../src/http/attempt.js';
import {HostGate} from '../../src/http/host-gate.js';

/** Settle everything already queued, without moving the clock. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** Track whether a promise has settled, and how. */
function watch<T>(promise: Promise<T>): {settled: () => boolean; value: () => T | undefined; error: () => unknown} {
  let settled = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      settled = true;
      value = v;
    },
    (e: unknown) => {
      settled = true;
      error = e;
    },
  );
  return {settled: () => settled, value: () => value, error: () => error};
}

const never = new AbortController().signal;

describe('HostGate pools', () => {
  test('no pool exists before a host is used, one per host while held, none once all are idle', async () => {
    const gate = new HostGate(2);
    expect(gate.poolCount).toBe(0);
    const a1 = await gate.acquire('a.test:80', never);
    const a2 = await gate.acquire('a.test:80', never);
    const b1 = await gate.acquire('b.test:80', never);
    expect(gate.poolCount).toBe(2);
    a1();
    expect(gate.poolCount).toBe(2);
    a2();
    expect(gate.poolCount).toBe(1);
    b1();
    expect(gate.poolCount).toBe(0);
  });

  test('without --per-host no pool is ever made and acquire never waits', async () => {
    const gate = new HostGate(undefined);
    const releases = await Promise.all(Array.from({length: 50}, () => gate.acquire('a.test:80', never)));
    expect(gate.poolCount).toBe(0);
    for (const release of releases) release();
    expect(gate.isOpen('a.test:80')).toBe(true);
  });

  test('the bound holds per host, waiters are served in order, and other hosts do not wait', async () => {
    const gate = new HostGate(1);
    const first = await gate.acquire('a.test:80', never);
    expect(gate.isOpen('a.test:80')).toBe(false);
    expect(gate.isOpen('b.test:80')).toBe(true);
    const second = watch(gate.acquire('a.test:80', never));
    const third = watch(gate.acquire('a.test:80', never));
    const other = watch(gate.acquire('b.test:80', never));
    await flush();
    expect([second.settled(), third.settled(), other.settled()]).toEqual([false, false, true]);
    first();
    await flush();
    expect([second.settled(), third.settled()]).toEqual([true, false]);
    expect(gate.poolCount).toBe(2);
    second.value()!();
    await flush();
    expect(third.settled()).toBe(true);
    third.value()!();
    other.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('a million hosts used one after another never keep more than one pool', async () => {
    const gate = new HostGate(4);
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      const release = await gate.acquire(`h${i}.test:80`, never);
      peak = Math.max(peak, gate.poolCount);
      release();
    }
    expect(peak).toBe(1);
    expect(gate.poolCount).toBe(0);
  });

  test('abort while waiting for a permit rejects with the reason and takes no permit', async () => {
    const gate = new HostGate(1);
    const held = await gate.acquire('a.test:80', never);
    const controller = new AbortController();
    const waiting = watch(gate.acquire('a.test:80', controller.signal));
    await flush();
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    expect(waiting.error()).toBe(reason);
    held();
    // Had the aborted waiter taken the permit, the pool would stay busy and alive.
    expect(gate.poolCount).toBe(0);
    expect(gate.isOpen('a.test:80')).toBe(true);
    const next = watch(gate.acquire('a.test:80', never));
    await flush();
    expect(next.settled()).toBe(true);
    next.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('a waiter aborted as its pool went idle does not drop the pool made after it: the bound holds', async () => {
    const gate = new HostGate(1);
    const held = await gate.acquire('a.test:80', never);
    const controller = new AbortController();
    const waiting = watch(gate.acquire('a.test:80', controller.signal));
    await flush();
    // In one tick: the waiter aborts, the holder lets go (its pool is idle and dropped), and a new
    // request takes the host's one permit from a fresh pool, before the aborted waiter cleans up.
    controller.abort(new Error('stop'));
    held();
    const fresh = gate.tryAcquire('a.test:80');
    expect(fresh).toBeTypeOf('function');
    await flush();
    expect(waiting.error()).toEqual(new Error('stop'));
    // The aborted waiter's clean-up must leave the fresh pool alone: the host is still full.
    expect(gate.poolCount).toBe(1);
    expect(gate.isOpen('a.test:80')).toBe(false);
    expect(gate.tryAcquire('a.test:80')).toBeUndefined();
    const next = watch(gate.acquire('a.test:80', never));
    await flush();
    expect(next.settled()).toBe(false);
    fresh!();
    await flush();
    expect(next.settled()).toBe(true);
    next.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('an already aborted signal rejects at once and leaves no pool behind', async () => {
    const gate = new HostGate(1);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(gate.acquire('a.test:80', controller.signal)).rejects.toThrow('gone');
    expect(gate.poolCount).toBe(0);
  });

  test('without --per-host an already aborted signal still rejects acquire', async () => {
    const gate = new HostGate(undefined);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(gate.acquire('a.test:80', controller.signal)).rejects.toThrow('gone');
  });

  test('tryAcquire takes a free permit at once, none when the host is full, and its release drops the idle pool', () => {
    const gate = new HostGate(1);
    const release = gate.tryAcquire('a.test:80');
    expect(release).toBeTypeOf('function');
    expect(gate.poolCount).toBe(1);
    expect(gate.tryAcquire('a.test:80')).toBeUndefined();
    expect(gate.isOpen('a.test:80')).toBe(false);
    release!();
    expect(gate.poolCount).toBe(0);
    expect(gate.isOpen('a.test:80')).toBe(true);
  });

  test('a per-host limit below 1 is refused', () => {
    expect(() => new HostGate(0)).toThrow(RangeError);
  });
});

describe('HostGate pauses', () => {
  beforeEach(() => {
    vi.useFakeTimers({now: 1_000_000});
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('a pause blocks acquire for that host until its time, and no other host', async () => {
    const gate = new HostGate(2);
    gate.pause('a.test:80', 1000);
    expect(gate.isOpen('a.test:80')).toBe(false);
    expect(gate.isOpen('b.test:80')).toBe(true);
    const paused = watch(gate.acquire('a.test:80', never));
    const other = watch(gate.acquire('b.test:80', never));
    await vi.advanceTimersByTimeAsync(999);
    expect(paused.settled()).toBe(false);
    expect(other.settled()).toBe(true);
    // Waiting out a pause holds no per-host permit.
    expect(gate.poolCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(paused.settled()).toBe(true);
    expect(gate.isOpen('a.test:80')).toBe(true);
    paused.value()!();
    other.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('a longer pause set later extends it; a shorter one does not shorten it', async () => {
    const gate = new HostGate(undefined);
    gate.pause('a.test:80', 500);
    gate.pause('a.test:80', 2000);
    gate.pause('a.test:80', 100);
    const paused = watch(gate.acquire('a.test:80', never));
    await vi.advanceTimersByTimeAsync(1999);
    expect(paused.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(paused.settled()).toBe(true);
  });

  test.each([undefined, 2])('a pause extended while acquire already waits it out is waited out whole (perHost %s)', async (perHost) => {
    const gate = new HostGate(perHost);
    gate.pause('a.test:80', 1000);
    const paused = watch(gate.acquire('a.test:80', never));
    await vi.advanceTimersByTimeAsync(500);
    // A second Retry-After, 500 ms in, pushes the end from 1000 to 2500.
    gate.pause('a.test:80', 2000);
    await vi.advanceTimersByTimeAsync(1999);
    expect(paused.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(paused.settled()).toBe(true);
    expect(gate.pausedFor('a.test:80')).toBe(0);
    paused.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('abort during a pause rejects at once with the reason and holds nothing', async () => {
    const gate = new HostGate(1);
    gate.pause('a.test:80', 60_000);
    const controller = new AbortController();
    const paused = watch(gate.acquire('a.test:80', controller.signal));
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('interrupted');
    controller.abort(reason);
    await flush();
    expect(paused.error()).toBe(reason);
    expect(gate.poolCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a pause set while a request queues for the host permit is waited out too', async () => {
    const gate = new HostGate(1);
    const held = await gate.acquire('a.test:80', never);
    const queued = watch(gate.acquire('a.test:80', never));
    await flush();
    gate.pause('a.test:80', 1000);
    held();
    await vi.advanceTimersByTimeAsync(999);
    expect(queued.settled()).toBe(false);
    // It waits without the permit: the host's pool is idle and gone.
    expect(gate.poolCount).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queued.settled()).toBe(true);
    queued.value()!();
    expect(gate.poolCount).toBe(0);
  });

  test('pausedFor counts down and forgets an expired pause', async () => {
    const gate = new HostGate(undefined);
    gate.pause('a.test:80', 300);
    expect(gate.pausedFor('a.test:80')).toBe(300);
    await vi.advanceTimersByTimeAsync(100);
    expect(gate.pausedFor('a.test:80')).toBe(200);
    await vi.advanceTimersByTimeAsync(200);
    expect(gate.pausedFor('a.test:80')).toBe(0);
    expect(gate.pausedFor('b.test:80')).toBe(0);
    // Forgotten: no host is paused any more.
    expect(gate.anyPaused).toBe(false);
  });

  test('tryAcquire gives nothing while the host is paused, with or without --per-host', async () => {
    for (const perHost of [undefined, 2]) {
      const gate = new HostGate(perHost);
      gate.pause('a.test:80', 1000);
      expect(gate.anyPaused).toBe(true);
      expect(gate.tryAcquire('a.test:80')).toBeUndefined();
      const other = gate.tryAcquire('b.test:80');
      expect(other).toBeTypeOf('function');
      other!();
      await vi.advanceTimersByTimeAsync(1000);
      const release = gate.tryAcquire('a.test:80');
      expect(release).toBeTypeOf('function');
      release!();
      expect(gate.poolCount).toBe(0);
    }
  });
});

describe('hostKey', () => {
  test.each([
    ['http://127.0.0.1:8080/a', '127.0.0.1:8080'],
    ['http://127.0.0.1:8081/a', '127.0.0.1:8081'],
    ['http://a.test/x', 'a.test:80'],
    ['http://a.test:80/x', 'a.test:80'],
    ['https://a.test/x', 'a.test:443'],
    ['https://A.TEST:443/x', 'a.test:443'],
    ['http://[::1]:9000/', '[::1]:9000'],
  ])('%s is host %s', (url, key) => {
    expect(hostKey(new URL(url))).toBe(key);
  });
});
