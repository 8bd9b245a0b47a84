// Self-tests of the test helpers (server, TLS, proxy, temp files), driven with undici directly.
import {readFile} from 'node:fs/promises';
import {performance} from 'node:perf_hooks';
import {createGunzip} from 'node:zlib';
import {Agent, ProxyAgent, request} from 'undici';
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest';
import {cleanupTemp, parseJsonLines, writeList} from '../helpers/cli.js';
import {startProxy} from '../helpers/proxy.js';
import {
  BYTES_LAST_MODIFIED,
  bytesSha256,
  expectedBytes,
  expectedLines,
  gzipBomb,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';
import {cert, selfSigned} from '../helpers/tls.js';

let server: TestServer;
const agent = new Agent({connections: 16});

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await agent.close();
  await server.close();
  await cleanupTemp();
});

/** GET (or another method) through the shared agent, the body read whole. */
async function get(path: string, opts: {method?: 'GET' | 'HEAD'; headers?: Record<string, string>} = {}) {
  const res = await request(server.url + path, {method: opts.method ?? 'GET', headers: opts.headers ?? {}, dispatcher: agent});
  const body = Buffer.from(await res.body.arrayBuffer());
  return {status: res.statusCode, statusText: res.statusText, headers: res.headers, body};
}

/** Read a body as a stream; resolve with the bytes received and the error that ended it, if any. */
async function drain(body: AsyncIterable<Buffer>): Promise<{bytes: number; error: unknown}> {
  let bytes = 0;
  try {
    for await (const chunk of body) bytes += chunk.length;
    return {bytes, error: undefined};
  } catch (error) {
    return {bytes, error};
  }
}

describe('/bytes/N', () => {
  it('serves deterministic bytes with validators', async () => {
    const res = await get('/bytes/1000');
    expect(res.status).toBe(200);
    expect(res.body.equals(expectedBytes(1000))).toBe(true);
    expect(sha256Hex(res.body)).toBe(bytesSha256(1000));
    expect(res.headers['content-length']).toBe('1000');
    expect(res.headers['etag']).toBe('"bytes-1000"');
    expect(res.headers['last-modified']).toBe(BYTES_LAST_MODIFIED);
    expect(res.headers['accept-ranges']).toBe('bytes');
  });

  it('answers HEAD with headers only', async () => {
    const res = await get('/bytes/1000', {method: 'HEAD'});
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('1000');
    expect(res.body.length).toBe(0);
  });

  it.each([
    ['bytes=100-', 100, 1000],
    ['bytes=10-19', 10, 20],
    ['bytes=990-5000', 990, 1000],
    ['bytes=-5', 995, 1000],
  ])('serves Range %s as 206', async (range, start, end) => {
    const res = await get('/bytes/1000', {headers: {range}});
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end - 1}/1000`);
    expect(res.headers['content-length']).toBe(String(end - start));
    expect(res.body.equals(expectedBytes(end - start, start))).toBe(true);
  });

  it('answers an unsatisfiable range with 416', async () => {
    const res = await get('/bytes/1000', {headers: {range: 'bytes=1000-'}});
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */1000');
  });

  it('honours If-Range: 206 when the ETag or date matches, 200 in full when not', async () => {
    const byEtag = await get('/bytes/1000', {headers: {range: 'bytes=500-', 'if-range': '"bytes-1000"'}});
    expect(byEtag.status).toBe(206);
    expect(byEtag.body.length).toBe(500);
    const byDate = await get('/bytes/1000', {headers: {range: 'bytes=500-', 'if-range': BYTES_LAST_MODIFIED}});
    expect(byDate.status).toBe(206);
    const changed = await get('/bytes/1000?etag=v2', {headers: {range: 'bytes=500-', 'if-range': '"bytes-1000"'}});
    expect(changed.headers['etag']).toBe('"v2"');
    expect(changed.status).toBe(200);
    expect(changed.body.equals(expectedBytes(1000))).toBe(true);
  });

  it('ignores Range with ?noranges=1 and drops validators on request', async () => {
    const res = await get('/bytes/100?noranges=1&noetag=1&nolm=1', {headers: {range: 'bytes=50-'}});
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(100);
    expect(res.headers['accept-ranges']).toBeUndefined();
    expect(res.headers['etag']).toBeUndefined();
    expect(res.headers['last-modified']).toBeUndefined();
  });

  it('delays headers with ?delay and drips the body with ?chunk&every', async () => {
    const t0 = performance.now();
    await get('/bytes/5?delay=150');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);

    const t1 = performance.now();
    const res = await request(`${server.url}/bytes/10?chunk=2&every=30`, {dispatcher: agent});
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(100);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(Buffer.concat(chunks).equals(expectedBytes(10))).toBe(true);
  });

  it('streams 512 MiB on the fly with backpressure', {timeout: 60_000}, async () => {
    const n = 512 * 1024 * 1024;
    const before = process.memoryUsage().rss;
    const res = await request(`${server.url}/bytes/${n}`, {dispatcher: agent});
    expect(res.headers['content-length']).toBe(String(n));
    let bytes = 0;
    let first: Buffer | undefined;
    for await (const chunk of res.body) {
      first ??= Buffer.from(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    expect(bytes).toBe(n);
    expect(first?.equals(expectedBytes(first.length))).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });
});

describe('small routes', () => {
  it('serves /text, /lines, /status, /slow and /echo-headers', async () => {
    expect((await get('/text/a%20b')).body.toString()).toBe('body of a b\n');
    expect((await get('/lines/100?id=q')).body.toString()).toBe(expectedLines(100, 'q'));
    const throttled = await get('/status/429?retryAfter=2');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('2');
    expect(throttled.body.toString()).toBe('status 429');
    expect((await get('/slow?ms=10')).body.toString()).toBe('slow');
    const echo = await get('/echo-headers', {headers: {'X-Test': 'yes'}});
    expect(JSON.parse(echo.body.toString())).toMatchObject({'x-test': 'yes'});
    expect((await get('/nowhere')).status).toBe(404);
  });

  it('logs requests and counts hits; custom routes win', async () => {
    server.route('/custom', (_req, res) => res.end('mine'));
    server.route('/text/overridden', (_req, res) => res.end('custom'));
    server.resetStats();
    expect((await get('/custom?x=1', {headers: {'X-Case': 'A'}})).body.toString()).toBe('mine');
    expect((await get('/text/overridden')).body.toString()).toBe('custom');
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]).toMatchObject({method: 'GET', url: '/custom?x=1', path: '/custom', headers: {'x-case': 'A'}});
    expect(server.hits('/custom')).toBe(1);
  });

  it('serves gzip, deflate and br bodies', async () => {
    const res = await get('/gzip/hello');
    expect(res.headers['content-encoding']).toBe('gzip');
    const {gunzipSync, inflateSync, brotliDecompressSync} = await import('node:zlib');
    expect(gunzipSync(res.body).toString()).toBe('hello');
    expect(inflateSync((await get('/deflate/hi')).body).toString()).toBe('hi');
    expect(brotliDecompressSync((await get('/br/yo')).body).toString()).toBe('yo');
  });

  it('sends more than 64 KiB of headers from /huge-headers', async () => {
    const big = new Agent({maxHeaderSize: 1024 * 1024});
    try {
      const res = await request(`${server.url}/huge-headers`, {dispatcher: big});
      await res.body.dump();
      const size = Object.entries(res.headers).reduce((sum, [k, v]) => sum + k.length + String(v).length, 0);
      expect(size).toBeGreaterThan(64 * 1024);
    } finally {
      await big.close();
    }
    await expect(request(`${server.url}/huge-headers`, {dispatcher: agent})).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_OVERFLOW',
    });
  });

  it('puts escape sequences in /ansi status text and body', async () => {
    const res = await get('/ansi');
    expect(res.status).toBe(500);
    expect(res.statusText).toContain('\x1b]0;pwned\x07');
    expect(res.body.toString()).toContain('\x1b[2J');
    // An ESC in a header value is a protocol error to undici.
    await expect(request(`${server.url}/ansi?header=1`, {dispatcher: agent})).rejects.toThrow();
  });
});

describe('/flaky/ID', () => {
  it('fails the first K requests per ID, then answers ok', async () => {
    expect((await get('/flaky/f1?fail=2&status=500')).status).toBe(500);
    expect((await get('/flaky/f2?fail=1')).status).toBe(503);
    expect((await get('/flaky/f1?fail=2&status=500')).status).toBe(500);
    const ok = await get('/flaky/f1?fail=2&status=500');
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('ok f1');
    expect(server.hits('/flaky/f1')).toBe(3);
    expect((await get('/flaky/f3?fail=1&retryAfter=1')).headers['retry-after']).toBe('1');
  });

  it('drops the connection with mode=reset', async () => {
    await expect(get('/flaky/r1?fail=1&mode=reset')).rejects.toThrow();
    expect((await get('/flaky/r1?fail=1&mode=reset')).body.toString()).toBe('ok r1');
  });
});

describe('broken bodies', () => {
  it('/reset-mid sends N bytes then destroys the socket', async () => {
    const res = await request(`${server.url}/reset-mid?after=300&total=1000`, {dispatcher: agent});
    expect(res.headers['content-length']).toBe('1000');
    const {bytes, error} = await drain(res.body as AsyncIterable<Buffer>);
    expect(bytes).toBe(300);
    expect(error).toBeDefined();
  });

  it('/short sends N bytes then ends cleanly', async () => {
    const res = await request(`${server.url}/short?after=200&total=500`, {dispatcher: agent});
    const {bytes, error} = await drain(res.body as AsyncIterable<Buffer>);
    expect(bytes).toBe(200);
    expect(error).toBeDefined();
  });

  it('/stall-body sends N bytes then stalls', async () => {
    const ac = new AbortController();
    const res = await request(`${server.url}/stall-body?after=100`, {dispatcher: agent, signal: ac.signal});
    let bytes = 0;
    const seen = (async () => {
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        if (bytes >= 100) ac.abort();
      }
    })();
    await expect(seen).rejects.toThrow();
    expect(bytes).toBe(100);
  });

  it('/long writes more bytes than its Content-Length', async () => {
    const res = await request(`${server.url}/long?cl=10&total=100`, {dispatcher: agent});
    const {bytes} = await drain(res.body as AsyncIterable<Buffer>);
    expect(bytes).toBe(10);
  });
});

describe('concurrency accounting', () => {
  it('counts peak in-flight requests', async () => {
    server.resetStats();
    const all = Array.from({length: 6}, () => get('/slow?ms=150'));
    await Promise.all(all);
    expect(server.maxInFlight).toBe(6);
    await vi.waitFor(() => expect(server.inFlight).toBe(0));
    server.resetStats();
    await get('/slow?ms=20');
    await get('/slow?ms=20');
    expect(server.maxInFlight).toBe(1);
  });
});

describe('redirects', () => {
  it('/redirect/N hops N times to /text/final, keeping its knobs', async () => {
    let path = '/redirect/3?code=307';
    const seen: number[] = [];
    for (let hop = 0; hop < 5; hop++) {
      const res = await get(path);
      if (res.status === 200) {
        expect(res.body.toString()).toBe('body of final\n');
        break;
      }
      seen.push(res.status);
      path = String(res.headers['location']);
    }
    expect(seen).toEqual([307, 307, 307]);
    expect(path).toBe('/text/final');
  });

  it('ends a chain at ?to, and gives absolute hops with ?abs=1', async () => {
    const to = 'http://127.0.0.2:1/x';
    expect((await get(`/redirect/1?to=${encodeURIComponent(to)}`)).headers['location']).toBe(to);
    expect((await get('/redirect/2?abs=1')).headers['location']).toBe(`${server.url}/redirect/1?abs=1`);
    expect((await get(`/redirect-abs?to=${encodeURIComponent(to)}&code=301`)).headers['location']).toBe(to);
    expect((await get(`/redirect-abs?code=308`)).status).toBe(308);
  });

  it('serves loops, a 302 without Location and a non-http target', async () => {
    expect((await get('/loop')).headers['location']).toBe('/loop');
    expect((await get('/loop-a')).headers['location']).toBe('/loop-b');
    expect((await get('/loop-b')).headers['location']).toBe('/loop-a');
    const bare = await get('/redirect-nolocation');
    expect(bare.status).toBe(302);
    expect(bare.headers['location']).toBeUndefined();
    expect((await get('/redirect-scheme')).headers['location']).toBe('ftp://x/');
  });
});

describe('/gzip-bomb', () => {
  it('is small on the wire and decodes to N MiB of zeros', async () => {
    const mb = 64;
    const res = await request(`${server.url}/gzip-bomb?mb=${mb}`, {dispatcher: agent});
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(Number(res.headers['content-length'])).toBeLessThan(200 * 1024);
    expect((await gzipBomb(mb)).length).toBe(Number(res.headers['content-length']));
    let bytes = 0;
    let nonZero = 0;
    for await (const chunk of res.body.pipe(createGunzip())) {
      bytes += (chunk as Buffer).length;
      for (const b of chunk as Buffer) if (b !== 0) nonZero++;
    }
    expect(bytes).toBe(mb * 1024 * 1024);
    expect(nonZero).toBe(0);
  });
});

describe('other listeners', () => {
  it('listens on 127.0.0.2', async () => {
    const other = await startTestServer({host: '127.0.0.2'});
    try {
      expect(other.url).toBe(`http://127.0.0.2:${other.port}`);
      const res = await request(`${other.url}/text/two`);
      expect(await res.body.text()).toBe('body of two\n');
    } finally {
      await other.close();
    }
  });

  it('serves HTTPS with the self-signed certificate', async () => {
    const tls = await startTestServer({tls: selfSigned});
    const insecure = new Agent({connect: {rejectUnauthorized: false}});
    const trusting = new Agent({connect: {ca: cert}});
    try {
      expect(tls.url).toBe(`https://127.0.0.1:${tls.port}`);
      const res = await request(`${tls.url}/bytes/100`, {dispatcher: insecure});
      expect(Buffer.from(await res.body.arrayBuffer()).equals(expectedBytes(100))).toBe(true);
      const verified = await request(`${tls.url}/text/ok`, {dispatcher: trusting});
      expect(await verified.body.text()).toBe('body of ok\n');
      const strict = new Agent();
      await expect(request(`${tls.url}/text/no`, {dispatcher: strict})).rejects.toMatchObject({
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      await strict.close();
    } finally {
      await insecure.close();
      await trusting.close();
      await tls.close();
    }
  });

  it('forwards through the proxy: absolute URI for http, CONNECT for https', async () => {
    const proxy = await startProxy();
    const tls = await startTestServer({tls: selfSigned});
    const plain = new ProxyAgent({uri: proxy.url});
    const tunnel = new ProxyAgent({uri: proxy.url, requestTls: {rejectUnauthorized: false}});
    try {
      const res = await request(`${server.url}/text/p`, {dispatcher: plain});
      expect(await res.body.text()).toBe('body of p\n');
      const secure = await request(`${tls.url}/text/s`, {dispatcher: tunnel});
      expect(await secure.body.text()).toBe('body of s\n');
      expect(proxy.requests).toEqual([`${server.url}/text/p`, `127.0.0.1:${tls.port}`]);
      expect(proxy.log.map((e) => e.method)).toEqual(['GET', 'CONNECT']);
    } finally {
      await plain.close();
      await tunnel.close();
      await tls.close();
      await proxy.close();
    }
  });
});

describe('close()', () => {
  it('does not hang with stalled requests open', {timeout: 10_000}, async () => {
    const stalled = await startTestServer();
    const local = new Agent();
    const headers = request(`${stalled.url}/stall-headers`, {dispatcher: local}).then(
      () => 'answered',
      () => 'failed',
    );
    const body = request(`${stalled.url}/stall-body?after=10`, {dispatcher: local}).then(
      (res) => drain(res.body as AsyncIterable<Buffer>),
      (error: unknown) => ({bytes: -1, error}),
    );
    const slow = request(`${stalled.url}/slow?ms=60000`, {dispatcher: local}).then(
      () => 'answered',
      () => 'failed',
    );
    await vi.waitFor(() => expect(stalled.inFlight).toBe(3));
    const t0 = performance.now();
    await stalled.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await headers).toBe('failed');
    expect(await slow).toBe('failed');
    expect((await body).error).toBeDefined();
    await stalled.close(); // idempotent
    await local.close();
  });
});

describe('temp files', () => {
  it('writes list files and parses JSON lines', async () => {
    const list = await writeList(['http://a.test/x', '# c'], {bom: true, eol: '\r\n'});
    expect(list.endsWith('urls.txt')).toBe(true);
    expect(await readFile(list, 'utf8')).toBe('\uFEFFhttp://a.test/x\r\n# c\r\n');
    expect(parseJsonLines('{"a":1}\n\n{"b":2}\n')).toEqual([{a: 1}, {b: 2}]);
    expect(() => parseJsonLines('nope\n')).toThrow(/line 1 is not JSON/);
  });
});
