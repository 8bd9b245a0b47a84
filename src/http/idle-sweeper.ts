// --idle-timeout for every exchange of a run with one timer: a sweep every quarter of the idle time,
// instead of a timer made, refreshed and cleared per request (measurable on many small requests).

/** Something that can go idle: the sweeper asks it to look at itself now and then. */
export interface IdleWatched {
  /** One look, every quarter of `idleMs`: time out after four quiet looks in a row. */
  checkIdle(idleMs: number): void;
}

/**
 * Sweeps the exchanges waiting for bytes every `idleMs / 4`: an exchange silent for `idleMs` times out
 * between 1 and 1.25 idle times after its last byte. The timer is unref'd (sockets keep the process
 * alive while anything is in flight) and stops at the first sweep that finds nothing to watch.
 * @example const sweeper = idleSweeper(30_000); sweeper.add(exchange); … sweeper.delete(exchange);
 */
export class IdleSweeper {
  readonly #idleMs: number;
  readonly #watched = new Set<IdleWatched>();
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  add(watched: IdleWatched): void {
    this.#watched.add(watched);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.ceil(this.#idleMs / 4)));
      this.#timer.unref();
    }
  }

  delete(watched: IdleWatched): void {
    this.#watched.delete(watched);
  }

  #sweep(): void {
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    // An exchange that times out deletes itself: deleting the current entry is safe in a Set's loop.
    for (const watched of this.#watched) watched.checkIdle(this.#idleMs);
  }
}

const sweepers = new Map<number, IdleSweeper>();

/** The sweeper shared by every exchange with this idle time (a run has one; a few runs, a few). */
export function idleSweeper(idleMs: number): IdleSweeper {
  let sweeper = sweepers.get(idleMs);
  if (sweeper === undefined) {
    sweeper = new IdleSweeper(idleMs);
    sweepers.set(idleMs, sweeper);
  }
  return sweeper;
}
