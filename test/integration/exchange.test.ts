// Exchange, the lean undici handler: headers then body, backpressure, and every way it can be stopped.
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {Agent} from 'undici';
import {Exchange, type ExchangeRequest} from '../../src/http/exchange.js';
import {startTestServer, expectedBytes, type TestServer} from '../helpers/server.js';

let server: TestServer;
let agent: Agent;
beforeAll(async () => {
  server = await startTestServer();
  agent = new Agent({keepAliveTimeout: 1000});
});
afterAll(async () => {
  await agent.close();
  await server.close();
});

function get(path: string): ExchangeRequest {
  const url = new URL(path, server.url);
  return {origin: url.origin, path: url.pathname + url.search, method: 'GET', headers: {accept: '*/*'}, headersTimeout: 5000, bodyTimeout: 5000};
}

describe('Exchange', () => {
  test('delivers the body in order, waiting on a slow consumer (backpressure)', async () => {
    const response = await Exchange.send(agent, get('/bytes/3000000'), undefined);
    expect(response.status).toBe(200);
    const chunks: Buffer[] = [];
    await response.body(async (chunk) => {
      chunks.push(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    });
    expect(Buffer.concat(chunks).equals(expectedBytes(3_000_000))).toBe(true);
  });

  test('idle timeout: a server silent past it fails as timeout, on time (a native timer, not undici\'s coarse one)', async () => {
    const started = performance.now();
    // A plain 200 ms timer beside it: how late this process's timers fire (a loaded machine starves the
    // worker for hundreds of ms), which the exchange's own timeout is not to be blamed for.
    let lag = 0;
    const plain = new Promise<void>((resolve) => setTimeout(() => resolve(void (lag = performance.now() - started - 200)), 200));
    const pending = Exchange.send(agent, {...get('/stall-headers'), idleTimeout: 200}, undefined);
    await expect(pending).rejects.toMatchObject({code: 'timeout'});
    const took = performance.now() - started;
    await plain;
    // undici's own timers tick every ~500 ms: a 200 ms timeout fired after about a second. Ours fires
    // within 1.25 idle times (250 ms), plus the lag every timer of the process had then.
    expect(took - lag).toBeLessThan(700);
  });

  test('idle timeout: our own backpressure is not idleness (a consumer slower than the timeout)', async () => {
    const response = await Exchange.send(agent, {...get('/bytes/3000000'), idleTimeout: 200}, undefined);
    const chunks: Buffer[] = [];
    let first = true;
    await response.body(async (chunk) => {
      chunks.push(chunk);
      if (first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
    expect(Buffer.concat(chunks).equals(expectedBytes(3_000_000))).toBe(true);
  });

  test('a consumer that throws stops the body at once, and is not called again', async () => {
    const response = await Exchange.send(agent, get('/bytes/3000000'), undefined);
    let calls = 0;
    const body = response.body(() => {
      calls++;
      if (calls === 2) throw new Error('enough');
    });
    await expect(body).rejects.toThrow('enough');
    const seen = calls;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(seen);
  });

  test('an aborted signal rejects a pending request with its reason', async () => {
    const controller = new AbortController();
    const pending = Exchange.send(agent, get('/stall-headers'), controller.signal);
    controller.abort(new Error('stop now'));
    await expect(pending).rejects.toThrow('stop now');
  });

  test('an already aborted signal sends nothing', async () => {
    const before = server.hits('/text/never');
    await expect(Exchange.send(agent, get('/text/never'), AbortSignal.abort(new Error('no')))).rejects.toThrow('no');
    expect(server.hits('/text/never')).toBe(before);
  });

  test('discard() reads a small body, keeping the connection usable', async () => {
    const response = await Exchange.send(agent, get('/status/404'), undefined);
    expect(response.status).toBe(404);
    await response.discard();
    const next = await Exchange.send(agent, get('/text/after'), undefined);
    const chunks: Buffer[] = [];
    await next.body((chunk) => {
      chunks.push(chunk);
    });
    expect(Buffer.concat(chunks).toString()).toBe('body of after\n');
  });
});
