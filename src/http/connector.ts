// The connector behind the run's Agent: undici's own, plus fixes of ours on every socket it makes.
// - --connect-timeout with a native timer: undici's own connect timer ticks every half second or so,
//   so a 500 ms timeout fired after about a second and a 2 s one after 2.5 s.
// - A reset is never the end of a body: undici takes an ECONNRESET during a body that runs to the
//   close (no Content-Length, not chunked) as its normal end, so a cut-off body was saved as whole.
// - Interim 1xx heads are skipped, as curl and wget skip them: undici destroys the connection at a
//   `100 Continue` it did not ask for ("bad response"), though RFC 9110 (15.2) says a client must
//   parse 1xx responses it did not expect.
// - A TLS error after the handshake (a record that does not decrypt, an alert such as TLS 1.3's
//   "certificate required") ends the connection: Node reports it and leaves the socket open, and undici
//   waits for its close, so the request hung until the idle timeout and failed as `timeout`.
// - A final status line reaches undici's parser whole: undici keeps only the last piece of a reason
//   phrase that arrives in pieces (`HTTP 404 ound`).
// - A host name written with its trailing dot (`https://example.com./`) is sent in SNI without it, as
//   RFC 6066 says and curl does: undici sent it as written, and a server strict about SNI refused it.
import type {Socket} from 'node:net';
import type {buildConnector} from 'undici';
import {responseStart} from './response-start.js';
import {markBusy, type SocketBudget} from './socket-budget.js';

type Connector = buildConnector.connector;

/**
 * Wrap a connector built without a timeout: a connection not made within `ms` (0: no limit) fails as
 * undici's own connect timeout does (`UND_ERR_CONNECT_TIMEOUT`, so it classifies as `timeout`), on
 * time; and every socket it makes reports a reset as a broken connection, never as a body's end.
 * @example new Agent({connect: wrapConnector(buildConnector({timeout: 0}), 500)})
 */
export function wrapConnector(connect: Connector, ms: number, budget?: SocketBudget): Connector {
  return (given, callback) => {
    const options = withoutTrailingDot(given);
    let settled = false;
    let socket: Socket | undefined;
    const timer = ms <= 0 ? undefined : setTimeout(() => {
      if (settled) return;
      settled = true;
      const port = options.port !== '' && options.port !== undefined ? options.port : options.protocol === 'https:' ? '443' : '80';
      const error = Object.assign(new Error(`Connect Timeout Error (attempted address: ${options.hostname}:${port}, timeout: ${ms}ms)`), {
        name: 'ConnectTimeoutError',
        code: 'UND_ERR_CONNECT_TIMEOUT',
      });
      socket?.destroy();
      callback(error, null);
    }, ms);
    // undici's connector returns the socket it is connecting (its types say void): kept to destroy it.
    socket = connect(options, (...args) => {
      if (settled) {
        args[1]?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (args[0] === null && args[1] != null) {
        mendSocketErrors(args[1]);
        handStatusLinesWhole(args[1]);
        // Counted already where the connector returned it (undici's does; its types say void).
        budget?.add(args[1]);
      }
      callback(...args);
    }) as unknown as Socket | undefined;
    // Counted from the start of its connect: a run opening many at once stays within its budget.
    if (socket !== undefined) budget?.add(socket);
  };
}

/**
 * The options with SNI's name given without a trailing dot. undici leaves `servername` unset here and
 * takes the host as written; a name that ends in a dot is never an IP address (the URL parser makes
 * `127.0.0.1.` an address without it).
 */
function withoutTrailingDot(options: buildConnector.Options): buildConnector.Options {
  const name = options.servername ?? options.hostname;
  if (options.protocol !== 'https:' || typeof name !== 'string' || !name.endsWith('.')) return options;
  return {...options, servername: name.slice(0, -1)};
}

/**
 * A reset: undici checks for `ECONNRESET` to take a reset as the end of a body that runs to the close
 * (a workaround for macOS, its comment says); under another code its generic path fails the response.
 * `UND_ERR_SOCKET` is undici's own code for a broken socket, which fetchall already reports as `reset`.
 * The error keeps its message and errno; only what undici keys on changes, before undici sees it.
 * A TLS error: the socket is destroyed with it, which undici then reports for the request (`tls`).
 */
function mendSocketErrors(socket: Socket): void {
  socket.prependListener('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') error.code = 'UND_ERR_SOCKET';
    // After undici has taken the error (it keeps it for the close), the close comes.
    else if (error.code?.startsWith('ERR_SSL_') === true) process.nextTick(() => socket.destroy(error));
  });
}

/**
 * Hold the bytes at the start of each response until its final status line is whole, dropping every
 * interim head before it (see response-start.ts), before undici's parser reads them. undici reads a
 * socket only with `read()`: each request written marks the start of a response; once its status line
 * is handed over, everything goes through untouched, with no further look until the next request. On
 * the way of an ordinary response that costs a look at its status line's bytes.
 */
function handStatusLinesWhole(socket: Socket): void {
  const read = socket.read;
  const write = socket.write;
  let atStart = false;
  let held: Buffer | undefined;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    atStart = true;
    markBusy(this);
    return write.apply(this, args);
  } as Socket['write'];
  socket.read = function (this: Socket, size?: number) {
    if (!atStart || size !== undefined) return read.call(this, size);
    for (;;) {
      const chunk = read.call(this) as Buffer | null;
      if (chunk === null) return null;
      let data = held === undefined ? chunk : Buffer.concat([held, chunk]);
      held = undefined;
      let skip: number;
      while ((skip = responseStart(data)) > 0) data = data.subarray(skip);
      if (skip === 0) {
        atStart = false;
        return data;
      }
      if (data.length > 0) held = data;
    }
  } as Socket['read'];
}
