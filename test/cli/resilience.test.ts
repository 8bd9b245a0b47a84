// End-to-end resilience: retries, Retry-After, timeouts, broken bodies, redirects, limits, TLS, proxy, signals.
import {spawn} from 'node:child_process';
import {readFile, readdir, stat, writeFile} from 'node:fs/promises';
import {createSecureServer} from 'node:http2';
import {createServer, type Socket} from 'node:net';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {performance} from 'node:perf_hooks';
import {randomBytes} from 'node:crypto';
import {createServer as createHttpServer} from 'node:http';
import {createServer as createTlsServer, TLSSocket} from 'node:tls';
import {brotliCompressSync, deflateRawSync, deflateSync, gzipSync} from 'node:zlib';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {BIN_PATH, cleanupTemp, makeTempDir, parseJsonLines, runCli, writeList, type RunCliOptions} from '../helpers/cli.js';
import {startPipeProxy, startProxy, type TestProxy} from '../helpers/proxy.js';
import {startTestServer, textBody, type TestServer} from '../helpers/server.js';
import {certPath, selfSigned} from '../helpers/tls.js';

/** A preload that resolves `*.test` names without DNS (see the file). */
const RESOLVE_TEST_NAMES = fileURLToPath(new URL('../fixtures/resolve-test-names.cjs', import.meta.url));

let a: TestServer;
let b: TestServer;
let secure: TestServer;
let proxy: TestProxy;

beforeAll(async () => {
  [a, b, secure, proxy] = await Promise.all([
    startTestServer(),
    startTestServer({host: '127.0.0.2'}),
    startTestServer({tls: selfSigned}),
    startProxy(),
  ]);
});
beforeEach(() => {
  // Each test counts only its own requests.
  for (const server of [a, b, secure]) server.resetStats();
  proxy.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([a.close(), b.close(), secure.close(), proxy.close()]);
  await cleanupTemp();
});

/** Run the CLI with `--json` over `urls` and return its result with the records parsed. */
async function fetchJson(urls: string[], args: string[] = [], opts: RunCliOptions = {}) {
  const list = await writeList(urls);
  const result = await runCli(['--json', ...args, list], opts);
  return {...result, recs: result.records()};
}

/** Every file name under `dir`, recursively. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, {withFileTypes: true, recursive: true})) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

describe('retries', () => {
  it('retries a URL that fails twice, then succeeds, counting 3 attempts', async () => {
    const {code, recs} = await fetchJson([`${a.url}/flaky/twice?fail=2`], ['--retry-delay', '50ms']);
    expect(code).toBe(0);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ok: true, status: 200, attempts: 3, error: null});
    expect(a.hits('/flaky/twice')).toBe(3);
  });

  it('status and bytes come from the same, last response: a retry ending on a redirect counts no earlier body', async () => {
    // First attempt: a 503 with a 1000-byte page (or a 200 broken at 4000 bytes); second: a redirect
    // that fails (another scheme, or a loop). The record is the 302's: 0 bytes, not the first body's.
    for (const [path, location] of [['/mix/ftp', 'ftp://x/y'], ['/mix/loop', '/mix/loop'], ['/mix/cut', 'ftp://x/y']] as const) {
      a.route(path, (req, res) => {
        if (a.hits(path) === 1 && path === '/mix/cut') {
          res.writeHead(200, {'content-length': 10000});
          res.write(Buffer.alloc(4000, 'x'), () => req.socket.destroy());
        } else if (a.hits(path) === 1) {
          res.writeHead(503, {'content-length': 1000}).end(Buffer.alloc(1000, 'x'));
        } else {
          res.writeHead(302, {location, 'content-length': 0}).end();
        }
      });
    }
    const {code, recs} = await fetchJson(['/mix/ftp', '/mix/loop', '/mix/cut'].map((p) => `${a.url}${p}`), ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs.sort((x, y) => x.index - y.index).map((r) => [r.status, r.bytes, r.attempts, r.error?.code])).toEqual([
      [302, 0, 2, 'protocol'],
      [302, 0, 2, 'too_many_redirects'],
      [302, 0, 2, 'protocol'],
    ]);
  });

  it('makes exactly one request with --retries 0, and fails', async () => {
    const {code, recs} = await fetchJson([`${a.url}/flaky/once?fail=1`], ['--retries', '0']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 503, attempts: 1, error: {code: 'http_status'}});
    expect(a.hits('/flaky/once')).toBe(1);
  });

  it('gives up after --retries N + 1 attempts', async () => {
    const {code, recs} = await fetchJson([`${a.url}/flaky/always?fail=100&status=500`], ['--retries', '3', '--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 500, attempts: 4, error: {code: 'http_status'}});
    expect(a.hits('/flaky/always')).toBe(4);
  });

  it('doubles the wait from one retry to the next: base·2^(k−1), jittered down to half', async () => {
    // Waits before attempts 2, 3, 4: [100, 200], [200, 400], [400, 800] ms (plus scheduling slack).
    const {code, recs} = await fetchJson([`${a.url}/flaky/backoff?fail=100&status=500`], ['--retries', '3', '--retry-delay', '200ms', '--retry-max-delay', '10s'], {timeoutMs: 10_000});
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({attempts: 4});
    const times = a.requests.filter((r) => r.path === '/flaky/backoff').map((r) => r.time);
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // The gaps are as this (loaded) process read the requests: one read late shortens the gap after
    // it by as much, and the jitter may have drawn the least wait. Three quarters of the least still
    // tells a doubling wait from a fixed one ([100, 200] ms each time) and from none.
    [100, 200, 400].forEach((least, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(least * 0.75);
      expect(gaps[i]).toBeLessThan(least * 2 + 400);
    });
  });

  it('does not retry a 404', async () => {
    const {code, recs} = await fetchJson([`${a.url}/status/404`], ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 404, attempts: 1, error: {code: 'http_status'}});
    expect(a.hits('/status/404')).toBe(1);
  });

  it('waits out a 429 Retry-After in seconds before the retry', async () => {
    const {code, recs} = await fetchJson([`${a.url}/flaky/ra-seconds?fail=1&status=429&retryAfter=1`], ['--retry-delay', '10ms']);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, attempts: 2});
    const times = a.requests.filter((r) => r.path === '/flaky/ra-seconds').map((r) => r.time);
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1000);
  });

  it('waits out a 429 Retry-After given as an HTTP date', async () => {
    const arrivals: number[] = [];
    let until = 0;
    a.route('/ra-date', (_req, res) => {
      arrivals.push(Date.now());
      if (arrivals.length === 1) {
        // Whole seconds only in an HTTP date: name the second boundary at least 1.5 s away.
        until = Math.ceil((Date.now() + 1500) / 1000) * 1000;
        res.writeHead(429, {'retry-after': new Date(until).toUTCString(), 'content-length': 0});
        res.end();
      } else {
        res.writeHead(200, {'content-length': 2});
        res.end('ok');
      }
    });
    const {code, recs} = await fetchJson([`${a.url}/ra-date`], ['--retry-delay', '10ms']);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, attempts: 2});
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1]!).toBeGreaterThanOrEqual(until);
  });

  it('caps a Retry-After by --retry-max-delay', async () => {
    const started = performance.now();
    const {recs} = await fetchJson([`${a.url}/flaky/ra-capped?fail=1&status=503&retryAfter=3600`], ['--retry-max-delay', '200ms']);
    expect(recs[0]).toMatchObject({ok: true, attempts: 2});
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('retries a body reset mid-way as `reset`', async () => {
    const {code, recs, stdout} = await fetchJson([`${a.url}/reset-mid?after=1000`], ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, attempts: 3, error: {code: 'reset'}});
    expect(a.hits('/reset-mid')).toBe(3);
    expect(stdout.toString()).not.toContain('\u0007');
  });

  it('fails a body shorter than its Content-Length as `reset`, writing nothing', async () => {
    const out = await makeTempDir();
    const report = join(await makeTempDir(), 'report.jsonl');
    const list = await writeList([`${a.url}/short?after=500`]);
    const {code, stdout} = await runCli(['--retries', '0', '--report', report, list]);
    expect(code).toBe(1);
    expect(stdout.length).toBe(0);
    const [record] = parseJsonLines(await readFile(report));
    expect(record).toMatchObject({ok: false, error: {code: 'reset'}, file: null});
    const withDir = await runCli(['--retries', '0', '-o', out, list]);
    expect(withDir.code).toBe(1);
    expect(await listFiles(out)).toEqual([]);
  });

  it('a body that runs to the close is whole at a FIN, and a `reset` at a TCP reset: no file, nothing on stdout', async () => {
    const out = await makeTempDir();
    const whole = await runCli(['--json', '-o', out, await writeList([`${a.url}/no-length fin.txt`])]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(await readFile(join(out, 'fin.txt'), 'utf8')).toBe(textBody('no-length'));
    // undici takes a reset during such a body as its end; it used to be saved (and printed) as whole.
    const cut = await runCli(['--json', '--retries', '1', '--retry-delay', '10ms', '-o', out, await writeList([`${a.url}/no-length?rst=1 rst.txt`])]);
    expect(cut.code).toBe(1);
    expect(cut.records()[0]).toMatchObject({ok: false, attempts: 2, file: null, error: {code: 'reset'}});
    expect(await listFiles(out)).toEqual([join(out, 'fin.txt')]);
    const printed = await runCli(['--retries', '0', await writeList([`${a.url}/no-length?rst=1`])]);
    expect(printed.code).toBe(1);
    expect(printed.stdout.length).toBe(0);
  });

  it('does not hold the only slot (-c 1) while waiting to retry', async () => {
    const {code, recs} = await fetchJson([`${a.url}/flaky/slow-retry?fail=1`, `${a.url}/text/fast-one`], ['-c', '1', '--retry-delay', '2s']);
    expect(code).toBe(0);
    expect(recs.map((r) => r.index)).toEqual([2, 1]);
    const flaky = a.requests.filter((r) => r.path === '/flaky/slow-retry');
    const fast = a.requests.find((r) => r.path === '/text/fast-one');
    expect(flaky).toHaveLength(2);
    // The retry waits at least 1 s (2 s × [0.5, 1]); the other URL goes in that gap.
    expect(fast!.time - flaky[0]!.time).toBeLessThan(700);
    expect(flaky[1]!.time - fast!.time).toBeGreaterThan(300);
  });
});

describe('timeouts', () => {
  it('times out a server that never sends headers (--idle-timeout)', async () => {
    const started = performance.now();
    const {code, recs} = await fetchJson([`${a.url}/stall-headers`], ['--idle-timeout', '1s', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: null, attempts: 1, error: {code: 'timeout'}});
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('a head trickling in byte by byte, never idle for long, is not an idle timeout', async () => {
    // 59 bytes 40 ms apart: 2.3 s in all against a 300 ms idle timeout. undici's own headers timeout,
    // which bounds the whole head, failed it.
    const {code, recs} = await fetchJson([`${a.url}/slow-head`], ['--idle-timeout', '300ms', '--retries', '0']);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, status: 200, bytes: 2});
  });

  it('times out a body that stalls mid-way (--idle-timeout)', async () => {
    const {code, recs} = await fetchJson([`${a.url}/stall-body?after=100`], ['--idle-timeout', '1s', '--retries', '1', '--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 200, attempts: 2, error: {code: 'timeout'}});
  });

  it('an --idle-timeout under a second is honoured: bytes 700 ms apart fail at 300 ms', async () => {
    // undici's own body timer ticks every ~500 ms: this body used to arrive whole, ok.
    const {code, recs} = await fetchJson([`${a.url}/lines/4?per=1&every=700`], ['--idle-timeout', '300ms', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 200, error: {code: 'timeout'}});
    expect(recs[0].duration_ms).toBeLessThan(650);
  });

  it('ends a dripping body at --timeout even though bytes keep coming', async () => {
    const started = performance.now();
    const {code, recs} = await fetchJson([`${a.url}/bytes/200?chunk=1&every=100`], ['--timeout', '1s', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, error: {code: 'timeout'}});
    expect(performance.now() - started).toBeLessThan(6000);
  });
});

/**
 * Run `fn` with the port of a server that accepts TCP and never says a word: loopback always completes
 * TCP at once, but an https:// connection there waits for a TLS handshake that never comes.
 */
async function withSilentServer(fn: (port: number) => Promise<void>): Promise<void> {
  const held = new Set<Socket>();
  const silent = createServer((socket) => void held.add(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  try {
    await fn((silent.address() as AddressInfo).port);
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
  }
}

describe('connection failures', () => {
  it('times out a connection that never completes (--connect-timeout, TLS handshake never answered)', async () => {
    await withSilentServer(async (port) => {
      const started = performance.now();
      const {code, recs} = await fetchJson([`https://127.0.0.1:${port}/x`], ['--connect-timeout', '500ms', '--retries', '1', '--retry-delay', '10ms']);
      expect(code).toBe(1);
      expect(recs[0]).toMatchObject({ok: false, status: null, attempts: 2, error: {code: 'timeout'}});
      expect(performance.now() - started).toBeLessThan(6000);
    });
  });

  it('--connect-timeout fires on time, not on undici\'s half-second tick', async () => {
    await withSilentServer(async (port) => {
      const {code, recs} = await fetchJson([`https://127.0.0.1:${port}/x`], ['--connect-timeout', '300ms', '--retries', '0']);
      expect(code).toBe(1);
      expect(recs[0]).toMatchObject({ok: false, status: null, attempts: 1, error: {code: 'timeout'}});
      expect(recs[0].error.message).toContain('timeout: 300ms');
      // It fired after about a second with undici's own timer.
      expect(recs[0].duration_ms).toBeLessThan(750);
    });
  });

  it('retries a refused connection as `connect`', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const {port} = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const {code, recs} = await fetchJson([`http://127.0.0.1:${port}/x`], ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    // No connection, so no request was sent: final_url is null (the contract's "null if none was sent").
    expect(recs[0]).toMatchObject({ok: false, status: null, final_url: null, attempts: 3, error: {code: 'connect'}});
  });

  it('fails an unknown host as `dns`', async () => {
    const {code, recs} = await fetchJson(['http://no-such-host.invalid/x'], ['--retries', '0', '--connect-timeout', '5s']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: null, error: {code: 'dns'}});
  });

  it('takes Content-Length bytes from a server that sends more, and carries on', async () => {
    const {code, recs} = await fetchJson([`${a.url}/long?cl=10&total=100`, `${a.url}/text/after-long`], ['-c', '1']);
    expect(code).toBe(0);
    expect(recs.map((r) => r.bytes).sort((x, y) => x - y)).toEqual([10, textBody('after-long').length]);
  });
});

describe('redirects', () => {
  it('a Location with raw UTF-8 bytes is followed to those bytes, not to their Latin-1 mojibake', async () => {
    const {code, recs} = await fetchJson([`${a.url}/redirect-raw-utf8`], ['--retries', '0']);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, status: 200, final_url: `${a.url}/text/%C3%A9`, bytes: Buffer.byteLength(textBody('é'))});
  });

  it('follows a 3-hop redirect and reports the final URL', async () => {
    const {code, recs} = await fetchJson([`${a.url}/redirect/3`]);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, status: 200, attempts: 1, final_url: `${a.url}/text/final`, bytes: textBody('final').length});
  });

  it('fails a redirect loop and a chain too long as `too_many_redirects`', async () => {
    const {code, recs} = await fetchJson([`${a.url}/loop`, `${a.url}/loop-a`, `${a.url}/redirect/5`], ['--max-redirects', '3', '-c', '1']);
    expect(code).toBe(1);
    for (const record of recs) expect(record).toMatchObject({ok: false, attempts: 1, error: {code: 'too_many_redirects'}});
    // A chain of 5 with a limit of 3: the first request and 3 hops, no more.
    expect(a.requests.filter((r) => r.path.startsWith('/redirect/'))).toHaveLength(4);
  });

  it('a loop back through a Location with credentials is caught at its first revisit (they are never sent)', async () => {
    const port = new URL(a.url).port;
    a.route('/cred-loop/a', (_req, res) => void res.writeHead(302, {location: '/cred-loop/b'}).end());
    a.route('/cred-loop/b', (_req, res) => void res.writeHead(302, {location: `http://u:p@127.0.0.1:${port}/cred-loop/a`}).end());
    const {code, recs} = await fetchJson([`${a.url}/cred-loop/a`]);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, error: {code: 'too_many_redirects', message: `redirect loop: ${a.url}/cred-loop/a was already visited`}});
    expect(a.requests.map((r) => r.path)).toEqual(['/cred-loop/a', '/cred-loop/b']);
  });

  it('an invalid Location in raw UTF-8 is shown as the server wrote it, not byte by byte', async () => {
    a.route('/bad-utf8-location', (req) => {
      req.socket.write(Buffer.concat([Buffer.from('HTTP/1.1 302 Found\r\nLocation: '), Buffer.from('http://exämple:99999/café'), Buffer.from('\r\nContent-Length: 0\r\n\r\n')]));
    });
    const {recs} = await fetchJson([`${a.url}/bad-utf8-location`]);
    expect(recs[0]).toMatchObject({ok: false, error: {code: 'protocol', message: 'redirect to an invalid Location "http://exämple:99999/café"'}});
  });

  it('takes the 3xx itself as the answer with --max-redirects 0', async () => {
    const {code, recs} = await fetchJson([`${a.url}/redirect/1`], ['--max-redirects', '0']);
    expect(code).toBe(0);
    expect(recs[0]).toMatchObject({ok: true, status: 302, final_url: `${a.url}/redirect/1`});
    expect(a.hits('/text/final')).toBe(0);
  });

  it('fails a redirect to ftp: as `protocol`', async () => {
    const {code, recs} = await fetchJson([`${a.url}/redirect-scheme?to=ftp://example.test/x`]);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, attempts: 1, error: {code: 'protocol'}});
  });

  it('keeps the user headers on the same origin but strips them on a hop to another origin', async () => {
    const target = `${b.url}/echo-headers`;
    const {code} = await fetchJson(
      [`${a.url}/redirect/1?to=/echo-headers`, `${a.url}/redirect-abs?to=${encodeURIComponent(target)}`],
      ['-H', 'X-Api-Key: k', '-H', 'Authorization: Bearer t', '-H', 'Accept-Language: fr', '-c', '1'],
    );
    expect(code).toBe(0);
    const home = a.requests.find((r) => r.path === '/echo-headers')!;
    expect(home.headers).toMatchObject({'x-api-key': 'k', authorization: 'Bearer t'});
    const away = b.requests.find((r) => r.path === '/echo-headers')!;
    expect(away.headers['x-api-key']).toBeUndefined();
    expect(away.headers['authorization']).toBeUndefined();
    expect(away.headers['user-agent']).toMatch(/^fetchall\//);
    expect(away.headers['accept']).toBe('*/*');
    expect(away.headers['accept-language']).toBe('fr');
  });

  it('a server that closes each connection after its answer (no Connection: close): every URL and hop ok at -c 1, each request read once', async () => {
    // Every request head the server reads, one written on a connection it has just ended included.
    let read = 0;
    const closing = createServer((socket) => {
      let answered = false;
      socket.on('data', (head: Buffer) => {
        read += head.toString('latin1').split('GET ').length - 1;
        if (answered) return;
        answered = true;
        const path = head.toString('latin1').split(' ')[1] ?? '/';
        const answer = path.startsWith('/r') ? `HTTP/1.1 302 Found\r\nLocation: /final${path}\r\nContent-Length: 0\r\n\r\n` : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
        socket.end(answer);
      });
      socket.on('error', () => {});
    });
    closing.listen(0, '127.0.0.1');
    await once(closing, 'listening');
    try {
      const port = (closing.address() as AddressInfo).port;
      const urls = [...Array.from({length: 20}, (_, i) => `http://127.0.0.1:${port}/p${i}`), `http://127.0.0.1:${port}/r1`, `http://127.0.0.1:${port}/r2`];
      const {code, recs} = await fetchJson(urls, ['-c', '1', '--retries', '0']);
      expect(code, JSON.stringify(recs.filter((r) => !r.ok))).toBe(0);
      expect(recs.every((r) => r.ok && r.attempts === 1)).toBe(true);
      // 22 URLs and 2 hops. With one connection per request in flight, the next request went onto the
      // connection the server had just ended (undici reuses it before the close is seen): read twice.
      expect(read).toBeLessThanOrEqual(24 + 2);
    } finally {
      closing.close();
    }
  });

  it('an error status whose page stalls is http_status with its status, whether --timeout or --idle-timeout cuts the page', async () => {
    a.route('/stall-page/503', (_req, res) => {
      res.writeHead(503, {'content-length': 100});
      res.write('0123456789');
    });
    for (const flags of [['--timeout', '600ms', '--idle-timeout', '0'], ['--idle-timeout', '300ms']]) {
      const {code, recs} = await fetchJson([`${a.url}/stall-page/503`], ['--retries', '0', ...flags]);
      expect(code).toBe(1);
      expect(recs[0], flags.join(' ')).toMatchObject({ok: false, status: 503, error: {code: 'http_status'}});
    }
  });

  it('white space after a Content-Length value (RFC 9112 allows it) is no length mismatch; a short body still is', async () => {
    const heads: Record<string, [string, boolean]> = {
      '/cl-space/trail': ['Content-Length: 5 \r\n\r\nhello', false],
      '/cl-space/two': ['Content-Length:  5  \r\n\r\nhello', false],
      '/cl-space/close': ['Content-Length: 5 \r\nConnection: close\r\n\r\nhello', true],
      '/cl-space/zero': ['Content-Length: 0 \r\n\r\n', false],
      '/cl-space/short': ['Content-Length: 9 \r\nConnection: close\r\n\r\nhello', true],
    };
    for (const [path, [rest, close]] of Object.entries(heads)) {
      a.route(path, (req) => {
        const answer = `HTTP/1.1 200 OK\r\n${rest}`;
        if (close) req.socket.end(answer, 'latin1');
        else req.socket.write(answer, 'latin1');
      });
    }
    const {code, recs} = await fetchJson(Object.keys(heads).map((p) => `${a.url}${p}`), ['--ordered', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs.map((r) => [r.ok, r.bytes, r.error?.code ?? null])).toEqual([[true, 5, null], [true, 5, null], [true, 5, null], [true, 0, null], [false, 5, 'reset']]);
    const out = await makeTempDir();
    const saved = await runCli(['-o', out, await writeList([`${a.url}/cl-space/trail  t.txt`])]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(await readFile(join(out, 't.txt'), 'utf8')).toBe('hello');
  });

  it('a Location sent twice is followed: the first that is not empty', async () => {
    for (const [path, locations] of [['/twice/same', ['/text/t1', '/text/t1']], ['/twice/empty-first', ['', '/text/t2']], ['/twice/differ', ['/text/t3', '/text/other']]] as const) {
      // Written past node:http (which would fold the two into one line), on a connection then closed:
      // the server's own response on it never ends, and a request kept alive behind it would wait.
      a.route(path, (req) => void req.socket.end(`HTTP/1.1 302 Found\r\n${locations.map((l) => `Location: ${l}\r\n`).join('')}Content-Length: 13\r\nConnection: close\r\n\r\nredirect page`, 'latin1'));
    }
    const {code, recs} = await fetchJson(['/twice/same', '/twice/empty-first', '/twice/differ'].map((p) => `${a.url}${p}`), ['--ordered']);
    expect(code).toBe(0);
    expect(recs.map((r) => [r.status, r.final_url])).toEqual([[200, `${a.url}/text/t1`], [200, `${a.url}/text/t2`], [200, `${a.url}/text/t3`]]);
  });

  it('opens at most one more connection to a host than -c (or --per-host) requests can be in flight to it', async () => {
    // One more than can be in flight: a request never waits for the connection whose response just ended.
    for (const [args, most] of [[['-c', '1'], 2], [['-c', '4'], 5], [['-c', '8', '--per-host', '2'], 3]] as const) {
      let opened = 0;
      const counting = createHttpServer((_req, res) => res.end('ok'));
      counting.keepAliveTimeout = 10_000;
      counting.on('connection', () => opened++);
      counting.listen(0, '127.0.0.1');
      await once(counting, 'listening');
      try {
        const port = (counting.address() as AddressInfo).port;
        const {code, recs} = await fetchJson(Array.from({length: 60}, (_, i) => `http://127.0.0.1:${port}/c${i}`), [...args]);
        expect(code).toBe(0);
        expect(recs).toHaveLength(60);
        // undici alone opened two per request in flight (8 at -c 4).
        expect(opened, args.join(' ')).toBeLessThanOrEqual(most);
      } finally {
        counting.closeAllConnections();
        counting.close();
      }
    }
  });

  it('keeps no idle connection per host over a list of many hosts: within half the descriptor limit, every URL ok', async () => {
    const servers = await Promise.all(Array.from({length: 400}, async () => {
      const server = createHttpServer((_req, res) => res.end('ok'));
      server.keepAliveTimeout = 30_000;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }));
    let open = 0;
    let most = 0;
    for (const server of servers) {
      server.on('connection', (socket) => {
        most = Math.max(most, ++open);
        socket.on('close', () => open--);
      });
    }
    try {
      const urls = Array.from({length: 800}, (_, i) => `http://127.0.0.1:${(servers[i % servers.length]!.address() as AddressInfo).port}/h${i}`);
      const list = await writeList(urls);
      // 200 descriptors: a budget of 100 connections. undici alone kept each host's connection for its
      // keep-alive time: about 400 open at once, and URLs failed for want of descriptors.
      const child = spawn('sh', ['-c', 'ulimit -n 200 && exec "$0" "$@"', process.execPath, BIN_PATH, '--json', '-c', '4', list], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}});
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = await once(child, 'close') as [number | null];
      expect(code, stderr).toBe(0);
      expect(parseJsonLines(stdout).filter((r) => r.ok)).toHaveLength(800);
      // The server counts a few more than the budget: the newest connection is open before idle ones
      // are closed, and their close reaches the server a moment later.
      expect(most).toBeLessThanOrEqual(100 + 10);
    } finally {
      for (const server of servers) {
        server.closeAllConnections();
        server.close();
      }
    }
  });

  it('a request on a kept-alive connection the server closes unanswered goes again on another, not a failed attempt, through the --rate gate', async () => {
    for (const [how, rate] of [['fin', undefined], ['rst', undefined], ['fin', '4']] as const) {
      let fresh = 0;
      let dropped = 0;
      const arrivals: number[] = [];
      // Answers the first request on each connection and keeps it alive; closes it at the next one.
      const dropping = createServer((socket) => {
        let served = 0;
        socket.on('data', () => {
          arrivals.push(performance.now());
          if (served++ === 0) {
            fresh++;
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
            return;
          }
          dropped++;
          if (how === 'fin') socket.end();
          else socket.resetAndDestroy();
        });
        socket.on('error', () => {});
      });
      dropping.listen(0, '127.0.0.1');
      await once(dropping, 'listening');
      try {
        const port = (dropping.address() as AddressInfo).port;
        const count = rate === undefined ? 6 : 4;
        const {code, recs} = await fetchJson(Array.from({length: count}, (_, i) => `http://127.0.0.1:${port}/k${i}`), ['-c', '1', '--retries', '0', ...(rate === undefined ? [] : ['--rate', rate])]);
        expect(code, how + JSON.stringify(recs.filter((r) => !r.ok))).toBe(0);
        expect(recs.map((r) => r.attempts)).toEqual(Array(count).fill(1));
        // Each URL answered once, on a new connection; at least one went first on a reused one and was dropped.
        expect(fresh, how).toBe(count);
        expect(dropped, how).toBeGreaterThan(0);
        // Every request sent counts for --rate, one sent again too: 250 ms apart. The arrival times are
        // this (loaded) process's reads: one read late shortens the gap after it by as much (202 ms was
        // seen after a 297), so each gap is held to half of 1/R (a resend past the gate comes a few ms
        // after the drop, as without --rate) and the whole run to the full rate.
        if (rate !== undefined) {
          for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!, how).toBeGreaterThan(125);
          expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual((arrivals.length - 1) * 250 * 0.9);
        }
      } finally {
        dropping.close();
      }
    }
  });

  it('skips an interim 100 Continue nobody asked for, as curl does: whole, dripped byte by byte, twice with a 103, on a reused connection', async () => {
    let connections = 0;
    const interim = createServer((socket) => {
      connections++;
      socket.on('error', () => {});
      let pending = '';
      socket.on('data', async (data) => {
        pending += data.toString('latin1');
        while (pending.includes('\r\n\r\n')) {
          const head = pending.slice(0, pending.indexOf('\r\n\r\n'));
          pending = pending.slice(head.length + 4);
          const path = head.split(' ')[1]!;
          const body = `body of ${path}`;
          let answer = path.startsWith('/twice') ? 'HTTP/1.1 100 Continue\r\nX-Note: a\r\n\r\nHTTP/1.1 100 \r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n' : 'HTTP/1.1 100 Continue\r\n\r\n';
          answer += `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          if (!path.startsWith('/drip')) {
            socket.write(answer);
            continue;
          }
          for (const char of answer) {
            socket.write(char);
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      });
    });
    interim.listen(0, '127.0.0.1');
    await once(interim, 'listening');
    try {
      const origin = `http://127.0.0.1:${(interim.address() as AddressInfo).port}`;
      const paths = ['/plain', '/twice', '/drip', '/twice-again', '/plain-again'];
      const dir = await makeTempDir();
      const {code, recs} = await fetchJson(paths.map((p) => origin + p), ['-c', '1', '--retries', '0', '-o', dir]);
      expect(code, JSON.stringify(recs.filter((r) => !r.ok))).toBe(0);
      expect(recs.map((r) => [r.status, r.bytes, r.attempts])).toEqual(paths.map((p) => [200, `body of ${p}`.length, 1]));
      for (const p of paths) expect(await readFile(join(dir, p.slice(1)), 'utf8')).toBe(`body of ${p}`);
      // Connections were reused (undici may open a second while the first finishes a response): the
      // interim heads left nothing behind on them to misparse.
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      interim.close();
    }
  });

  it('response starts: interim heads in any order skipped, a split reason phrase whole after them, a malformed status line refused at once', async () => {
    // [answer, then pieces sent after a pause of the server's own]; the connection is left open.
    const answers: Record<string, string[]> = {
      '/103-then-100': ['HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nAAAAA'],
      '/102-100-103': ['HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
      '/103-split-404': ['HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 404 Not F', 'ound\r\nContent-Length: 0\r\n\r\n'],
      '/crlf-split-404': ['\r\nHTTP/1.1 404 Not F', 'ound\r\nContent-Length: 0\r\n\r\n'],
      '/bare-cr': ['HTTP/1.1 200 OK\rContent-Length: 5\r\r12345'],
      '/bad-code': ['HTTP/1.1 2x0 OK'],
      '/lf-only-100': ['HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 5\n\n12345'],
      '/bad-103-line': ['HTTP/1.1 103 Early\r\nfoo\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'],
    };
    const raw = createServer((socket) => {
      socket.on('error', () => {});
      socket.setNoDelay(true);
      socket.once('data', async (data) => {
        const [first, ...later] = answers[data.toString('latin1').split(' ')[1]!] ?? ['HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'];
        socket.write(first!);
        for (const piece of later) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          socket.write(piece);
        }
      });
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    try {
      const origin = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
      const started = performance.now();
      const {recs} = await fetchJson(Object.keys(answers).map((p) => origin + p), ['--ordered', '--idle-timeout', '10s', '--retry-delay', '10ms']);
      expect(recs.map((r) => [new URL(r.url).pathname, r.status, r.error?.code ?? null, r.attempts])).toEqual([
        ['/103-then-100', 200, null, 1],
        ['/102-100-103', 200, null, 1],
        ['/103-split-404', 404, 'http_status', 1],
        ['/crlf-split-404', 404, 'http_status', 1],
        ['/bare-cr', null, 'protocol', 1],
        ['/bad-code', null, 'protocol', 1],
        ['/lf-only-100', null, 'protocol', 1],
        // A header line without a colon is refused in an interim head as in a final one.
        ['/bad-103-line', null, 'protocol', 1],
      ]);
      expect(recs[2].error.message).toBe('HTTP 404 Not Found');
      expect(recs[3].error.message).toBe('HTTP 404 Not Found');
      // Refused at once, not held until the idle timeout (10 s) and then retried.
      expect(performance.now() - started).toBeLessThan(8000);
    } finally {
      raw.close();
    }
  });

  it('refuses a Transfer-Encoding it did not undo as protocol, saving nothing; takes chunked however it is spaced', async () => {
    const chunked = (body: string): string => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const answers: Record<string, string> = {
      '/comma': `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nConnection: close\r\n\r\n${chunked('comma body')}`,
      '/gzip': `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunked('not really gzip')}`,
      '/two-lines': `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('two lines')}`,
      '/leading-comma': `HTTP/1.1 200 OK\r\nTransfer-Encoding: , Chunked\r\n\r\n${chunked('leading comma')}`,
      '/plain': `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('plain')}`,
      '/identity': `HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nidentity body`,
      '/error-page': `HTTP/1.1 500 Oops\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunked('not really gzip')}`,
      '/redirect': `HTTP/1.1 302 Found\r\nLocation: /plain\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunked('moved')}`,
    };
    const raw = createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', (data) => {
        const path = data.toString('latin1').split(' ')[1]!;
        socket.end(answers[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      });
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    try {
      const origin = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
      const dir = await makeTempDir();
      const {code, recs} = await fetchJson(Object.keys(answers).map((p) => origin + p), ['--retries', '0', '--idle-timeout', '5s', '--ordered', '-o', dir]);
      expect(code).toBe(1);
      expect(recs.map((r) => [new URL(r.url).pathname, r.ok, r.error?.code ?? null])).toEqual([
        ['/comma', false, 'protocol'],
        ['/gzip', false, 'protocol'],
        ['/two-lines', false, 'protocol'],
        ['/leading-comma', true, null],
        ['/plain', true, null],
        ['/identity', true, null],
        // Bodies never kept: the error is the status, the redirect is followed.
        ['/error-page', false, 'http_status'],
        ['/redirect', true, null],
      ]);
      expect(recs[1].error.message).toBe('unsupported Transfer-Encoding "gzip, chunked" (only chunked is decoded)');
      expect((await listFiles(dir)).map((f) => f.slice(dir.length + 1)).sort()).toEqual(['identity', 'leading-comma', 'plain', 'redirect']);
      expect(await readFile(join(dir, 'leading-comma'), 'utf8')).toBe('leading comma');
    } finally {
      raw.close();
    }
  });

  it('names the whole reason phrase when the status line comes in pieces, and cuts a long one', async () => {
    const raw = createServer((socket) => {
      socket.on('error', () => {});
      socket.setNoDelay(true);
      socket.on('data', (data) => {
        const path = data.toString('latin1').split(' ')[1]!;
        const rest = 'Content-Length: 4\r\nConnection: close\r\n\r\ngone';
        if (path === '/long') {
          socket.end(`HTTP/1.1 404 ${'x'.repeat(20_000)}\r\n${rest}`);
          return;
        }
        // The server's own pause between two writes, so the client surely reads the line in two pieces.
        socket.write('HTTP/1.1 404 Not F');
        setTimeout(() => socket.end(`ound\r\n${rest}`), 100);
      });
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    try {
      const origin = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
      const {code, recs, stderr} = await fetchJson([`${origin}/split`, `${origin}/long`], ['--retries', '0', '--ordered']);
      expect(code).toBe(1);
      expect(recs[0].error).toEqual({code: 'http_status', message: 'HTTP 404 Not Found'});
      expect(recs[1].error).toEqual({code: 'http_status', message: `HTTP 404 ${'x'.repeat(100)}…`});
      expect(stderr).toContain('— HTTP 404 Not Found (http_status)');
      expect(Math.max(...stderr.split('\n').map((line) => line.length))).toBeLessThan(400);
    } finally {
      raw.close();
    }
  });

  it('the user\'s Accept-Encoding stays home; --compressed\'s own crosses with the hop', async () => {
    const target = `${b.url}/echo-headers`;
    const hop = `${a.url}/redirect-abs?to=${encodeURIComponent(target)}`;
    expect((await fetchJson([hop], ['-H', 'Accept-Encoding: gzip'])).code).toBe(0);
    expect(b.requests.at(-1)!.headers['accept-encoding']).toBeUndefined();
    expect((await fetchJson([hop], ['--compressed'])).code).toBe(0);
    expect(b.requests.at(-1)!.headers['accept-encoding']).toBe('gzip, deflate, br');
  });

  it('an empty query is sent (`/x?` is not `/x`), an empty fragment is not in final_url, a tab inside a Location is refused', async () => {
    const {recs} = await fetchJson([`${a.url}/text/empty-query?`, `${a.url}/text/empty-fragment#`, `${a.url}/redirect/1?to=/text/tab%09bed`, `${a.url}/redirect/1?to=/text/tab%20%09bed2`], ['--retries', '0']);
    const byIndex = new Map(recs.map((r) => [r.index, r]));
    // The request went out as `/text/empty-query` while final_url said `…?`.
    expect(a.requests.find((r) => r.path === '/text/empty-query')!.target).toBe('/text/empty-query?');
    expect(byIndex.get(1)).toMatchObject({ok: true, final_url: `${a.url}/text/empty-query?`});
    expect(byIndex.get(2)).toMatchObject({ok: true, final_url: `${a.url}/text/empty-fragment`});
    // The URL parser deletes the tab: the hop went to /text/tabbed, which the server never named.
    expect(byIndex.get(3)).toMatchObject({ok: false, error: {code: 'protocol'}});
    expect(byIndex.get(3).error.message).toMatch(/Location .*holds a tab/);
    expect(a.hits('/text/tabbed')).toBe(0);
    expect(byIndex.get(4)).toMatchObject({ok: false, error: {code: 'protocol'}});
  });

  it('a redirect back to the entry\'s own URL is a loop at once, a fragment on the entry or not', async () => {
    const {recs} = await fetchJson([`${a.url}/loop?frag=1#f`], ['--retries', '0']);
    expect(recs[0]).toMatchObject({ok: false, error: {code: 'too_many_redirects'}});
    expect(a.hits('/loop')).toBe(1);
  });

  it('-H Proxy-Authorization goes to the proxy, not as a request header undici refuses', async () => {
    const url = `${a.url}/text/proxy-auth`;
    const {code, recs} = await fetchJson([url], ['--proxy', proxy.url, '-H', 'Proxy-Authorization: Basic dTpw']);
    expect(code, JSON.stringify(recs)).toBe(0);
    expect(proxy.log.find((entry) => entry.target === url)!.headers['proxy-authorization']).toBe('Basic dTpw');
    const viaEnv = await fetchJson([`${a.url}/text/proxy-auth-env`], ['-H', 'Proxy-Authorization: Basic dTpw'], {env: {HTTP_PROXY: proxy.url}});
    expect(viaEnv.code).toBe(0);
  });

  it('never sends URL credentials to another origin', async () => {
    const target = `${b.url}/echo-headers?creds=1`;
    const origin = new URL(a.url);
    const {code, recs, stderr} = await fetchJson([`http://u:p@${origin.host}/redirect-abs?to=${encodeURIComponent(target)}`]);
    expect(code, stderr).toBe(0);
    const first = a.requests.find((r) => r.path === '/redirect-abs' && r.headers.authorization !== undefined);
    expect(first?.headers.authorization).toBe('Basic ' + Buffer.from('u:p').toString('base64'));
    const away = b.requests.find((r) => r.url === '/echo-headers?creds=1')!;
    expect(away.headers.authorization).toBeUndefined();
    expect(JSON.stringify(away.headers)).not.toContain('dTpw');
    expect(recs[0].final_url).toBe(target);
  });
});

describe('limits and encodings', () => {
  it('fails a body over --max-size as `too_large`, with or without Content-Length', async () => {
    const {code, recs} = await fetchJson([`${a.url}/bytes/100000`, `${a.url}/lines/100000`], ['--max-size', '10kB']);
    expect(code).toBe(1);
    for (const record of recs) expect(record).toMatchObject({ok: false, attempts: 1, error: {code: 'too_large'}});
  });

  it('--compressed: an answer with no body is empty whatever coding it names (204, 304, 200 and 302 with length 0)', async () => {
    for (const [path, status, coding] of [['/ce/204', 204, 'gzip'], ['/ce/304', 304, 'gzip'], ['/ce/200', 200, 'br'], ['/ce/200d', 200, 'deflate'], ['/ce/302', 302, 'gzip']] as const) {
      a.route(path, (_req, res) => {
        res.writeHead(status, {'content-encoding': coding, ...(status === 204 || status === 304 ? {} : {'content-length': 0}), ...(status === 302 ? {location: '/text/x'} : {})});
        res.end();
      });
    }
    const {code, recs} = await fetchJson(['/ce/204', '/ce/304', '/ce/200', '/ce/200d', '/ce/302'].map((p) => `${a.url}${p}`), ['--compressed', '--max-redirects', '0']);
    expect(code).toBe(0);
    expect(recs.map((r) => [r.status, r.ok, r.bytes, r.error])).toEqual([[204, true, 0, null], [304, true, 0, null], [200, true, 0, null], [200, true, 0, null], [302, true, 0, null]]);
  });

  it('--compressed: bytes after the end of a compressed body are `protocol` in every coding; gzip\'s NUL padding is not', async () => {
    const body = Buffer.from('decoded body\n'.repeat(200));
    const cases: [string, string, Buffer][] = [
      ['/junk/gzip', 'gzip', Buffer.concat([gzipSync(body), Buffer.from('JUNK')])],
      ['/junk/br', 'br', Buffer.concat([brotliCompressSync(body), Buffer.from('JUNK')])],
      ['/junk/deflate', 'deflate', Buffer.concat([deflateSync(body), Buffer.from('JUNK')])],
      ['/junk/raw', 'deflate', Buffer.concat([deflateRawSync(body), Buffer.from('JUNK')])],
      // A long tail, written on after the decoder stopped reading: still refused, and no stall.
      ['/junk/br-long', 'br', Buffer.concat([brotliCompressSync(body), randomBytes(300_000)])],
      ['/junk/inner', 'br, gzip', gzipSync(Buffer.concat([brotliCompressSync(body), Buffer.from('JUNK')]))],
      // zlib's gunzip stops at NUL padding and drops what follows it unseen: junk, another member, or
      // padding past the 64 KiB allowed after the end; in one write, in a later one, in an inner layer.
      ['/junk/gzip-nul-junk', 'gzip', Buffer.concat([gzipSync(body), Buffer.alloc(8), Buffer.from('JUNK')])],
      ['/junk/gzip-nul-member', 'gzip', Buffer.concat([gzipSync(body), Buffer.alloc(8), gzipSync(body)])],
      ['/junk/gzip-nul-later', 'gzip', Buffer.concat([gzipSync(body), Buffer.alloc(8), Buffer.from('JUNK')])],
      ['/junk/gzip-nul-member-later', 'gzip', Buffer.concat([gzipSync(Buffer.alloc(5000, 0x61)), Buffer.alloc(1), gzipSync(Buffer.from('EXTRA'))])],
      ['/junk/gzip-nul-70k', 'gzip', Buffer.concat([gzipSync(body), Buffer.alloc(70_000)])],
      ['/junk/inner-gzip-nul-junk', 'gzip, br', brotliCompressSync(Buffer.concat([gzipSync(body), Buffer.alloc(8), Buffer.from('JUNK')]))],
      ['/junk/gzip-nul', 'gzip', Buffer.concat([gzipSync(body), Buffer.alloc(8)])],
    ];
    for (const [path, coding, wire] of cases) {
      a.route(path, (_req, res) => {
        res.writeHead(200, {'content-encoding': coding, 'content-length': wire.length});
        if (!path.endsWith('-later')) return void res.end(wire);
        if (path.includes('member')) {
          // In 2-byte writes 2 ms apart: the member comes in pieces after the padding was read.
          let at = 0;
          const drip = setInterval(() => {
            res.write(wire.subarray(at, (at += 2)));
            if (at >= wire.length) {
              clearInterval(drip);
              res.end();
            }
          }, 2);
          res.on('close', () => clearInterval(drip));
          return;
        }
        // The junk in a write of its own, after the padding has been read.
        res.write(wire.subarray(0, -4));
        setTimeout(() => res.end(wire.subarray(-4)), 100);
      });
    }
    const out = await makeTempDir();
    const {code, recs} = await fetchJson(cases.map(([path]) => `${a.url}${path}`), ['--compressed', '--ordered', '-o', out]);
    expect(code).toBe(1);
    expect(recs.map((r) => [r.url.slice(a.url.length), r.ok, r.attempts, r.error?.code ?? null])).toEqual([
      ...cases.slice(0, -1).map(([path]) => [path, false, 1, 'protocol']),
      ['/junk/gzip-nul', true, 1, null],
    ]);
    // gzip reads on past its member's end, so junk there is a header error of the next "member": named
    // for what it is, without a count (zlib does not say where the member ended).
    expect(recs[0]!.error.message).toMatch(/^(\d+ )?bytes after the end of the compressed body/);
    expect(recs[1]!.error.message).toBe('4 bytes after the end of the compressed body');
    expect(recs.find((r) => r.url.endsWith('/gzip-nul-junk'))!.error.message).toBe('12 bytes after the end of the compressed body');
    expect(recs.find((r) => r.url.endsWith('/gzip-nul-70k'))!.error.message).toBe('70000 bytes after the end of the compressed body');
    expect(recs.find((r) => r.url.endsWith('/gzip-nul-member-later'))!.error.message).toMatch(/^(\d+ )?bytes after the end of the compressed body/);
    expect(await listFiles(out)).toEqual([join(out, 'gzip-nul')]);
  });

  it('--compressed: bytes that never stop coming after the end of a compressed body fail at once, a page\'s too', async () => {
    const streams: Record<string, [number, string, Buffer, number?]> = {
      '/endless/deflate': [200, 'deflate', deflateSync(Buffer.alloc(1000, 0x61))],
      '/endless/br-404': [404, 'br', brotliCompressSync(Buffer.alloc(1000, 0x61))],
      // Gunzip reads NUL padding on and on: bounded all the same, a page's too.
      '/endless/gzip-nul': [200, 'gzip', gzipSync(Buffer.alloc(1000, 0x61)), 0],
      '/endless/gzip-nul-500': [500, 'gzip', gzipSync(Buffer.alloc(1000, 0x61)), 0],
    };
    for (const [path, [status, coding, stream, fill = 0x41]] of Object.entries(streams)) {
      a.route(path, (_req, res) => {
        res.writeHead(status, {'content-encoding': coding});
        res.write(stream);
        // Junk until the client goes (bounded: 20 s at most).
        const junk = setInterval(() => res.write(Buffer.alloc(16_384, fill)), 5);
        const stop = (): void => clearInterval(junk);
        res.on('close', stop);
        setTimeout(() => {
          stop();
          res.end();
        }, 20_000).unref();
      });
    }
    const started = performance.now();
    const {code, recs} = await fetchJson(Object.keys(streams).map((p) => `${a.url}${p}`), ['--compressed', '--ordered', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs.map((r) => [r.status, r.error?.code])).toEqual([[200, 'protocol'], [404, 'http_status'], [200, 'protocol'], [500, 'http_status']]);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('--compressed: bytes that trickle in after the end of a compressed body fail within seconds, a page\'s too', async () => {
    for (const [path, status] of [['/trickle/200', 200], ['/trickle/500', 500]] as const) {
      a.route(path, (_req, res) => {
        res.writeHead(status, {'content-encoding': 'deflate'});
        res.write(deflateSync(Buffer.alloc(2400, 0x61)));
        // A byte every 200 ms until the client goes (bounded: 20 s at most).
        const drip = setInterval(() => res.write('\0'), 200);
        res.on('close', () => clearInterval(drip));
        setTimeout(() => {
          clearInterval(drip);
          res.end();
        }, 20_000).unref();
      });
    }
    const started = performance.now();
    const {code, recs} = await fetchJson([`${a.url}/trickle/200`, `${a.url}/trickle/500`], ['--compressed', '--ordered', '--retries', '0']);
    expect(code).toBe(1);
    expect(recs.map((r) => [r.status, r.error?.code])).toEqual([[200, 'protocol'], [500, 'http_status']]);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('--compressed: gzip\'s NUL padding that pauses 3 s, or comes slowly (30 KB at 10 KB/s), is still a whole body', async () => {
    const body = Buffer.from('hello world '.repeat(200));
    const member = gzipSync(body);
    a.route('/pad/pause', (req) => {
      req.socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${member.length + 100}\r\n\r\n`);
      req.socket.write(Buffer.concat([member, Buffer.alloc(50)]));
      setTimeout(() => req.socket.write(Buffer.alloc(50)), 3000);
    });
    a.route('/pad/slow', (req) => {
      req.socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${member.length + 30_000}\r\n\r\n`);
      req.socket.write(Buffer.concat([member, Buffer.alloc(1000)]));
      let left = 29;
      const drip = setInterval(() => {
        req.socket.write(Buffer.alloc(1000));
        if (--left === 0) clearInterval(drip);
      }, 100);
      req.socket.on('close', () => clearInterval(drip));
    });
    const {code, recs, stderr} = await fetchJson([`${a.url}/pad/pause`, `${a.url}/pad/slow`], ['--compressed', '--ordered', '--retries', '0']);
    expect(code, stderr).toBe(0);
    expect(recs.map((r) => [r.ok, r.bytes])).toEqual([[true, body.length], [true, body.length]]);
  });

  it('--compressed: an inner gzip layer\'s NUL padding, then the outer layer\'s last bytes a moment later, is a whole body', async () => {
    const body = Buffer.from('hello world '.repeat(200));
    const padded = Buffer.concat([gzipSync(body), Buffer.alloc(20)]);
    const cases: [string, string, Buffer, number][] = [
      ['/padded-inner/br', 'gzip, br', brotliCompressSync(padded), 4],
      ['/padded-inner/deflate', 'gzip, deflate', deflateSync(padded), 1],
    ];
    for (const [path, coding, wire, held] of cases) {
      a.route(path, (req) => {
        req.socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${wire.length}\r\n\r\n`);
        req.socket.write(wire.subarray(0, -held));
        setTimeout(() => req.socket.write(wire.subarray(-held)), 100);
      });
    }
    const {code, recs, stderr} = await fetchJson(cases.map(([path]) => `${a.url}${path}`), ['--compressed', '--ordered', '--retries', '0']);
    expect(code, stderr).toBe(0);
    expect(recs.map((r) => [r.ok, r.bytes])).toEqual([[true, body.length], [true, body.length]]);
  });

  it('a 304 writes no file and leaves the one in place; a 204 or 304 is no body too large, whatever its Content-Length', async () => {
    for (const status of [204, 304]) {
      a.route(`/empty/${status}`, (req, res) => {
        // Node would drop the length on these statuses: the head is written raw.
        req.socket.write(`HTTP/1.1 ${status} X\r\nETag: "v1"\r\nContent-Length: 5000000\r\n\r\n`, 'latin1');
      });
    }
    const out = await makeTempDir();
    await writeFile(join(out, 'kept.html'), 'the copy I hold');
    const lines = [`${a.url}/empty/304 kept.html`, `${a.url}/empty/204 empty.txt`];
    const {code, recs} = await fetchJson(lines, ['--ordered', '-o', out, '--max-size', '1MB', '-H', 'If-None-Match: "v1"', '--checksum']);
    expect(code).toBe(0);
    expect(recs.map((r) => [r.status, r.ok, r.bytes, r.file, r.sha256])).toEqual([
      [304, true, 0, null, null],
      [204, true, 0, join(out, 'empty.txt'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ]);
    expect(await readFile(join(out, 'kept.html'), 'utf8')).toBe('the copy I hold');
  });

  it('--max-size judges a retry\'s whole 200 by its own length, not added to the bytes of the broken try', async () => {
    let requests = 0;
    a.route('/resized', (req, res) => {
      requests++;
      const headers = {etag: '"r1"', 'accept-ranges': 'bytes', 'content-length': 800};
      res.writeHead(200, headers);
      // The first answer breaks off at 500 bytes; the retry, sent with Range, gets the whole body.
      if (req.headers.range === undefined) {
        res.write(Buffer.alloc(500, 1));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.end(Buffer.alloc(800, 1));
      }
    });
    const {code, recs} = await fetchJson([`${a.url}/resized`], ['--max-size', '1000', '--retry-delay', '10ms']);
    expect(recs[0]).toMatchObject({ok: true, status: 200, bytes: 800, attempts: 2, error: null});
    expect(code).toBe(0);
    expect(requests).toBe(2);
  });

  it('framing a client must refuse (two Content-Lengths, Content-Length with chunked, obs-fold) is `protocol`, not retried', async () => {
    const heads: Record<string, string> = {
      '/frame/two-cl': 'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      '/frame/same-cl': 'Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
      '/frame/cl-te': 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      '/frame/fold': 'X-Fold: a\r\n  b\r\nContent-Length: 2\r\n\r\nhi',
    };
    for (const [path, rest] of Object.entries(heads)) a.route(path, (req) => void req.socket.write(`HTTP/1.1 200 OK\r\n${rest}`, 'latin1'));
    const {code, recs} = await fetchJson(Object.keys(heads).map((p) => `${a.url}${p}`), ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    for (const record of recs) expect(record).toMatchObject({ok: false, status: null, attempts: 1, error: {code: 'protocol'}});
    expect(recs.find((r) => r.url.endsWith('/two-cl'))!.error.message).toContain('a second Content-Length');
  });

  it('a malformed header line is `protocol`, not retried, before or after Content-Length', async () => {
    for (const [path, head] of [['/bad/before', 'X-A: a\x01b\r\nContent-Length: 5'], ['/bad/after', 'Content-Length: 5\r\nX-A: a\x01b']] as const) {
      a.route(path, (req) => {
        req.socket.write(`HTTP/1.1 200 OK\r\n${head}\r\n\r\nhello`, 'latin1');
      });
    }
    const {code, recs} = await fetchJson([`${a.url}/bad/before`, `${a.url}/bad/after`], ['--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs.map((r) => [r.attempts, r.error?.code])).toEqual([[1, 'protocol'], [1, 'protocol']]);
  });

  it('stops a gzip bomb fast at --max-size with --compressed', async () => {
    const started = performance.now();
    const {code, recs} = await fetchJson([`${a.url}/gzip-bomb?mb=200`], ['--compressed', '--max-size', '10MB']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, attempts: 1, error: {code: 'too_large'}});
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('decodes a gzip bomb to a file with flat memory (peak RSS < 150 MB)', async () => {
    const out = await makeTempDir();
    const list = await writeList([`${a.url}/gzip-bomb?mb=400`]);
    const child = spawn(process.execPath, [BIN_PATH, '--compressed', '-q', '-o', out, list], {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let peakKb = 0;
    const poll = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (text) => {
          const kb = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0);
          peakKb = Math.max(peakKb, kb);
        },
        () => {},
      );
    }, 20);
    const kill = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    clearInterval(poll);
    clearTimeout(kill);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    expect((await stat(join(out, 'gzip-bomb'))).size).toBe(400 * 2 ** 20);
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(150 * 1024);
  });

  it('decodes gzip, deflate (zlib-wrapped, or raw as some servers send it) and br with --compressed', async () => {
    const list = await writeList([`${a.url}/gzip/hello-gzip`, `${a.url}/br/hello-br`, `${a.url}/deflate/hello-deflate`, `${a.url}/deflate-raw/hello-raw`]);
    const {code, stdout, stderr} = await runCli(['--compressed', '--ordered', list]);
    expect(code, stderr).toBe(0);
    expect(stdout.toString()).toBe('hello-gziphello-brhello-deflatehello-raw');
  });

  it('undoes stacked codings in reverse order (`gzip, br`), skips identity, and counts decoded bytes', async () => {
    const list = await writeList([
      `${a.url}/stacked/two-layers?codings=gzip,br`,
      `${a.url}/stacked/twice?codings=gzip,gzip`,
      `${a.url}/stacked/plain?codings=identity,gzip`,
    ]);
    const {code, stdout, stderr} = await runCli(['--compressed', '--ordered', list]);
    expect(code, stderr).toBe(0);
    expect(stdout.toString()).toBe('two-layerstwiceplain');
    // An error page's bytes are counted decoded too, and only up to the 64 KiB read of it.
    const notFound = await fetchJson([`${a.url}/stacked/${'e'.repeat(300)}?codings=gzip&status=404`], ['--compressed', '--retries', '0']);
    expect(notFound.recs[0]).toMatchObject({ok: false, status: 404, bytes: 300, error: {code: 'http_status'}});
    const big = await fetchJson([`${a.url}/bytes/5000000?status=500`], ['--retries', '0']);
    expect(big.recs[0]).toMatchObject({ok: false, status: 500, bytes: 64 * 1024, error: {code: 'http_status'}});
    const five = await runCli(['--compressed', '--retries', '0', await writeList([`${a.url}/stacked/x?codings=gzip,gzip,gzip,gzip,gzip`])]);
    expect(five.code).toBe(1);
    expect(five.stderr).toContain('protocol');
  });

  it('keeps bodies as received and sends no Accept-Encoding without --compressed', async () => {
    const list = await writeList([`${a.url}/gzip/as-is`]);
    const {code, stdout} = await runCli([list]);
    expect(code).toBe(0);
    expect(stdout.equals(gzipSync('as-is'))).toBe(true);
    const echo = await fetchJson([`${a.url}/echo-headers?ae=0`]);
    expect(echo.code).toBe(0);
    expect(a.requests.find((r) => r.url === '/echo-headers?ae=0')!.headers['accept-encoding']).toBeUndefined();
    await fetchJson([`${a.url}/echo-headers?ae=1`], ['--compressed']);
    expect(a.requests.find((r) => r.url === '/echo-headers?ae=1')!.headers['accept-encoding']).toMatch(/gzip/);
  });

  it('fails huge response headers cleanly as `protocol`', async () => {
    const {code, recs, stderr} = await fetchJson([`${a.url}/huge-headers`]);
    expect(code).toBe(1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ok: false, attempts: 1, error: {code: 'protocol'}});
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('stopping', () => {
  it('--fail-fast stops at the first failure: exit 1, in-flight aborted, nothing more started', async () => {
    const urls = [`${a.url}/slow?ms=10000&ff=1`, `${a.url}/status/404?ff=1`, ...Array.from({length: 5}, (_, i) => `${a.url}/text/ff-${i}`)];
    const started = performance.now();
    const {code, recs} = await fetchJson(urls, ['--fail-fast', '-c', '2']);
    expect(code).toBe(1);
    expect(performance.now() - started).toBeLessThan(8000);
    const byIndex = new Map(recs.map((r) => [r.index, r]));
    expect(byIndex.get(2)).toMatchObject({ok: false, error: {code: 'http_status'}});
    expect(byIndex.get(1)).toMatchObject({ok: false, error: {code: 'aborted'}});
    expect(a.requests.filter((r) => r.path.startsWith('/text/ff-'))).toHaveLength(0);
  });

  it('--fail-fast with -c 1 sends nothing after the failure', async () => {
    const {code, recs} = await fetchJson([`${a.url}/status/410?ff=2`, `${a.url}/text/ff2-a`, `${a.url}/text/ff2-b`], ['--fail-fast', '-c', '1']);
    expect(code).toBe(1);
    expect(recs).toHaveLength(1);
    expect(a.requests.filter((r) => r.path.startsWith('/text/ff2-'))).toHaveLength(0);
  });

  // SIGQUIT (Ctrl-\\) killed fetchall outright: no summary, temporary files left behind.
  for (const [signal, exit] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGQUIT', 131]] as const) {
    it(`${signal} mid-run: exit ${exit}, no temporary files, a valid report`, async () => {
      const out = await makeTempDir();
      const report = join(await makeTempDir(), 'report.jsonl');
      const tag = signal.toLowerCase();
      const urls = [
        `${a.url}/text/${tag}-first`,
        ...Array.from({length: 3}, (_, i) => `${a.url}/bytes/1000000?chunk=1000&every=50&s=${tag}${i}`),
        ...Array.from({length: 3}, (_, i) => `${a.url}/text/${tag}-later-${i}`),
      ];
      const list = await writeList(urls);
      const result = await runCli(['-v', '-c', '4', '-o', out, '--report', report, list], {
        signalAfter: {signal, when: (_stdout, stderr) => stderr.includes(`${tag}-first`)},
      });
      expect(result.code).toBe(exit);
      expect(result.signal).toBeNull();
      expect(result.stderr).not.toMatch(/\n\s+at /);
      const files = await listFiles(out);
      expect(files.filter((f) => f.endsWith('.fetchall-tmp'))).toEqual([]);
      expect(files.map((f) => f.slice(out.length + 1))).toContain(`${tag}-first`);
      const lines = (await readFile(report, 'utf8')).split('\n').filter((l) => l !== '');
      const records = lines.map((l) => JSON.parse(l));
      expect(records.find((r) => r.index === 1)).toMatchObject({ok: true});
      const aborted = records.filter((r) => r.error?.code === 'aborted');
      expect(aborted.length).toBeGreaterThanOrEqual(3);
      for (const r of aborted) expect(r.file).toBeNull();
      expect(result.stderr).toMatch(/^fetchall: \d+ URLs? in .* — \d+ ok, \d+ failed/m);
    });
  }
});

describe('TLS and proxies', () => {
  it('fails a self-signed certificate as `tls`, and accepts it with -k or NODE_EXTRA_CA_CERTS', async () => {
    const url = `${secure.url}/text/secure`;
    const strict = await fetchJson([url]);
    expect(strict.code).toBe(1);
    expect(strict.recs[0]).toMatchObject({ok: false, attempts: 1, error: {code: 'tls'}});
    // The way out is fetchall's own, not a Node flag nobody passes to it.
    expect(strict.recs[0].error.message).toMatch(/NODE_EXTRA_CA_CERTS.*-k$/);
    expect(strict.recs[0].error.message).not.toMatch(/use-system-ca|Node\.js with/);
    const insecure = await fetchJson([url], ['-k']);
    expect(insecure.code).toBe(0);
    expect(insecure.recs[0]).toMatchObject({ok: true, status: 200});
    const trusted = await fetchJson([url], [], {env: {NODE_EXTRA_CA_CERTS: certPath}});
    expect(trusted.recs[0]).toMatchObject({ok: true, status: 200});
    // Node's variable does not turn verification off for fetchall, so its warning that it does is not shown.
    const variable = await fetchJson([url], [], {env: {NODE_TLS_REJECT_UNAUTHORIZED: '0'}});
    expect(variable.recs[0]).toMatchObject({ok: false, error: {code: 'tls'}});
    expect(variable.stderr).not.toMatch(/NODE_TLS_REJECT_UNAUTHORIZED|Warning/);
  });

  it('a TLS error after the handshake fails the URL as tls at once (a bad record mid-body; TLS 1.3 asking for a client certificate)', async () => {
    // Mid-body: 30,000 bytes of a 100,000-byte body, then a record that does not decrypt, the TCP
    // connection left open. undici waited for a close that never came: a timeout, then retries.
    const corrupt = createServer((raw) => {
      raw.on('error', () => {});
      const sock = new TLSSocket(raw, {isServer: true, ...selfSigned});
      sock.on('error', () => {});
      sock.once('data', () => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
        sock.write(Buffer.alloc(30_000, 0x61), () => raw.write(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...randomBytes(32)])));
      });
    });
    // TLS 1.3: the client's handshake is done before the server asks for its certificate, so the
    // alert comes after it. It was taken for a dropped connection: `reset`, three attempts.
    const picky = createTlsServer({...selfSigned, requestCert: true, rejectUnauthorized: true, ca: [selfSigned.cert], minVersion: 'TLSv1.3'}, (socket) => socket.end());
    picky.on('tlsClientError', () => {});
    for (const server of [corrupt, picky]) server.listen(0, '127.0.0.1');
    await Promise.all([once(corrupt, 'listening'), once(picky, 'listening')]);
    try {
      const urls = [corrupt, picky].map((server) => `https://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
      const started = performance.now();
      const {code, recs} = await fetchJson(urls, ['-k', '--ordered', '--idle-timeout', '20s', '--retry-delay', '10ms']);
      expect(code).toBe(1);
      expect(recs.map((r) => [r.error?.code, r.attempts])).toEqual([['tls', 1], ['tls', 1]]);
      expect(recs[0].error.message).toMatch(/decryption failed or bad record mac|bad record/i);
      expect(recs[1].error.message).toMatch(/certificate required/i);
      // Far from the 20 s idle timeout it used to wait out.
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      corrupt.close();
      picky.close();
    }
  });

  it('a host written with its trailing dot is sent in SNI without it (RFC 6066), as curl does', async () => {
    const names: (string | false | null)[] = [];
    const server = createTlsServer(selfSigned, (socket) => {
      names.push(socket.servername);
      socket.on('error', () => {});
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const urls = [`https://sni.test.:${port}/dot`, `https://sni.test:${port}/plain`];
      const {code, recs, stderr} = await fetchJson(urls, ['-k', '--ordered'], {env: {NODE_OPTIONS: `--require ${RESOLVE_TEST_NAMES}`}});
      expect(code, stderr).toBe(0);
      expect(recs.map((r) => r.ok)).toEqual([true, true]);
      expect(names).toEqual(['sni.test', 'sni.test']);
    } finally {
      server.close();
    }
  });

  it('a host whose every address refuses names them all, not an empty message', async () => {
    const {code, recs} = await fetchJson(['http://dual.test:1/x'], ['--retries', '0'], {env: {NODE_OPTIONS: `--require ${RESOLVE_TEST_NAMES}`}});
    expect(code).toBe(1);
    expect(recs[0].error.code).toBe('connect');
    expect(recs[0].error.message).toMatch(/^could not connect: connect E\w+ ::1:1; connect ECONNREFUSED 127\.0\.0\.1:1$/);
  });

  it('a certificate that fails at a redirect\'s target names that host', async () => {
    const target = new URL(secure.url);
    const {code, recs} = await fetchJson([`${a.url}/redirect-abs?to=${encodeURIComponent(`${secure.url}/text/hop-tls`)}`]);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({status: 302, error: {code: 'tls'}});
    expect(recs[0].error.message).toContain(`(at ${target.host}, a redirect's target)`);
  });

  it('speaks HTTP/1.1 even to a server that offers HTTP/2 (the contract says HTTP/1.1)', async () => {
    const h2 = createSecureServer({...selfSigned, allowHTTP1: true}, (req, res) => res.end(`version ${req.httpVersion}`));
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    try {
      const {code, stdout} = await runCli(['-k', '-q', await writeList([`https://127.0.0.1:${(h2.address() as AddressInfo).port}/v`])]);
      expect(code).toBe(0);
      // undici offers h2 in the TLS handshake unless told not to: this said 2.0.
      expect(stdout.toString()).toBe('version 1.1');
    } finally {
      h2.close();
    }
  });

  it('routes requests through --proxy', async () => {
    const url = `${a.url}/text/via-flag`;
    const {code} = await fetchJson([url], ['--proxy', proxy.url]);
    expect(code).toBe(0);
    expect(proxy.requests).toContain(url);
  });

  it('routes requests through HTTP_PROXY, and NO_PROXY bypasses it', async () => {
    const url = `${a.url}/text/via-env`;
    const {code} = await fetchJson([url], [], {env: {HTTP_PROXY: proxy.url}});
    expect(code).toBe(0);
    expect(proxy.requests).toContain(url);
    const bypass = `${a.url}/text/no-proxy`;
    const direct = await fetchJson([bypass], [], {env: {HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1'}});
    expect(direct.code).toBe(0);
    expect(proxy.requests).not.toContain(bypass);
    expect(a.hits('/text/no-proxy')).toBe(1);
  });

  it('with a proxy variable set, a request that goes direct keeps fetchall\'s own connections: a reset is no body\'s end', async () => {
    // NO_PROXY names the host, or only https_proxy is set for an http:// URL: undici's plain agent took
    // them, which reads a reset during a body with no length as its end (a cut file saved as ok).
    for (const env of [{HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1'}, {HTTPS_PROXY: 'http://127.0.0.1:9'}]) {
      const {code, recs} = await fetchJson([`${a.url}/no-length?rst=1&env=${Object.keys(env).length}`], ['--retries', '0'], {env});
      expect(code).toBe(1);
      expect(recs[0]).toMatchObject({ok: false, error: {code: 'reset'}});
    }
  });

  it('through a proxy, the same checks as direct: a reset is no body\'s end; 20 KiB of headers pass', async () => {
    const pipe = await startPipeProxy();
    try {
      const reset = await fetchJson([`${a.url}/no-length?rst=1&via=pipe`], ['--retries', '0', '--proxy', pipe.url]);
      expect(reset.recs[0]).toMatchObject({ok: false, error: {code: 'reset'}});
      // undici's pool to the proxy had only its connect settings: 16 KiB of headers at most.
      const big = await fetchJson([`${a.url}/huge-headers?kb=20`], ['--retries', '0', '--proxy', pipe.url]);
      expect(big.recs[0]).toMatchObject({ok: true, status: 200});
    } finally {
      await pipe.close();
    }
  });

  it('a proxy\'s 407 to an http:// URL is http_status 407, as for an https:// one; credentials with no user name are sent', async () => {
    const asking = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n\r\n'));
    });
    asking.listen(0, '127.0.0.1');
    await once(asking, 'listening');
    try {
      const port = (asking.address() as AddressInfo).port;
      for (const url of [`${a.url}/text/asked`, `${secure.url}/text/asked`]) {
        const {code, recs} = await fetchJson([url], ['-k', '--proxy', `http://127.0.0.1:${port}`]);
        expect(code).toBe(1);
        expect(recs[0]).toMatchObject({ok: false, status: 407, attempts: 1, error: {code: 'http_status'}});
        expect(recs[0].error.message).toMatch(/^HTTP 407 .*from the proxy/);
      }
    } finally {
      asking.close();
    }
    const url = `${a.url}/text/no-user`;
    expect((await fetchJson([url], ['--proxy', proxy.url.replace('http://', 'http://:s%3Acret@')])).code).toBe(0);
    expect(proxy.log.find((entry) => entry.target === url)!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from(':s:cret').toString('base64')}`);
  });

  it('--proxy \'\' turns proxies off, the variables too (as curl -x \'\')', async () => {
    const url = `${a.url}/text/no-proxy-at-all`;
    const {code} = await fetchJson([url], ['--proxy', ''], {env: {HTTP_PROXY: proxy.url}});
    expect(code).toBe(0);
    expect(proxy.requests).not.toContain(url);
    expect(a.hits('/text/no-proxy-at-all')).toBe(1);
  });

  it('prefers lowercase http_proxy over HTTP_PROXY', async () => {
    const url = `${a.url}/text/lowercase`;
    const {code} = await fetchJson([url], [], {env: {http_proxy: proxy.url, HTTP_PROXY: 'http://127.0.0.1:1'}});
    expect(code).toBe(0);
    expect(proxy.requests).toContain(url);
  });

  it('tunnels https through the proxy with CONNECT', async () => {
    const {code} = await fetchJson([`${secure.url}/text/tunnel`], ['-k', '--proxy', proxy.url]);
    expect(code).toBe(0);
    expect(proxy.requests).toContain(new URL(secure.url).host);
  });

  it('an https URL goes through HTTP_PROXY when no https_proxy is set; an empty lowercase variable does not hide the uppercase one', async () => {
    const host = new URL(secure.url).host;
    const before = proxy.requests.filter((target) => target === host).length;
    const {code} = await fetchJson([`${secure.url}/text/tunnel-http-proxy`], ['-k'], {env: {HTTP_PROXY: proxy.url}});
    expect(code).toBe(0);
    expect(proxy.requests.filter((target) => target === host).length).toBe(before + 1);
    const url = `${a.url}/text/empty-lowercase`;
    const empty = await fetchJson([url], [], {env: {http_proxy: '', HTTP_PROXY: proxy.url}});
    expect(empty.code).toBe(0);
    expect(proxy.requests).toContain(url);
  });

  it('through a proxy, at most one more tunnel to an origin than -c (undici alone opened two per slot)', async () => {
    const host = new URL(secure.url).host;
    const before = proxy.requests.filter((target) => target === host).length;
    const urls = Array.from({length: 40}, (_, i) => `${secure.url}/text/tunnels-${i}`);
    const {code} = await fetchJson(urls, ['-k', '-c', '4', '--proxy', proxy.url]);
    expect(code).toBe(0);
    expect(proxy.requests.filter((target) => target === host).length - before).toBeLessThanOrEqual(5);
  });

  it('a proxy that never answers CONNECT is a timeout within --connect-timeout, by flag and by variable', async () => {
    const stalled = await startProxy({stallConnect: true});
    try {
      for (const how of [{args: ['--proxy', stalled.url], env: {}}, {args: [], env: {HTTPS_PROXY: stalled.url}}]) {
        const started = performance.now();
        const {code, recs} = await fetchJson([`${secure.url}/text/stalled`], ['-k', '--connect-timeout', '500ms', '--retries', '0', ...how.args], {env: how.env, timeoutMs: 15_000});
        expect(code).toBe(1);
        expect(recs[0]).toMatchObject({ok: false, attempts: 1, error: {code: 'timeout', message: `timed out: the proxy did not answer CONNECT to ${new URL(secure.url).host} within --connect-timeout`}});
        // undici's headers timer ticks coarsely (up to a second late): far from its 300 s default.
        expect(performance.now() - started).toBeLessThan(6000);
      }
      expect(stalled.requests).toHaveLength(2);
    } finally {
      await stalled.close();
    }
  });

  it('a proxy refusing the tunnel is its status (502 retried, as for an http URL through it), not a protocol error', async () => {
    // A port nothing listens on: the proxy cannot reach it and answers CONNECT with 502.
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const before = proxy.requests.length;
    const {code, recs} = await fetchJson([`https://127.0.0.1:${port}/tunnel-refused`], ['-k', '--proxy', proxy.url, '--retry-delay', '10ms']);
    expect(code).toBe(1);
    expect(recs[0]).toMatchObject({ok: false, status: 502, final_url: null, attempts: 3, error: {code: 'http_status', message: `HTTP 502 from the proxy: it refused the tunnel to 127.0.0.1:${port}`}});
    expect(proxy.requests.slice(before)).toEqual(Array(3).fill(`127.0.0.1:${port}`));
  });

  it('a proxy URL may carry a path (dropped, as curl does); a variable without a scheme is http://', async () => {
    const viaPath = `${a.url}/text/proxy-path`;
    expect((await fetchJson([viaPath], ['--proxy', `${proxy.url}/some/path?x#y`])).code).toBe(0);
    expect(proxy.requests).toContain(viaPath);
    const viaBare = `${a.url}/text/proxy-bare`;
    expect((await fetchJson([viaBare], [], {env: {HTTP_PROXY: proxy.url.replace('http://', '')}})).code).toBe(0);
    expect(proxy.requests).toContain(viaBare);
  });

  it('--proxy without a scheme is http://, as curl -x takes it; credentials that do not decode go out as typed', async () => {
    const bare = `${a.url}/text/proxy-flag-bare`;
    expect((await fetchJson([bare], ['--proxy', proxy.url.replace('http://', '')])).code).toBe(0);
    expect(proxy.requests).toContain(bare);
    const odd = `${a.url}/text/proxy-odd-creds`;
    const result = await fetchJson([odd], ['--proxy', proxy.url.replace('http://', 'http://u:p%ZZ@')]);
    expect(result.code, result.stderr).toBe(0);
    expect(proxy.log.find((entry) => entry.target === odd)!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('u:p%ZZ').toString('base64')}`);
  });

  it('a password in a bad Location is masked in the record and on stderr, whatever its spelling', async () => {
    for (const [path, location] of [['/loc/rel', '//u:hunter2@[bad'], ['/loc/space', 'http://u:hunter2 x@[bad']] as const) {
      a.route(path, (_req, res) => res.writeHead(302, {location}).end());
    }
    const {code, recs, stderr} = await fetchJson([`${a.url}/loc/rel`, `${a.url}/loc/space`]);
    expect(code).toBe(1);
    for (const record of recs) expect(record.error).toMatchObject({code: 'protocol'});
    expect(JSON.stringify(recs)).not.toContain('hunter2');
    expect(stderr).not.toContain('hunter2');
  });

  it('a proxy variable that is no proxy URL is a usage error naming it, before any request; passwords masked', async () => {
    for (const [env, named] of [[{HTTPS_PROXY: 'ftp://u:hunter2@x'}, 'HTTPS_PROXY'], [{http_proxy: 'http://u:hunter2@[bad'}, 'http_proxy']] as const) {
      const {code, stderr} = await fetchJson([`${a.url}/text/never`], [], {env});
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(named);
      expect(stderr).not.toContain('hunter2');
    }
    const flag = await fetchJson([`${a.url}/text/never`], ['--proxy', 'http://u:hunter2@127.0.0.1:99999']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--proxy');
    expect(flag.stderr).not.toContain('hunter2');
    expect(a.hits('/text/never')).toBe(0);
  });

  it('an https:// proxy: -k covers its certificate too, and no Node warning reaches stderr', async () => {
    const tlsProxy = await startProxy({tls: selfSigned});
    try {
      const url = `${a.url}/text/via-tls-proxy`;
      const strict = await fetchJson([url], ['--proxy', tlsProxy.url, '--retries', '0']);
      expect(strict.recs[0]).toMatchObject({ok: false, error: {code: 'tls'}});
      const {code, stderr} = await fetchJson([url], ['--proxy', tlsProxy.url, '-k', '-q']);
      expect(code, stderr).toBe(0);
      expect(stderr).toBe('');
      expect(tlsProxy.requests).toContain(url);
    } finally {
      await tlsProxy.close();
    }
  });
});
