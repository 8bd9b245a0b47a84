// A hostile HTTP(S) test server on port 0: deterministic bodies, ranges, flaky, stalled, broken and evil routes.
import {once} from 'node:events';
import {createHash} from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type {AddressInfo, Socket} from 'node:net';
import {performance} from 'node:perf_hooks';
import zlib from 'node:zlib';

/** One request as the server saw it. `url` is path + query; header names are lowercase. */
export interface RequestLog {
  method: string;
  url: string;
  /** The request target exactly as the request line had it (`/x?` stays `/x?`). */
  target: string;
  /** Path alone, without the query. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** `performance.now()` when the request arrived. */
  time: number;
}

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface TestServerOptions {
  /** Address to listen on (default `127.0.0.1`; `127.0.0.2` also works on Linux). */
  host?: string;
  /** Serve HTTPS with this key and certificate (see `tls.ts`). */
  tls?: {key: string | Buffer; cert: string | Buffer};
}

export interface TestServer {
  /** Origin without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Every request in arrival order (cleared in place by `resetStats`). */
  readonly requests: RequestLog[];
  /** Requests being handled now: from arrival until the response finished or its socket closed. */
  readonly inFlight: number;
  /** Peak of `inFlight` since start or the last `resetStats`. */
  readonly maxInFlight: number;
  /** Clear `requests`, hit counts (so `/flaky/ID` counters too) and set `maxInFlight` to `inFlight`. */
  resetStats(): void;
  /** Add a route for an exact path (query ignored); it takes precedence over the built-in ones. */
  route(path: string, handler: RouteHandler): void;
  /** Requests received for this exact path (query ignored), e.g. `hits('/flaky/a')`. */
  hits(path: string): number;
  /** Destroy every connection, cancel every timer, stop listening. Idempotent; never hangs. */
  close(): Promise<void>;
}

/** The byte at offset `i` of every `/bytes/N` body. */
export function byteAt(i: number): number {
  return (i * 31 + 7) & 255;
}

// The pattern has period 256, so any slice of it is a view into one precomputed block.
const BLOCK = 64 * 1024;
const PATTERN = Buffer.alloc(BLOCK + 256);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = byteAt(i);

/** `len` (≤ 64 KiB) pattern bytes starting at body offset `offset`, without copying. */
function patternSlice(offset: number, len: number): Buffer {
  const start = offset % 256;
  return PATTERN.subarray(start, start + len);
}

/**
 * The exact body of `/bytes/N` (or the bytes from `start` on, for a range).
 * @example expect(body.equals(expectedBytes(1000))).toBe(true)
 */
export function expectedBytes(n: number, start = 0): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = byteAt(start + i);
  return out;
}

/** Lowercase hex SHA-256 of a buffer. @example sha256Hex(Buffer.from('')) */
export function sha256Hex(buf: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** SHA-256 of `/bytes/N`'s body, computed in blocks (fine for GiB sizes). @example bytesSha256(2 ** 30) */
export function bytesSha256(n: number): string {
  const hash = createHash('sha256');
  for (let pos = 0; pos < n; pos += BLOCK) hash.update(patternSlice(pos, Math.min(BLOCK, n - pos)));
  return hash.digest('hex');
}

/** The body of `/lines/N?id=X`: lines `X:0\n` … `X:N-1\n`. @example expectedLines(3, 'a') === 'a:0\na:1\na:2\n' */
export function expectedLines(n: number, id: string): string {
  let out = '';
  for (let i = 0; i < n; i++) out += `${id}:${i}\n`;
  return out;
}

/** The body of `/text/NAME`. */
export function textBody(name: string): string {
  return `body of ${name}\n`;
}

/** Default `Last-Modified` of `/bytes/N`. */
export const BYTES_LAST_MODIFIED = new Date(Date.UTC(2024, 0, 2, 3, 4, 5)).toUTCString();

// Gzip bombs are compressed once per size per process, streaming, so N MiB is never held.
const bombs = new Map<number, Promise<Buffer>>();

/** The compressed body of `/gzip-bomb?mb=N` (cached; level 9, decodes to N MiB of zeros). */
export function gzipBomb(mb: number): Promise<Buffer> {
  let bomb = bombs.get(mb);
  if (bomb === undefined) {
    bomb = buildBomb(mb);
    bombs.set(mb, bomb);
  }
  return bomb;
}

async function buildBomb(mb: number): Promise<Buffer> {
  const gz = zlib.createGzip({level: 9});
  const chunks: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(gz, 'end');
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < mb; i++) if (!gz.write(zeros)) await once(gz, 'drain');
  gz.end();
  await ended;
  return Buffer.concat(chunks);
}

/** Start a test server on an ephemeral port. @example const server = await startTestServer(); afterAll(() => server.close()); */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const host = opts.host ?? '127.0.0.1';
  const requests: RequestLog[] = [];
  const hitCounts = new Map<string, number>();
  const routes = new Map<string, RouteHandler>();
  const sockets = new Set<Socket>();
  const cancels = new Set<() => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  let closing: Promise<void> | undefined;

  /** Run `fn` after `ms` (0: next turn of the loop) unless the response closes or the server closes first. */
  const defer = (res: http.ServerResponse, ms: number, fn: () => void): void => {
    const timer = ms > 0 ? setTimeout(fire, ms) : undefined;
    const immediate = ms > 0 ? undefined : setImmediate(fire);
    function cancel(): void {
      clearTimeout(timer);
      clearImmediate(immediate);
      cancels.delete(cancel);
      res.off('close', cancel);
    }
    function fire(): void {
      cancel();
      run(res, fn);
    }
    cancels.add(cancel);
    res.once('close', cancel);
  };

  const ctxFor = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Ctx => ({
    req,
    res,
    url,
    q: url.searchParams,
    base: `${tlsScheme}://${urlHost(host)}:${port}`,
    hits: (p) => hitCounts.get(p) ?? 0,
    defer: (ms, fn) => defer(res, ms, fn),
  });

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://test.invalid');
    requests.push({
      method: req.method ?? 'GET',
      url: url.pathname + url.search,
      target: req.url ?? '',
      path: url.pathname,
      headers: {...req.headers},
      time: performance.now(),
    });
    hitCounts.set(url.pathname, (hitCounts.get(url.pathname) ?? 0) + 1);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = (): void => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    res.once('finish', done);
    res.once('close', done);

    const custom = routes.get(url.pathname);
    if (custom !== undefined) {
      run(res, () => custom(req, res));
      return;
    }
    const ctx = ctxFor(req, res, url);
    const delay = num(ctx.q, 'delay', 0);
    if (delay > 0) defer(res, delay, () => builtin(ctx));
    else run(res, () => builtin(ctx));
  };

  const server = opts.tls
    ? https.createServer({key: opts.tls.key, cert: opts.tls.cert}, onRequest)
    : http.createServer(onRequest);
  const tlsScheme = opts.tls ? 'https' : 'http';
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  server.on('secureConnection', track);
  // A client that gives up mid-handshake is not a test failure.
  server.on('tlsClientError', () => {});
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${tlsScheme}://${urlHost(host)}:${port}`,
    host,
    port,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    resetStats() {
      requests.length = 0;
      hitCounts.clear();
      maxInFlight = inFlight;
    },
    route(path, handler) {
      routes.set(path, handler);
    },
    hits(path) {
      return hitCounts.get(path) ?? 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const cancel of [...cancels]) cancel();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  q: URLSearchParams;
  /** This server's origin. */
  base: string;
  hits(path: string): number;
  defer(ms: number, fn: () => void): void;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Run a handler step; a throw becomes a 500 (or a destroyed socket once headers are out). */
function run(res: http.ServerResponse, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (res.headersSent) {
      res.destroy();
    } else {
      res.writeHead(500, {'content-type': 'text/plain'});
      res.end(`handler error: ${String(error)}`);
    }
  }
}

function num(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  if (raw === null || raw.trim() === '') return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function sendText(res: http.ServerResponse, status: number, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {'content-type': 'text/plain; charset=utf-8', 'content-length': buf.length, ...headers});
  res.end(buf);
}

/** Write a raw HTTP response on the socket, bypassing Node's validation, then end the connection. */
function sendRaw(ctx: Ctx, head: string, body: Buffer): void {
  ctx.req.socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

function redirect(res: http.ServerResponse, q: URLSearchParams, location: string | undefined): void {
  const code = num(q, 'code', 302);
  const headers: http.OutgoingHttpHeaders = location === undefined ? {} : {location};
  sendText(res, code, `redirect ${code}\n`, headers);
}

function builtin(ctx: Ctx): void {
  const {res, url, q} = ctx;
  const path = url.pathname;
  const rest = (prefix: string): string | undefined => (path.startsWith(prefix) ? path.slice(prefix.length) : undefined);
  let arg: string | undefined;

  if ((arg = rest('/bytes/')) !== undefined) return bytes(ctx, Number(arg));
  if ((arg = rest('/text/')) !== undefined) return sendText(res, 200, textBody(decodeSegment(arg)));
  if ((arg = rest('/lines/')) !== undefined) return lines(ctx, Number(arg));
  if ((arg = rest('/status/')) !== undefined) {
    const code = Number(arg);
    const retryAfter = q.get('retryAfter');
    return sendText(res, code, `status ${code}`, retryAfter === null ? {} : {'retry-after': retryAfter});
  }
  if ((arg = rest('/flaky/')) !== undefined) return flaky(ctx, arg);
  if ((arg = rest('/redirect/')) !== undefined) {
    const n = Number(arg);
    const target = n > 1 ? `/redirect/${n - 1}${url.search}` : (q.get('to') ?? '/text/final');
    return redirect(res, q, q.get('abs') === '1' && target.startsWith('/') ? ctx.base + target : target);
  }
  if ((arg = rest('/gzip/')) !== undefined) return encoded(res, 'gzip', zlib.gzipSync(decodeSegment(arg)));
  if ((arg = rest('/deflate/')) !== undefined) return encoded(res, 'deflate', zlib.deflateSync(decodeSegment(arg)));
  // Raw deflate (no zlib wrapper) sent as `deflate`, as some servers do.
  if ((arg = rest('/deflate-raw/')) !== undefined) return encoded(res, 'deflate', zlib.deflateRawSync(decodeSegment(arg)));
  if ((arg = rest('/br/')) !== undefined) return encoded(res, 'br', zlib.brotliCompressSync(decodeSegment(arg)));
  if ((arg = rest('/stacked/')) !== undefined) {
    // `/stacked/TEXT?codings=gzip,br[&status=404]`: the codings applied in order, listed as such in
    // Content-Encoding.
    const codings = (q.get('codings') ?? 'gzip,gzip').split(',');
    let body = Buffer.from(decodeSegment(arg));
    for (const coding of codings) {
      body = coding === 'gzip' ? zlib.gzipSync(body) : coding === 'br' ? zlib.brotliCompressSync(body) : coding === 'deflate' ? zlib.deflateSync(body) : body;
    }
    return encoded(res, codings.join(', '), body, num(q, 'status', 200));
  }

  switch (path) {
    case '/slow':
      return ctx.defer(num(q, 'ms', 1000), () => sendText(res, 200, 'slow'));
    case '/stall-headers':
      return; // Never answered; close() tears it down.
    case '/stall-body':
      return partial(ctx, 'stall');
    case '/reset-mid':
      return partial(ctx, 'reset');
    case '/slow-head': {
      // The response head byte by byte, `every` ms apart (default 40), then a 2-byte body.
      const socket = ctx.req.socket;
      const bytes = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok', 'latin1');
      let sent = 0;
      const next = (): void => {
        if (socket.destroyed) return;
        socket.write(bytes.subarray(sent, sent + 1));
        sent++;
        if (sent < bytes.length) ctx.defer(num(q, 'every', 40), next);
        else socket.end();
      };
      next();
      return;
    }
    case '/no-length': {
      // A body that runs to the close (no Content-Length, not chunked): ended by a FIN, or with
      // `rst=1` cut off by a TCP reset after its first bytes.
      const socket = ctx.req.socket;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${textBody('no-length')}`, () => {
        if (q.get('rst') === '1') setTimeout(() => socket.resetAndDestroy(), 50);
        else socket.end();
      });
      return;
    }
    case '/short':
      return partial(ctx, 'short');
    case '/long': {
      const cl = num(q, 'cl', 10);
      const total = num(q, 'total', 100);
      const head = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${cl}\r\n\r\n`;
      return sendRaw(ctx, head, expectedBytes(total));
    }
    case '/loop':
      return redirect(res, q, `/loop${url.search}`);
    case '/loop-a':
      return redirect(res, q, `/loop-b${url.search}`);
    case '/loop-b':
      return redirect(res, q, `/loop-a${url.search}`);
    case '/redirect-abs':
      return redirect(res, q, q.get('to') ?? `${ctx.base}/text/final`);
    case '/redirect-raw-utf8':
      // Location with raw UTF-8 bytes (`/text/é` as C3 A9), as some servers send it.
      return sendRaw(ctx, 'HTTP/1.1 302 Found\r\nlocation: /text/\u00c3\u00a9\r\ncontent-length: 0\r\nconnection: close\r\n\r\n', Buffer.alloc(0));
    case '/redirect-nolocation':
      return redirect(res, q, undefined);
    case '/redirect-scheme':
      return redirect(res, q, q.get('to') ?? 'ftp://x/');
    case '/echo-headers': {
      const body = q.get('raw') === '1' ? ctx.req.rawHeaders : ctx.req.headers;
      return sendText(res, 200, JSON.stringify(body), {'content-type': 'application/json'});
    }
    case '/gzip-bomb':
      void gzipBomb(num(q, 'mb', 100)).then((bomb) => {
        if (!res.destroyed) run(res, () => encoded(res, 'gzip', bomb));
      });
      return;
    case '/huge-headers': {
      const headers: http.OutgoingHttpHeaders = {};
      const kb = num(q, 'kb', 80);
      for (let i = 0; i < kb; i++) headers[`x-huge-${i}`] = 'h'.repeat(1024);
      return sendText(res, 200, 'huge headers\n', headers);
    }
    case '/ansi': {
      // Node refuses control characters in the status text and headers, so write the response raw.
      // undici accepts them in the status text but rejects a header value holding ESC (a protocol error),
      // so the X-Evil header is only sent with ?header=1.
      const body = Buffer.from('evil \x1b]0;pwned\x07 body \x1b[2J\x1b[31mred\x1b[0m\n');
      const evil = q.get('header') === '1' ? 'X-Evil: \x1b[31m\r\n' : '';
      const head =
        `HTTP/1.1 500 Bad \x1b]0;pwned\x07 \x1b[2J\r\nContent-Type: text/plain\r\n${evil}` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      return sendRaw(ctx, head, body);
    }
    default:
      return sendText(res, 404, 'not found\n');
  }
}

/** `/bytes/N`: deterministic body with validators, byte ranges, If-Range, delays and dripping. */
function bytes(ctx: Ctx, n: number): void {
  const {req, res, q} = ctx;
  if (!Number.isSafeInteger(n) || n < 0) return sendText(res, 400, 'bad size\n');
  const etagParam = q.get('etag');
  const etag =
    q.get('noetag') === '1'
      ? undefined
      : etagParam === null
        ? `"bytes-${n}"`
        : etagParam.startsWith('"') || etagParam.startsWith('W/')
          ? etagParam
          : `"${etagParam}"`;
  const lastModified = q.get('nolm') === '1' ? undefined : BYTES_LAST_MODIFIED;
  const ranges = q.get('noranges') !== '1';
  const headers: http.OutgoingHttpHeaders = {'content-type': 'application/octet-stream'};
  if (etag !== undefined) headers['etag'] = etag;
  if (lastModified !== undefined) headers['last-modified'] = lastModified;
  if (ranges) headers['accept-ranges'] = 'bytes';
  const retryAfter = q.get('retryAfter');
  if (retryAfter !== null) headers['retry-after'] = retryAfter;

  let start = 0;
  let end = n; // exclusive
  // `status=500`: the same body as an error page.
  let status = num(q, 'status', 200);
  const range = ranges ? parseRange(req.headers.range, n) : undefined;
  const ifRange = req.headers['if-range'];
  if (range !== undefined && ifRangeMatches(Array.isArray(ifRange) ? ifRange.join(', ') : ifRange, etag, lastModified)) {
    if (range === 'unsatisfiable') {
      return sendText(res, 416, 'range not satisfiable\n', {...headers, 'content-range': `bytes */${n}`, 'content-type': 'text/plain'});
    }
    [start, end] = range;
    status = 206;
    headers['content-range'] = `bytes ${start}-${end - 1}/${n}`;
  }
  headers['content-length'] = end - start;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  pump(ctx, start, end, num(q, 'chunk', BLOCK), num(q, 'every', 0));
}

/** `Range: bytes=a-`, `a-b` or `-k` → [start, end) or 'unsatisfiable'; anything else is ignored (undefined). */
function parseRange(header: string | undefined, n: number): [number, number] | 'unsatisfiable' | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const k = Number(b);
    return k === 0 ? 'unsatisfiable' : [Math.max(0, n - k), n];
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return undefined;
  if (start >= n) return 'unsatisfiable';
  const last = b === '' ? n - 1 : Number(b);
  return [start, Math.min(last, n - 1) + 1];
}

/** No If-Range, or one equal to the strong ETag or the exact Last-Modified date. */
function ifRangeMatches(ifRange: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('W/')) return false;
  return ifRange === etag || ifRange === lastModified;
}

/** Write pattern bytes [start, end) in chunks, honouring backpressure, optionally `every` ms apart. */
function pump(ctx: Ctx, start: number, end: number, chunk: number, every: number): void {
  const {res} = ctx;
  const size = Math.max(1, Math.min(BLOCK, Math.floor(chunk)));
  let pos = start;
  const step = (): void => {
    while (pos < end) {
      if (res.destroyed) return;
      const len = Math.min(size, end - pos);
      const ok = res.write(patternSlice(pos, len));
      pos += len;
      if (pos >= end) break;
      const next = every > 0 ? () => ctx.defer(every, step) : step;
      if (!ok) return void res.once('drain', next);
      if (every > 0) return next();
    }
    res.end();
  };
  step();
}

/** `/lines/N?id=X[&per=K][&every=ms]`: N lines in chunks of K lines with gaps between chunks. */
function lines(ctx: Ctx, n: number): void {
  const {res, q} = ctx;
  if (!Number.isSafeInteger(n) || n < 0) return sendText(res, 400, 'bad count\n');
  const id = q.get('id') ?? 'x';
  const per = Math.max(1, num(q, 'per', Math.ceil(n / 8)));
  const every = num(q, 'every', 0);
  res.writeHead(200, {'content-type': 'text/plain; charset=utf-8'});
  let i = 0;
  const step = (): void => {
    let text = '';
    for (const stop = Math.min(n, i + per); i < stop; i++) text += `${id}:${i}\n`;
    if (text !== '') res.write(text);
    if (i >= n) return void res.end();
    ctx.defer(every, step);
  };
  step();
}

/** `/flaky/ID?fail=K[&status=503][&mode=reset|rst][&retryAfter=v]`: the first K requests for ID fail. */
function flaky(ctx: Ctx, id: string): void {
  const {req, res, q} = ctx;
  if (ctx.hits(ctx.url.pathname) <= num(q, 'fail', 1)) {
    const mode = q.get('mode');
    if (mode === 'reset') return void req.socket.destroy();
    if (mode === 'rst') return void req.socket.resetAndDestroy();
    const status = num(q, 'status', 503);
    const retryAfter = q.get('retryAfter');
    return sendText(res, status, `fail ${decodeSegment(id)}\n`, retryAfter === null ? {} : {'retry-after': retryAfter});
  }
  sendText(res, 200, `ok ${decodeSegment(id)}`);
}

/** Content-Length `total`, `after` pattern bytes, then: stall forever, destroy the socket, or end it cleanly. */
function partial(ctx: Ctx, how: 'stall' | 'reset' | 'short'): void {
  const {req, res, q} = ctx;
  const after = num(q, 'after', 100);
  const total = num(q, 'total', how === 'stall' ? after + 1_000_000 : after * 2 + 100);
  res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': total});
  res.flushHeaders();
  const then = (): void => {
    if (how === 'reset') {
      if (q.get('rst') === '1') req.socket.resetAndDestroy();
      else req.socket.destroy();
    } else if (how === 'short') {
      req.socket.end();
    }
  };
  // A socket write's callback runs once everything queued before it has been flushed.
  if (after > 0) res.write(expectedBytes(after), () => then());
  else req.socket.write('', () => then());
}

function encoded(res: http.ServerResponse, encoding: string, body: Buffer, status = 200): void {
  res.writeHead(status, {'content-type': 'application/octet-stream', 'content-encoding': encoding, 'content-length': body.length});
  res.end(body);
}
