// The shared semaphore: the bound holds under random interleavings, waiters are FIFO, aborts take no permit.
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import {describe, expect, test} from 'vitest';
import {watch} from '../../src/abort-registry.js';
import {Semaphore, type Release} from '../../src/semaphore.js';

/** mulberry32: a small seeded PRNG, so a failing interleaving can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yield to the event loop in one of several ways: microtasks, a macrotask, or a short timer. */
async function randomYield(random: () => number): Promise<void> {
  const pick = random();
  if (pick < 0.4) {
    const n = Math.floor(random() * 5);
    for (let i = 0; i < n; i++) await Promise.resolve();
  } else if (pick < 0.8) {
    await new Promise((resolve) => setImmediate(resolve));
  } else if (pick < 0.95) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Microtask turns enough for any settled promise chain to run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A promise's state right now, without waiting for it. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  const marker = Symbol('pending');
  try {
    const value = await Promise.race([promise, Promise.resolve(marker)]);
    return value === marker ? 'pending' : 'fulfilled';
  } catch {
    return 'rejected';
  }
}

describe('Semaphore: the bound under random interleavings', () => {
  test.each([1, 2, 3, 7, 32])('never more than %i holders among 3000 tasks (seeded)', async (n) => {
    for (const seed of [1, 42, 0xbeef]) {
      const random = prng(seed * 1000 + n);
      const semaphore = new Semaphore(n);
      let holders = 0;
      let peak = 0;
      let completed = 0;
      let aborted = 0;
      const tasks: Promise<void>[] = [];
      for (let i = 0; i < 3000; i++) {
        const useAbort = random() < 0.1;
        const controller = useAbort ? new AbortController() : undefined;
        const viaUse = random() < 0.5;
        const task = async (): Promise<void> => {
          await randomYield(random);
          if (controller !== undefined) {
            // Abort at a random moment: before acquiring, while waiting, or while holding (no effect then).
            const when = random();
            if (when < 0.2) controller.abort(new Error('early'));
            else void randomYield(random).then(() => controller.abort(new Error('late')));
          }
          const work = async (): Promise<void> => {
            // No permit may sit idle while someone queues for one.
            if (semaphore.waiting > 0) expect(semaphore.available).toBe(0);
            holders++;
            peak = Math.max(peak, holders);
            expect(holders).toBeLessThanOrEqual(n);
            await randomYield(random);
            holders--;
          };
          try {
            if (viaUse) {
              await semaphore.use(work, controller?.signal);
            } else {
              const release = await semaphore.acquire(controller?.signal);
              try {
                await work();
              } finally {
                release();
              }
            }
            completed++;
          } catch (error) {
            expect(controller?.signal.aborted).toBe(true);
            expect(error).toBe(controller?.signal.reason);
            aborted++;
          }
        };
        tasks.push(task());
        if (semaphore.waiting > 0) expect(semaphore.available).toBe(0);
        if (random() < 0.3) await randomYield(random);
      }
      await Promise.all(tasks);
      expect(peak).toBeLessThanOrEqual(n);
      // With thousands of tasks a small bound is reached: the semaphore does not under-serve either.
      if (n <= 7) expect(peak).toBe(n);
      expect(completed + aborted).toBe(3000);
      expect(completed).toBeGreaterThan(2500);
      expect(holders).toBe(0);
      expect(semaphore.available).toBe(n);
      expect(semaphore.inUse).toBe(0);
      expect(semaphore.waiting).toBe(0);
    }
  }, 20_000);
});

describe('Semaphore: order and aborts', () => {
  test('waiters are served first in, first out', async () => {
    const semaphore = new Semaphore(2);
    const first = await semaphore.acquire();
    const second = await semaphore.acquire();
    const order: number[] = [];
    const waiters = Array.from({length: 50}, (_, i) =>
      semaphore.acquire().then((release) => {
        order.push(i);
        return release;
      }),
    );
    expect(semaphore.waiting).toBe(50);
    first();
    second();
    // Each waiter, once served, hands its permit on at once: the order must still be the queue's.
    for (const waiter of waiters) (await waiter)();
    expect(order).toEqual(Array.from({length: 50}, (_, i) => i));
    expect(semaphore.available).toBe(2);
  });

  test('a release goes to the oldest waiter, not to a later tryAcquire or acquire', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const waiter = semaphore.acquire();
    held();
    // The permit is promised to the waiter: nobody may jump the queue in between.
    expect(semaphore.tryAcquire()).toBeNull();
    const late = semaphore.acquire();
    const release = await waiter;
    expect(await state(late)).toBe('pending');
    release();
    (await late)();
    expect(semaphore.available).toBe(1);
  });

  test('abort while waiting rejects with the reason, takes no permit, and later waiters are still served', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const controller = new AbortController();
    const aborted = semaphore.acquire(controller.signal);
    const after = semaphore.acquire();
    expect(semaphore.waiting).toBe(2);
    const reason = new Error('stop waiting');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(semaphore.waiting).toBe(1);
    expect(semaphore.available).toBe(0);
    held();
    const release = await after;
    expect(semaphore.inUse).toBe(1);
    release();
    expect(semaphore.available).toBe(1);
  });

  test('an abort without a reason rejects with the signal’s own reason (an AbortError)', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const controller = new AbortController();
    const waiting = semaphore.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBe(controller.signal.reason);
    expect((controller.signal.reason as Error).name).toBe('AbortError');
    held();
    expect(semaphore.available).toBe(1);
  });

  test('an already-aborted signal rejects at once and takes no permit, even when one is free', async () => {
    const semaphore = new Semaphore(3);
    const reason = new Error('already gone');
    await expect(semaphore.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(semaphore.available).toBe(3);
    let ran = false;
    await expect(semaphore.use(() => (ran = true), AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(ran).toBe(false);
    expect(semaphore.available).toBe(3);
  });

  test('an abort after the permit was granted changes nothing: the holder keeps it', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const controller = new AbortController();
    const waiting = semaphore.acquire(controller.signal);
    held();
    controller.abort(new Error('too late'));
    const release = await waiting;
    expect(semaphore.available).toBe(0);
    release();
    expect(semaphore.available).toBe(1);
  });

  test('many aborted waiters in a row are skipped and the permit reaches the next live one', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const controllers = Array.from({length: 3000}, () => new AbortController());
    const dead = controllers.map((c) => semaphore.acquire(c.signal).catch(() => 'aborted'));
    const live = semaphore.acquire();
    for (const c of controllers) c.abort(new Error('x'));
    expect(await Promise.all(dead)).toEqual(controllers.map(() => 'aborted'));
    expect(semaphore.waiting).toBe(1);
    held();
    (await live)();
    expect(semaphore.available).toBe(1);
    expect(semaphore.waiting).toBe(0);
  });

  test('a signal shared by waiters gets one listener in all, however many wait, round after round', async () => {
    const semaphore = new Semaphore(1);
    const controller = new AbortController();
    let listeners = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof signal.removeEventListener;
    for (let round = 0; round < 3; round++) {
      const held = await semaphore.acquire(signal);
      const waiters = Array.from({length: 10}, () => semaphore.acquire(signal));
      // One 'abort' listener serves every waiter of this signal (a listener per acquire costs ~20% of a request).
      expect(listeners).toBe(1);
      held();
      for (const waiter of waiters) (await waiter)();
      expect(listeners).toBe(1);
    }
    // And it still works: an abort now rejects a new waiter and takes no permit.
    const held = await semaphore.acquire(signal);
    const waiting = semaphore.acquire(signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    held();
    expect(semaphore.available).toBe(1);
  });
});

describe('Semaphore: release, use, construction, tryAcquire', () => {
  test('calling release twice throws and does not add a permit', async () => {
    const semaphore = new Semaphore(2);
    const release = await semaphore.acquire();
    release();
    expect(() => release()).toThrow(/twice/);
    expect(semaphore.available).toBe(2);
    // A second holder is not let in by the failed double release.
    const a = semaphore.tryAcquire();
    const b = semaphore.tryAcquire();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(semaphore.tryAcquire()).toBeNull();
    a!();
    b!();
  });

  test('a release handed over to a waiter still throws when called again', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const waiter = semaphore.acquire();
    release();
    expect(() => release()).toThrow(/twice/);
    const second = await waiter;
    expect(semaphore.available).toBe(0);
    second();
    expect(semaphore.available).toBe(1);
  });

  test('use() releases when fn resolves, and returns its value', async () => {
    const semaphore = new Semaphore(1);
    const value = await semaphore.use(async () => {
      expect(semaphore.available).toBe(0);
      await flush();
      return 42;
    });
    expect(value).toBe(42);
    expect(semaphore.available).toBe(1);
  });

  test('use() releases when fn rejects, throws synchronously, or returns a plain value', async () => {
    const semaphore = new Semaphore(1);
    const boom = new Error('boom');
    await expect(semaphore.use(async () => {
      await flush();
      throw boom;
    })).rejects.toBe(boom);
    expect(semaphore.available).toBe(1);
    await expect(semaphore.use(() => {
      throw boom;
    })).rejects.toBe(boom);
    expect(semaphore.available).toBe(1);
    await expect(semaphore.use(() => 'plain')).resolves.toBe('plain');
    expect(semaphore.available).toBe(1);
  });

  test('use() waits its turn and passes the permit on in order', async () => {
    const semaphore = new Semaphore(1);
    const log: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((resolve) => (releaseFirst = resolve));
    const a = semaphore.use(async () => {
      log.push('a in');
      await gate;
      log.push('a out');
    });
    const b = semaphore.use(() => void log.push('b'));
    const c = semaphore.use(() => void log.push('c'));
    await flush();
    expect(log).toEqual(['a in']);
    releaseFirst();
    await Promise.all([a, b, c]);
    expect(log).toEqual(['a in', 'a out', 'b', 'c']);
  });

  test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('new Semaphore(%s) throws a RangeError', (n) => {
    expect(() => new Semaphore(n)).toThrow(RangeError);
  });

  test('a non-number throws a RangeError too', () => {
    expect(() => new Semaphore('3' as unknown as number)).toThrow(RangeError);
  });

  test('tryAcquire takes a free permit and returns null when none is free or someone is queued', async () => {
    const semaphore = new Semaphore(2);
    const a = semaphore.tryAcquire();
    const b = semaphore.tryAcquire();
    expect(a).toBeTypeOf('function');
    expect(b).toBeTypeOf('function');
    expect(semaphore.tryAcquire()).toBeNull();
    expect(semaphore.available).toBe(0);
    a!();
    expect(semaphore.available).toBe(1);
    const c = semaphore.tryAcquire();
    expect(c).not.toBeNull();
    b!();
    c!();
    expect(semaphore.available).toBe(2);
    expect(() => a!()).toThrow();
  });

  test('acquire resolves at once while permits are free', async () => {
    const semaphore = new Semaphore(3);
    const releases: Release[] = [];
    for (let i = 0; i < 3; i++) {
      const pending = semaphore.acquire();
      expect(await state(pending)).toBe('fulfilled');
      releases.push(await pending);
    }
    const fourth = semaphore.acquire();
    expect(await state(fourth)).toBe('pending');
    releases[0]!();
    expect(await state(fourth)).toBe('fulfilled');
    (await fourth)();
    releases[1]!();
    releases[2]!();
    expect(semaphore.available).toBe(3);
  });

  test('a waiter served during its signal\'s abort (by a holder released on that abort) keeps the permit; counts stay right', async () => {
    const semaphore = new Semaphore(1);
    const controller = new AbortController();
    const held = await semaphore.acquire();
    // Something else watching the same signal, watched first, gives its permit back when the signal aborts.
    watch(controller.signal, {abortFromSignal: () => held()});
    const waiter = semaphore.acquire(controller.signal);
    controller.abort(new Error('stop'));
    const release = await waiter;
    expect(semaphore.waiting).toBe(0);
    expect(semaphore.available).toBe(0);
    release();
    expect(semaphore.available).toBe(1);
    expect(semaphore.tryAcquire()).toBeTypeOf('function');
  });

  test('a waiter served is no longer watched by its signal: a long-lived signal keeps no served acquire alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const semaphore = new Semaphore(1);
    const controller = new AbortController();
    // In a function of its own, so that no variable of this test holds the promise.
    const serve = async (): Promise<WeakRef<Promise<Release>>> => {
      const held = await semaphore.acquire();
      const pending = semaphore.acquire(controller.signal);
      held();
      (await pending)();
      return new WeakRef(pending);
    };
    const served = await serve();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(served.deref()).toBeUndefined();
    expect(controller.signal.aborted).toBe(false);
    expect(semaphore.available).toBe(1);
  });

  test('waiters aborted behind a permit that is never given back are let go, not kept until the next release; order holds', async () => {
    // A running process can turn gc on for itself: V8 reads the flag when a new context is made.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const early = semaphore.acquire();
    let firstAborted: WeakRef<Promise<Release>> | undefined;
    for (let i = 0; i < 5000; i++) {
      const controller = new AbortController();
      const pending = semaphore.acquire(controller.signal);
      firstAborted ??= new WeakRef(pending);
      pending.catch(() => {});
      controller.abort();
    }
    const late = semaphore.acquire();
    // Past the current job, so the WeakRef itself no longer keeps the promise alive.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(firstAborted!.deref()).toBeUndefined();
    expect(semaphore.waiting).toBe(2);
    held();
    const first = await early;
    expect(await state(late)).toBe('pending');
    first();
    (await late)();
    expect(semaphore.available).toBe(1);
  });
});
