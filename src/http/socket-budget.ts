// How many connections a run keeps open: past a bound, idle ones are closed, picked at random.
import type {Socket} from 'node:net';

// True once the connection's last response has ended; false while a request is on it.
const IDLE = Symbol('fetchall idle');

type Tracked = Socket & {[IDLE]?: boolean};

/**
 * Bounds the connections of a run. undici keeps each origin's idle connections for their keep-alive
 * time: a list spread over thousands of hosts kept a socket open for each recent host (3,000 hosts:
 * 3,000 descriptors and ~85 MB more, and `EMFILE` under a 1,024-descriptor limit). Past `max`, a new
 * connection closes idle ones, picked at random, down to seven eighths of it (so the pick is not paid
 * at every connection). At random, not oldest first: a list that cycles through more hosts than the
 * bound holds would find every host's connection closed just before its turn came again (100 hosts
 * round-robin: three times slower), where random picks keep a share of them. A connection is busy from
 * the moment a request is written on it until its response ends (see `markBusy`, `markIdle`), and never
 * closed while busy. undici takes a closed idle connection as a disconnect: a request waiting to reuse
 * it opens another.
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

  /** Count a connection (busy until its first response ends); counting one twice changes nothing. */
  add(socket: Socket): void {
    const tracked = socket as Tracked;
    if (this.#live.has(tracked)) return;
    this.#live.add(tracked);
    socket.once('close', () => this.#live.delete(tracked));
    if (this.#live.size > this.#max) this.#trim();
  }

  #trim(): void {
    const idle = [...this.#live].filter((s) => s[IDLE] === true);
    const excess = Math.min(idle.length, this.#live.size - Math.floor((this.#max * 7) / 8));
    for (let i = 0; i < excess; i++) {
      // A partial Fisher-Yates shuffle: the first `excess` places get a random pick each.
      const j = i + Math.floor(Math.random() * (idle.length - i));
      const socket = idle[j]!;
      idle[j] = idle[i]!;
      this.#live.delete(socket);
      socket.destroy();
    }
  }
}

/** A request is being written on the connection. */
export function markBusy(socket: Socket): void {
  (socket as Tracked)[IDLE] = false;
}

/** The connection's response has ended: it waits for reuse. */
export function markIdle(socket: Socket): void {
  (socket as Tracked)[IDLE] = true;
}
