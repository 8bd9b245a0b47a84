// The connector's own --connect-timeout: what its error names, as undici hands it a URL's origin.
import {describe, expect, test} from 'vitest';
import {Agent} from 'undici';
import {wrapConnector} from '../../src/http/connector.js';

/** A connect that never completes: only the wrapper's timer can end it. */
const never = (() => undefined) as unknown as Parameters<typeof wrapConnector>[0];

/** The error a request to `origin` fails with when its connection is never made (100 ms timeout). */
async function connectTimeout(origin: string): Promise<{code?: string; message: string}> {
  const agent = new Agent({connect: wrapConnector(never, 100)});
  try {
    const failure = await agent.request({origin, path: '/', method: 'GET'}).then(
      () => undefined,
      (error: unknown) => error as {code?: string; message: string},
    );
    expect(failure, `a request to ${origin} did not fail`).toBeDefined();
    return failure!;
  } finally {
    await agent.destroy();
  }
}

describe('the connect timeout', () => {
  // undici hands the connector the URL's port as written: '' for the scheme's default. The message is
  // what a record's `timeout` error shows; `host:` with no port sends a reader to the wrong port.
  test.each([
    ['https://a.test', 'a.test:443'],
    ['http://a.test', 'a.test:80'],
    ['https://a.test:8443', 'a.test:8443'],
    ['http://127.0.0.1:81', '127.0.0.1:81'],
  ])('%s: the message names %s, the default port spelled out', async (origin, address) => {
    const failure = await connectTimeout(origin);
    expect(failure.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(failure.message).toBe(`Connect Timeout Error (attempted address: ${address}, timeout: 100ms)`);
  });
});
