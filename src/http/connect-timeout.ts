// --connect-timeout with a native timer: undici's own connect timer ticks every half second or so,
// so a 500 ms timeout fired after about a second and a 2 s one after 2.5 s.
import type {Socket} from 'node:net';
import type {buildConnector} from 'undici';

type Connector = buildConnector.connector;

/**
 * Wrap a connector built without a timeout so a connection not made within `ms` fails as undici's own
 * connect timeout does (`UND_ERR_CONNECT_TIMEOUT`, so it classifies as `timeout`), on time.
 * @example new Agent({connect: withConnectTimeout(buildConnector({timeout: 0}), 500)})
 */
export function withConnectTimeout(connect: Connector, ms: number): Connector {
  if (ms <= 0) return connect;
  return (options, callback) => {
    let settled = false;
    let socket: Socket | undefined;
    const timer = setTimeout(() => {
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
      callback(...args);
    }) as unknown as Socket | undefined;
  };
}
