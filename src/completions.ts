// Finished entries waiting to be emitted: as they complete, or in input order with --ordered.

/**
 * A queue of finished items keyed by a dense sequence number. `take()` returns the next one to emit:
 * the oldest finished (unordered) or exactly the next sequence number (ordered).
 * @example const c = new Completions<{seq: number}>(true); c.push({seq: 1}); c.take() === undefined
 */
export class Completions<T extends {readonly seq: number}> {
  readonly #ordered: boolean;
  #queue: T[] = [];
  #head = 0;
  readonly #bySeq = new Map<number, T>();
  #nextSeq = 0;
  #wake: (() => void) | undefined;

  constructor(ordered: boolean) {
    this.#ordered = ordered;
  }

  get size(): number {
    return this.#ordered ? this.#bySeq.size : this.#queue.length - this.#head;
  }

  push(item: T): void {
    if (this.#ordered) this.#bySeq.set(item.seq, item);
    else this.#queue.push(item);
    this.wake();
  }

  take(): T | undefined {
    if (this.#ordered) {
      const item = this.#bySeq.get(this.#nextSeq);
      if (item === undefined) return undefined;
      this.#bySeq.delete(this.#nextSeq);
      this.#nextSeq++;
      return item;
    }
    if (this.#head === this.#queue.length) return undefined;
    const item = this.#queue[this.#head]!;
    this.#queue[this.#head] = undefined as unknown as T;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Any remaining item, whatever the order: for cleanup after a stop. */
  drain(): T | undefined {
    if (this.#ordered) {
      for (const [seq, item] of this.#bySeq) {
        this.#bySeq.delete(seq);
        return item;
      }
      return undefined;
    }
    return this.take();
  }

  /** Resolves at the next push() or wake(). */
  waitForMore(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** A reusable wake-up: wait() resolves at the next notify(). */
export class WakeUp {
  #waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
