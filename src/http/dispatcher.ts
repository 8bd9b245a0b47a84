// The one undici dispatcher a run shares: keep-alive, timeouts, TLS and proxy settings built once.
import type {Dispatcher} from 'undici';
import {wrapConnector} from './connector.js';
import {loadAgent, loadBuildConnector, loadEnvHttpProxyAgent, loadProxyAgent} from './undici-parts.js';
import type {RunOptions} from '../options.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A proxy variable, the lowercase form winning when it is set and not empty (curl's rule). */
function variable(env: Env, name: string): string | undefined {
  const lower = env[name.toLowerCase()];
  if (lower !== undefined && lower !== '') return lower;
  const upper = env[name.toUpperCase()];
  return upper !== undefined && upper !== '' ? upper : undefined;
}

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
  if (options.proxy !== undefined) {
    const ProxyAgent = loadProxyAgent();
    return new ProxyAgent({...common, uri: options.proxy, requestTls: tls, proxyTls: {timeout: options.connectTimeout}});
  }
  const httpProxy = variable(env, 'http_proxy');
  const httpsProxy = variable(env, 'https_proxy');
  if (httpProxy !== undefined || httpsProxy !== undefined) {
    // Pass the variables explicitly: undici would read process.env, not the environment we were given.
    const EnvHttpProxyAgent = loadEnvHttpProxyAgent();
    return new EnvHttpProxyAgent({
      ...common,
      requestTls: tls,
      httpProxy: httpProxy ?? '',
      httpsProxy: httpsProxy ?? '',
      noProxy: variable(env, 'no_proxy') ?? '',
    });
  }
  const Agent = loadAgent();
  // The connector undici would build from `connect`, minus its coarse timer, plus our exact one and the
  // reset check (see connector.ts).
  const connect = wrapConnector(loadBuildConnector()({...tls, allowH2: false, timeout: 0}), options.connectTimeout);
  return new Agent({...common, connect});
}
