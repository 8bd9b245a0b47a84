// The connector behind the run's Agent: undici's own, plus two fixes of ours on every socket it makes.
// - --connect-timeout with a native timer: undici's own connect timer ticks every half second or so,
//   so a 500 ms timeout fired after about a second and a 2 s one after 2.5 s.
// - A reset is never the end of a body: undici takes an ECONNRESET during a body that runs to the
//   close (no Content-Length, not chunked) as its normal end, so a cut-off body was saved as whole.
import type {Socket} from 'node:net';
import type {buildConnector} from 'undici';

type Connector = buildConnector.connector;

/**
 * Wrap a connector built without a timeout: a connection not made within `ms` (0: no limit) fails as
 * undici's own connect timeout does (`UND_ERR_CONNECT_TIMEOUT`, so it classifies as `timeout`), on
 * time; and every socket it makes reports a reset as a broken connection, never as a body's end.
 * @example new Agent({connect: wrapConnector(buildConnector({timeout: 0}), 500)})
 */
export function wrapConnector(connect: Connector, ms: number): Connector {
  return (options, callback) => {
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
      if (args[0] === null && args[1] != null) resetEndsNothing(args[1]);
      callback(...args);
    }) as unknown as Socket | undefined;
  };
}

/**
 * undici checks for `ECONNRESET` to take a reset as the end of a body that runs to the close (a
 * workaround for macOS, its comment says); under another code its generic path fails the response.
 * `UND_ERR_SOCKET` is undici's own code for a broken socket, which fetchall already reports as `reset`.
 * The error keeps its message and errno; only what undici keys on changes, before undici sees it.
 */
function resetEndsNothing(socket: Socket): void {
  socket.prependListener('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') error.code = 'UND_ERR_SOCKET';
  });
}
