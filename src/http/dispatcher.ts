// The one undici dispatcher a run shares: keep-alive, timeouts, TLS and proxy settings built once.
import {Agent, EnvHttpProxyAgent, ProxyAgent, type Dispatcher} from 'undici';
import type {RunOptions} from '../options.js';

const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY'];

/**
 * Build the run's dispatcher. `--proxy` wins; else the proxy environment variables; else a plain Agent.
 * @example const dispatcher = createDispatcher(options, process.env)
 */
export function createDispatcher(options: RunOptions, env: Readonly<Record<string, string | undefined>>): Dispatcher {
  const tls = {rejectUnauthorized: !options.insecure};
  const common = {
    headersTimeout: options.idleTimeout,
    bodyTimeout: options.idleTimeout,
    keepAliveTimeout: 4_000,
    // Servers that send more than this in headers get a clean `protocol` failure, not a hang.
    maxHeaderSize: 64 * 1024,
    connect: {timeout: options.connectTimeout, ...tls},
  };
  if (options.proxy !== undefined) {
    return new ProxyAgent({...common, uri: options.proxy, requestTls: tls, proxyTls: {timeout: options.connectTimeout}});
  }
  if (PROXY_VARIABLES.some((name) => (env[name] ?? '') !== '')) {
    return new EnvHttpProxyAgent({...common, requestTls: tls});
  }
  return new Agent(common);
}
