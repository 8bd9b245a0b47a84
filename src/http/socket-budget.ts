// How many connections a run keeps open: the idle ones are closed, oldest first, past a bound.
import type {Socket} from 'node:net';

// When the connection's last response ended (performance.now()); absent while a request is on it.
const IDLE_SINCE = Symbol('fetchall idle since');

type Tracked = Socket & {[IDLE_SINCE]?: number | undefined};

/**
 * Bounds the connections of a run. undici keeps each origin's idle connections for their keep-alive
 * time: a list spread over thousands of hosts kept a socket open for each recent host (3,000 hosts:
 * 3,000 descriptors and ~85 MB more, and `EMFILE` under a 1,024-descriptor limit). Past `max`, every
 * new connection closes idle ones, oldest first, down to seven eighths of it (so the sort is not paid
 * at every connection). A connection is busy from the moment a request is written on it until its
 * response ends (see `markBusy`, `markIdle`), and never closed while busy. undici takes a closed idle
 * connection as a disconnect: a request waiting to reuse it opens another.
 * @example const budget = new SocketBudget(64); connector gives each new socket to budget.add(socket)
 */
export class SocketBudget {
  readonly #max: number;
  readonly #live = new Set<Tracked>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#live.size;
  }

  add(socket: Socket): void {
    const tracked = socket as Tracked;
    this.#live.add(tracked);
    socket.once('close', () => this.#live.delete(tracked));
    if (this.#live.size > this.#max) this.#trim();
  }

  #trim(): void {
    const idle = [...this.#live].filter((s) => s[IDLE_SINCE] !== undefined).sort((a, b) => a[IDLE_SINCE]! - b[IDLE_SINCE]!);
    let excess = this.#live.size - Math.floor((this.#max * 7) / 8);
    for (const socket of idle) {
      if (excess-- <= 0) break;
      this.#live.delete(socket);
      socket.destroy();
    }
  }
}

/** A request is being written on the connection. */
export function markBusy(socket: Socket): void {
  (socket as Tracked)[IDLE_SINCE] = undefined;
}

/** The connection's response has ended: it waits for reuse. */
export function markIdle(socket: Socket): void {
  (socket as Tracked)[IDLE_SINCE] = performance.now();
}
