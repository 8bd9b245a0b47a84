// The undici dispatchers fetchall uses, the plain Agent loaded on its own: undici's index also loads fetch,
// WebSocket, caches and more (measured here: ~160 ms of start-up; the agent alone, ~80 ms).
import {createRequire} from 'node:module';
import type {Agent, buildConnector, EnvHttpProxyAgent, Pool, ProxyAgent} from 'undici';

const require = createRequire(import.meta.url);

// undici has no "exports" map, so its lib/ files are reachable; should a later release move them,
// fall back to the index rather than fail.
function part<T>(path: string, name: 'Agent' | 'buildConnector'): T {
  try {
    return require(path) as T;
  } catch {
    return (require('undici') as Record<string, T>)[name]!;
  }
}

/** undici's Agent class. */
export function loadAgent(): typeof Agent {
  return part<typeof Agent>('undici/lib/dispatcher/agent.js', 'Agent');
}

/** undici's buildConnector (the function behind an Agent's `connect` option). */
export function loadBuildConnector(): typeof buildConnector {
  return part<typeof buildConnector>('undici/lib/core/connect.js', 'buildConnector');
}

// The proxy agents tunnel with Dispatcher.prototype.connect, which only undici's index installs:
// they come from the index (a proxied run pays its load time; a direct one does not).

/** undici's ProxyAgent class. */
export function loadProxyAgent(): typeof ProxyAgent {
  return (require('undici') as {ProxyAgent: typeof ProxyAgent}).ProxyAgent;
}

/** undici's EnvHttpProxyAgent class. */
export function loadEnvHttpProxyAgent(): typeof EnvHttpProxyAgent {
  return (require('undici') as {EnvHttpProxyAgent: typeof EnvHttpProxyAgent}).EnvHttpProxyAgent;
}

/** undici's Pool class (the proxy agents' connection to the proxy itself). */
export function loadPool(): typeof Pool {
  return (require('undici') as {Pool: typeof Pool}).Pool;
}

/**
 * The fields where undici's EnvHttpProxyAgent keeps its three agents (direct, http proxy, https proxy):
 * fetchall puts its own there, so that the variables' routing stays undici's and the connections ours.
 * @throws {Error} when this undici keeps them elsewhere (a test fails on an upgrade that moves them)
 */
export function loadEnvProxySlots(): {noProxy: symbol; http: symbol; https: symbol} {
  const symbols = require('undici/lib/core/symbols.js') as Record<string, unknown>;
  const {kNoProxyAgent, kHttpProxyAgent, kHttpsProxyAgent} = symbols;
  if (typeof kNoProxyAgent !== 'symbol' || typeof kHttpProxyAgent !== 'symbol' || typeof kHttpsProxyAgent !== 'symbol') {
    throw new Error("this undici's EnvHttpProxyAgent keeps its agents elsewhere: fetchall needs updating for it");
  }
  return {noProxy: kNoProxyAgent, http: kHttpProxyAgent, https: kHttpsProxyAgent};
}
