// The proxy environment variables, read as curl reads them, and checked before the first request.
import {proxyOrigin} from '../options.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, the lowercase form winning when it is set and not empty (curl's rule). */
export function variableValue(env: Env, name: string): string | undefined {
  return named(env, name)?.value;
}

/** The variable that counts, as spelled in the environment, and its value. */
function named(env: Env, name: string): {name: string; value: string} | undefined {
  for (const spelled of [name.toLowerCase(), name.toUpperCase()]) {
    const value = env[spelled];
    if (value !== undefined && value !== '') return {name: spelled, value};
  }
  return undefined;
}

/**
 * `http_proxy` or `https_proxy` (either case) as the proxy URL undici takes, or undefined when unset.
 * As curl does, a value without a scheme is `http://` (`proxy.corp:3128`), and a path is dropped.
 * @throws {UsageError} naming the variable, for a value that is no http:// or https:// proxy
 * @example proxyVariable({HTTPS_PROXY: 'proxy:3128'}, 'https_proxy'); // {name: 'HTTPS_PROXY', url: 'http://proxy:3128'}
 */
export function proxyVariable(env: Env, name: 'http_proxy' | 'https_proxy'): {name: string; url: string} | undefined {
  const found = named(env, name);
  if (found === undefined) return undefined;
  return {name: found.name, url: proxyOrigin(found.value, found.name)};
}
