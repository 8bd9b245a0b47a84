// One local test server for a test file: started before its tests, stats cleared before each, closed after.
import {afterAll, beforeAll, beforeEach} from 'vitest';
import {cleanupTemp} from './cli.js';
import {startTestServer, type TestServer, type TestServerOptions} from './server.js';

/**
 * Register the hooks and return the server. The value is usable inside tests and hooks (it forwards
 * to the server started in beforeAll); temporary files made by the cli helpers are removed after.
 * `options` go to startTestServer (a second host: `useTestServer({host: '127.0.0.2'})`).
 * @example const server = useTestServer(); test('…', async () => { await runCli([server.url + '/text/x']); });
 */
export function useTestServer(options: TestServerOptions = {}): TestServer {
  let started: TestServer | undefined;
  beforeAll(async () => {
    started = await startTestServer(options);
  });
  beforeEach(() => {
    started?.resetStats();
  });
  afterAll(async () => {
    await started?.close();
    await cleanupTemp();
  });
  return new Proxy({} as TestServer, {
    get(_target, key) {
      if (started === undefined) throw new Error('useTestServer: the server is only there inside tests and hooks');
      const value = Reflect.get(started, key, started) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(started) : value;
    },
  });
}
