// The one undici dispatcher a run shares: keep-alive, timeouts, TLS and proxy settings built once.
import {readFileSync} from 'node:fs';
import type {Dispatcher, Pool} from 'undici';
import {wrapConnector} from './connector.js';
import {SocketBudget} from './socket-budget.js';
import {loadAgent, loadBuildConnector, loadEnvHttpProxyAgent, loadEnvProxySlots, loadPool, loadProxyAgent} from './undici-parts.js';
import {proxyVariable, variableValue, type Env} from './proxy-env.js';
import type {RunOptions} from '../options.js';


/**
 * Build the run's dispatcher. `--proxy` wins; else the proxy environment variables; else a plain Agent.
 * @example const dispatcher = createDispatcher(options, process.env)
 */
export function createDispatcher(options: RunOptions, env: Env): Dispatcher {
  const tls = {rejectUnauthorized: !options.insecure, timeout: options.connectTimeout};
  const common = {
    // The contract says HTTP/1.1: undici would otherwise offer h2 in the TLS handshake and speak it
    // with any server that takes it (the idle timer's head watch and the reset check are HTTP/1.1's).
    allowH2: false,
    headersTimeout: options.idleTimeout,
    bodyTimeout: options.idleTimeout,
    keepAliveTimeout: 4_000,
    // Servers that send more than this in headers get a clean `protocol` failure, not a hang.
    maxHeaderSize: 64 * 1024,
    connect: tls,
  };
  // Requests that go to their origin directly, through no proxy (and with a proxy variable set, those
  // NO_PROXY names and http:// ones when only https_proxy is set): the connector undici would build
  // from `connect`, minus its coarse timer, plus our exact one, the reset and TLS error checks, the look
  // at each response's start, and the run's bound on open connections (see connector.ts).
  const perOrigin = Math.min(options.concurrency, options.perHost ?? Infinity) + 1;
  const direct = (): Dispatcher => {
    const budget = new SocketBudget(connectionBudget(options.concurrency, openFilesLimit()));
    const connect = wrapConnector(loadBuildConnector()({...tls, allowH2: false, timeout: 0}), options.connectTimeout, budget);
    // At most one more connection to an origin than requests may be in flight to it. undici waits an
    // event-loop turn before it reuses a connection whose response just ended, so a request made in the
    // meantime opened another: two per slot, twice the TLS handshakes. Capped at exactly as many, the
    // request waited in the pool for that turn and then went onto that connection before the close of a
    // server that had just ended it was seen (without `Connection: close`): such a server read most
    // requests twice (the second time on a new connection, attempt.ts). With one spare, a request takes
    // a connection that has been idle at least a turn, whose close, if any, has been seen.
    return new (loadAgent())({...common, connect, connections: perOrigin});
  };
  // The proxy variables count only without --proxy (which ignores them, NO_PROXY included).
  const httpProxy = options.proxy === undefined ? proxyVariable(env, 'http_proxy') : undefined;
  const httpsProxy = options.proxy === undefined ? proxyVariable(env, 'https_proxy') : undefined;
  if (options.proxy === '' || (options.proxy === undefined && httpProxy === undefined && httpsProxy === undefined)) return direct();
  // A Proxy-Authorization the user gave (-H) is the proxy's: undici sends it from the agent (and
  // refuses it on a request, failing every URL). On the requests themselves it is dropped.
  const given = options.headers['proxy-authorization'];
  const Pool = loadPool();
  const {connect: _ownConnect, ...poolDefaults} = common;
  const proxyAgent = (uri: string): Dispatcher => {
    const token = given === undefined || given === '' ? emptyUserToken(uri) : given;
    return new (loadProxyAgent())({
      ...common,
      // The same bound on connections as direct: per origin inside tunnels; for http:// URLs, which
      // share the connections to the proxy, one more than -c (below).
      connections: perOrigin,
      uri,
      ...(token === undefined ? {} : {token}),
      requestTls: tls,
      // -k covers an https:// proxy's own certificate too.
      proxyTls: tls,
      // undici waits for the proxy's answer to CONNECT with its connection's headers timeout, 300 s by
      // default: a proxy that took the connection and said nothing held an https request that long.
      // The tunnel is part of connecting: --connect-timeout bounds it (0: no bound, as for any connect).
      clientFactory: (origin: URL, opts: object) => new Pool(origin, {...opts, headersTimeout: options.connectTimeout}),
      // The pools requests go out on: an http:// URL's to the proxy (undici gives them only `connect`:
      // 16 KiB of headers, 300 s timeouts), an https:// URL's through its tunnel. Ours where undici's are
      // unset; and on their sockets (the proxy's, or the tunnel's) the same checks as on a direct one:
      // a reset is no body's end, interim responses are skipped, status lines handed over whole. The
      // connect timeouts stay undici's here (the tunnel's CONNECT is bounded by clientFactory's).
      factory: (origin: URL | string, opts: Pool.Options) => new Pool(origin, {
        ...poolDefaults,
        connections: options.concurrency + 1,
        ...opts,
        ...(typeof opts.connect === 'function' ? {connect: wrapConnector(opts.connect, 0)} : {}),
      }),
    });
  };
  if (options.proxy !== undefined) return withoutProxyAuthorization(proxyAgent(options.proxy));
  // Pass the variables explicitly: undici would read process.env, not the environment we were given.
  // undici decides per request which of its three agents takes it (NO_PROXY's rules are its own);
  // the agents themselves are ours: the direct one above, and a proxy agent per proxy.
  const router = new (loadEnvHttpProxyAgent())({httpProxy: httpProxy?.url ?? '', httpsProxy: httpsProxy?.url ?? '', noProxy: variableValue(env, 'no_proxy') ?? ''});
  const slots = loadEnvProxySlots();
  const routes = router as unknown as Record<symbol, Dispatcher>;
  const built = new Set([routes[slots.noProxy], routes[slots.http], routes[slots.https]]);
  const toOrigin = direct();
  const forHttp = httpProxy === undefined ? toOrigin : proxyAgent(httpProxy.url);
  routes[slots.noProxy] = toOrigin;
  routes[slots.http] = forHttp;
  routes[slots.https] = httpsProxy === undefined ? forHttp : httpsProxy.url === httpProxy?.url ? forHttp : proxyAgent(httpsProxy.url);
  // undici's own, never used: they hold no connection yet.
  for (const agent of built) void agent?.close();
  return withoutProxyAuthorization(router);
}

/**
 * Proxy credentials with an empty user name (`http://:secret@proxy:3128`) as the header curl sends;
 * undici sends none for them. Undefined where undici sends the header itself, or there is none.
 * @example emptyUserToken('http://:secret@p:3128') // → 'Basic OnNlY3JldA=='
 */
export function emptyUserToken(uri: string): string | undefined {
  const url = new URL(uri);
  if (url.username !== '' || url.password === '') return undefined;
  let password: string;
  try {
    password = decodeURIComponent(url.password);
  } catch {
    password = url.password;
  }
  return `Basic ${Buffer.from(`:${password}`).toString('base64')}`;
}

/** The proxy agent, minus any Proxy-Authorization on a request (-H's went to the agent; an entry's is dropped). */
function withoutProxyAuthorization(agent: Dispatcher): Dispatcher {
  return agent.compose((dispatch) => (opts, handler) => {
    const headers = opts.headers as Record<string, string> | null | undefined;
    if (headers === null || headers === undefined || !('proxy-authorization' in headers)) return dispatch(opts, handler);
    const {'proxy-authorization': _dropped, ...rest} = headers;
    return dispatch({...opts, headers: rest}, handler);
  });
}

/**
 * Connections a run may hold open at once: those in use (at most -c), plus idle ones kept for reuse,
 * twice -c and at least 4,096, all within half the process's descriptor limit where that is lower
 * (files, the report and the lists need the rest), but never fewer than -c and 32 idle. Generous on
 * purpose: a connection made again costs far more than one kept (a list cycling through 3,000 hosts
 * at -c 32 on loopback took 3× the CPU with 2,048 kept), and 4,096 idle ones are ~120 MB at most, which
 * bounds what a list over more hosts than that would otherwise keep (a socket per recent host).
 * @example connectionBudget(8, 20_000) === 4104
 */
export function connectionBudget(concurrency: number, openFiles: number | undefined): number {
  const wanted = concurrency + Math.max(2 * concurrency, 4096);
  const room = openFiles === undefined ? wanted : Math.floor(openFiles / 2);
  return Math.max(concurrency + 32, Math.min(wanted, room));
}

/** The soft limit on open descriptors (Linux's /proc), or undefined where it cannot be read. */
function openFilesLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return line === null ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}
