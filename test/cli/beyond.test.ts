// End-to-end tests of what no peer tool does (issue 7): host-wide Retry-After pauses, validated Range
// resume, expected and computed SHA-256, JSON entry lines, failure budgets and deadlines with --resume.
import {randomBytes} from 'node:crypto';
import {readdir, readFile} from 'node:fs/promises';
import type http from 'node:http';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {describe, expect, it} from 'vitest';
import {makeTempDir, parseJsonLines, runCli, writeList} from '../helpers/cli.js';
import {sha256Hex, type TestServer} from '../helpers/server.js';
import {useTestServer} from '../helpers/use-server.js';

const RECORD_KEYS = ['index', 'url', 'ok', 'status', 'final_url', 'bytes', 'duration_ms', 'attempts', 'file', 'skipped', 'sha256', 'error'];

const a = useTestServer();
const b = useTestServer({host: '127.0.0.2'});

/** Every file under `dir`, recursively, as paths relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {recursive: true, withFileTypes: true});
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

interface RangeRouteOptions {
  /** The body and its ETag for the n-th request (1-based). */
  version: (n: number) => {body: Buffer; etag: string};
  /** Offer `Accept-Ranges: bytes` and honour `Range` + `If-Range`. */
  ranges: boolean;
  /** On the first request, send this fraction of the body, then destroy the connection. */
  breakAt: number;
  /** Chunked with `Connection: close`, and the break a clean FIN: llhttp calls that end of stream an invalid EOF state. */
  chunkedClose?: boolean;
}

/**
 * A route serving a large body with an ETag that breaks its first answer mid-way; later requests honour
 * `Range: bytes=N-` only when `If-Range` matches the current ETag (else a full 200, as RFC 9110 says).
 */
function rangeRoute(server: TestServer, path: string, opts: RangeRouteOptions): void {
  let n = 0;
  server.route(path, (req: http.IncomingMessage, res: http.ServerResponse) => {
    n++;
    const {body, etag} = opts.version(n);
    const headers: http.OutgoingHttpHeaders = {'content-type': 'application/octet-stream', etag};
    if (opts.ranges) headers['accept-ranges'] = 'bytes';
    let start = 0;
    let status = 200;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (opts.ranges && m !== null && (ifRange === undefined || ifRange === etag) && Number(m[1]) < body.length) {
      start = Number(m[1]);
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    if (opts.chunkedClose === true) headers.connection = 'close';
    else headers['content-length'] = body.length - start;
    res.writeHead(status, headers);
    if (n === 1) {
      const cut = Math.floor(body.length * opts.breakAt);
      res.write(body.subarray(0, cut), () => (opts.chunkedClose === true ? req.socket.end() : req.socket.destroy()));
      return;
    }
    res.end(body.subarray(start));
  });
}

describe('host-wide pause on 429 + Retry-After', () => {
  it('pauses every request to the throttled host for ~2 s while the other host completes, holding no slot', async () => {
    let first = true;
    for (const p of ['/hw/a1', '/hw/a2', '/hw/a3', '/hw/a4']) {
      a.route(p, (_req, res) => {
        if (first) {
          first = false;
          res.writeHead(429, {'retry-after': '2', 'content-length': 0});
          res.end();
          return;
        }
        res.end(`ok ${p}`);
      });
    }
    const bUrls = Array.from({length: 6}, (_, i) => `${b.url}/slow?ms=250&hw=${i}`);
    // a1 and b0 start first; a1's 429 comes back at once, so a2..a4 are read only after the pause is set.
    const list = await writeList([`${a.url}/hw/a1`, bUrls[0]!, `${a.url}/hw/a2`, `${a.url}/hw/a3`, `${a.url}/hw/a4`, ...bUrls.slice(1)]);
    a.resetStats();
    b.resetStats();
    const result = await runCli(['--json', '-c', '2', '--retry-delay', '10ms', list], {timeoutMs: 15_000});
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(result.code, result.stderr).toBe(0);
    const records = result.records();
    expect(records).toHaveLength(10);
    expect(records.every((r) => r.ok === true)).toBe(true);
    expect(records.find((r) => r.url.endsWith('/hw/a1')).attempts).toBe(2);

    const aTimes = a.requests.filter((r) => r.path.startsWith('/hw/')).map((r) => r.time);
    expect(aTimes).toHaveLength(5);
    const t429 = aTimes[0]!;
    const later = aTimes.slice(1);
    // Retry-After: 2 → no request to A for ~2 s (a little slack for the clock and the answer's trip).
    for (const t of later) expect(t - t429).toBeGreaterThanOrEqual(1900);
    // Every B URL was requested and answered inside A's pause: the paused entries held no slot.
    const bTimes = b.requests.filter((r) => r.path === '/slow').map((r) => r.time);
    expect(bTimes).toHaveLength(6);
    const firstResumed = Math.min(...later);
    for (const t of bTimes) expect(t).toBeLessThan(firstResumed);
    expect(Math.max(...bTimes) + 250).toBeLessThan(firstResumed);
  });
});

describe('host-wide pause: cap and forms', () => {
  /** Routes `paths` on A: the very first request gets `status` with `Retry-After: retryAfter()`, the rest 200. */
  function throttleOnce(paths: string[], status: number, retryAfter: () => string): void {
    let first = true;
    for (const p of paths) {
      a.route(p, (_req, res) => {
        if (first) {
          first = false;
          res.writeHead(status, {'retry-after': retryAfter(), 'content-length': 0});
          res.end();
          return;
        }
        res.end('ok');
      });
    }
  }

  it('caps a long Retry-After at --retry-max-delay for the whole host', async () => {
    const paths = ['/cap/1', '/cap/2', '/cap/3'];
    throttleOnce(paths, 429, () => '3600');
    const list = await writeList(paths.map((p) => a.url + p));
    a.resetStats();
    const result = await runCli(['--json', '-c', '1', '--retry-max-delay', '1s', '--retry-delay', '10ms', list], {timeoutMs: 10_000});
    expect(result.code, result.stderr).toBe(0);
    const times = a.requests.filter((r) => r.path.startsWith('/cap/')).map((r) => r.time);
    expect(times).toHaveLength(4);
    for (const t of times.slice(1)) {
      expect(t - times[0]!).toBeGreaterThanOrEqual(900);
      expect(t - times[0]!).toBeLessThan(2500);
    }
  });

  it('pauses the host on a 503 whose Retry-After is an HTTP date', async () => {
    const paths = ['/date/1', '/date/2', '/date/3'];
    // Whole seconds only: the wait is between 1 and 2 s from now.
    throttleOnce(paths, 503, () => new Date(Date.now() + 2000).toUTCString());
    const list = await writeList(paths.map((p) => a.url + p));
    a.resetStats();
    const result = await runCli(['--json', '-c', '1', '--retry-delay', '10ms', list], {timeoutMs: 10_000});
    expect(result.code, result.stderr).toBe(0);
    const times = a.requests.filter((r) => r.path.startsWith('/date/')).map((r) => r.time);
    expect(times).toHaveLength(4);
    for (const t of times.slice(1)) expect(t - times[0]!).toBeGreaterThanOrEqual(900);
  });
});

describe('Range / If-Range resume of a broken body', () => {
  const SIZE = 1 << 20;
  const source = randomBytes(SIZE);
  const other = randomBytes(SIZE);

  it('continues a body broken at 60% with Range and If-Range into the file', async () => {
    rangeRoute(a, '/rr/file', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6});
    const out = await makeTempDir();
    const list = await writeList([`${a.url}/rr/file  big.bin`]);
    a.resetStats();
    const result = await runCli(['--json', '-o', out, '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code).toBe(0);
    const [record] = result.records();
    expect(record).toMatchObject({ok: true, status: 206, attempts: 2, bytes: SIZE, file: join(out, 'big.bin')});
    const reqs = a.requests.filter((r) => r.path === '/rr/file');
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.headers.range).toBeUndefined();
    const m = /^bytes=(\d+)-$/.exec(String(reqs[1]!.headers.range));
    expect(m).not.toBeNull();
    const from = Number(m![1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(Math.floor(SIZE * 0.6));
    expect(reqs[1]!.headers['if-range']).toBe('"v1"');
    expect(sha256Hex(await readFile(join(out, 'big.bin')))).toBe(sha256Hex(source));
    expect(await listFiles(out)).toEqual(['big.bin']);
  });

  it('a chunked body with Connection: close cut short by a FIN is `reset`, retried and resumed', async () => {
    rangeRoute(a, '/rr/chunked-fin', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6, chunkedClose: true});
    const out = await makeTempDir();
    a.resetStats();
    const result = await runCli(['--json', '-o', out, '--retries', '1', '--retry-delay', '10ms', await writeList([`${a.url}/rr/chunked-fin  big.bin`])]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 206, attempts: 2, bytes: SIZE});
    expect(a.requests.filter((r) => r.path === '/rr/chunked-fin')[1]!.headers['if-range']).toBe('"v1"');
    expect(sha256Hex(await readFile(join(out, 'big.bin')))).toBe(sha256Hex(source));
    rangeRoute(a, '/rr/chunked-fin-once', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6, chunkedClose: true});
    const once = await runCli(['--json', '--retries', '0', await writeList([`${a.url}/rr/chunked-fin-once`])]);
    expect(once.records()[0]).toMatchObject({ok: false, error: {code: 'reset', message: expect.stringContaining('closed the connection')}});
  });

  it('a 416 to our own Range starts the body over in the same attempt', async () => {
    let n = 0;
    a.route('/rr/416', (req, res) => {
      n++;
      if (req.headers.range !== undefined) {
        res.writeHead(416, {'content-range': `bytes */${SIZE}`, 'content-length': 0});
        res.end();
        return;
      }
      res.writeHead(200, {etag: '"v1"', 'accept-ranges': 'bytes', 'content-length': SIZE});
      if (n === 1) res.write(source.subarray(0, SIZE / 2), () => req.socket.destroy());
      else res.end(source);
    });
    const out = await makeTempDir();
    a.resetStats();
    const result = await runCli(['--json', '-o', out, '--retries', '1', '--retry-delay', '10ms', await writeList([`${a.url}/rr/416  whole.bin`])]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 200, attempts: 2, bytes: SIZE});
    expect(a.requests.filter((r) => r.path === '/rr/416').map((r) => r.headers.range === undefined)).toEqual([true, false, true]);
    expect(sha256Hex(await readFile(join(out, 'whole.bin')))).toBe(sha256Hex(source));
  });

  it('continues a body broken at 60% with Range and If-Range on stdout', async () => {
    rangeRoute(a, '/rr/stdout', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6});
    const list = await writeList([`${a.url}/rr/stdout`]);
    a.resetStats();
    const result = await runCli(['--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code).toBe(0);
    const reqs = a.requests.filter((r) => r.path === '/rr/stdout');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(reqs[1]!.headers['if-range']).toBe('"v1"');
    expect(result.stdout.length).toBe(SIZE);
    expect(sha256Hex(result.stdout)).toBe(sha256Hex(source));
  });

  it('with --json and no -o (bodies read and discarded) resumes with Range too; bytes and sha256 whole', async () => {
    rangeRoute(a, '/rr/discard', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6});
    const list = await writeList([`${a.url}/rr/discard`]);
    a.resetStats();
    const result = await runCli(['--json', '--checksum', '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 206, attempts: 2, bytes: SIZE, file: null, sha256: sha256Hex(source)});
    const reqs = a.requests.filter((r) => r.path === '/rr/discard');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(reqs[1]!.headers['if-range']).toBe('"v1"');
  });

  it('behind a redirect, resumes at the URL that sent the body, not at the redirector', async () => {
    rangeRoute(b, '/rr/behind', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6});
    const out = await makeTempDir();
    const list = await writeList([`${a.url}/redirect/1?to=${encodeURIComponent(`${b.url}/rr/behind`)}  via.bin`]);
    a.resetStats();
    b.resetStats();
    const result = await runCli(['--json', '-o', out, '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 206, attempts: 2, bytes: SIZE, final_url: `${b.url}/rr/behind`});
    // The redirector never sees the resource's Range or validator; the resource gets both.
    expect(a.requests.map((r) => [r.path, r.headers.range, r.headers['if-range']])).toEqual([
      ['/redirect/1', undefined, undefined],
      ['/redirect/1', undefined, undefined],
    ]);
    const reqs = b.requests.filter((r) => r.path === '/rr/behind');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(reqs[1]!.headers['if-range']).toBe('"v1"');
    expect(sha256Hex(await readFile(join(out, 'via.bin')))).toBe(sha256Hex(source));
  });

  it('a Range the user asks for with -H is theirs: the 206 is the body, and a break starts over', async () => {
    rangeRoute(a, '/rr/user', {version: () => ({body: source, etag: '"v1"'}), ranges: true, breakAt: 0.6});
    const list = await writeList([`${a.url}/rr/user`]);
    a.resetStats();
    const result = await runCli(['--json', '-o', await makeTempDir(), '-H', 'Range: bytes=1000-', '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code, result.stderr).toBe(0);
    const [record] = result.records();
    expect(record).toMatchObject({ok: true, status: 206, attempts: 2, bytes: SIZE - 1000});
    expect(sha256Hex(await readFile(record.file as string))).toBe(sha256Hex(source.subarray(1000)));
    expect(a.requests.map((r) => [r.headers.range, r.headers['if-range']])).toEqual([['bytes=1000-', undefined], ['bytes=1000-', undefined]]);
  });

  it('refetches the whole body from a server without ranges', async () => {
    rangeRoute(a, '/rr/noranges', {version: () => ({body: source, etag: '"v1"'}), ranges: false, breakAt: 0.6});
    const out = await makeTempDir();
    const list = await writeList([`${a.url}/rr/noranges  whole.bin`]);
    a.resetStats();
    const result = await runCli(['--json', '-o', out, '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 200, attempts: 2, bytes: SIZE});
    const reqs = a.requests.filter((r) => r.path === '/rr/noranges');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toBeUndefined();
    expect(reqs[1]!.headers['if-range']).toBeUndefined();
    expect(sha256Hex(await readFile(join(out, 'whole.bin')))).toBe(sha256Hex(source));
    expect(await listFiles(out)).toEqual(['whole.bin']);
  });

  it('starts over cleanly when the ETag changed between attempts (If-Range mismatch → 200)', async () => {
    rangeRoute(a, '/rr/changed', {version: (n) => (n === 1 ? {body: source, etag: '"v1"'} : {body: other, etag: '"v2"'}), ranges: true, breakAt: 0.6});
    const out = await makeTempDir();
    const list = await writeList([`${a.url}/rr/changed  new.bin`]);
    a.resetStats();
    const result = await runCli(['--json', '--checksum', '-o', out, '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code).toBe(0);
    const reqs = a.requests.filter((r) => r.path === '/rr/changed');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(reqs[1]!.headers['if-range']).toBe('"v1"');
    expect(result.records()[0]).toMatchObject({ok: true, status: 200, attempts: 2, bytes: SIZE, sha256: sha256Hex(other)});
    expect(sha256Hex(await readFile(join(out, 'new.bin')))).toBe(sha256Hex(other));
    expect(await listFiles(out)).toEqual(['new.bin']);
  });

  it('never joins a 206 that does not continue the body (another ETag, total, offset or end): asks for the whole body again', async () => {
    // The second request (the resume) gets a lying 206; the third must be a plain GET of the whole body.
    const lies: Record<string, (from: number) => {headers: http.OutgoingHttpHeaders; body: Buffer; chunked?: boolean}> = {
      etag: (from) => ({headers: {etag: '"v2"', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`}, body: other.subarray(from)}),
      total: (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-${SIZE + 99}/${SIZE + 100}`}, body: Buffer.concat([source.subarray(from), other.subarray(0, 100)])}),
      offset: (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from + 10}-${SIZE - 1}/${SIZE}`}, body: source.subarray(from + 10)}),
      short: (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-${from + 99}/${SIZE}`}, body: source.subarray(from, from + 100)}),
      none: (from) => ({headers: {etag: '"v1"'}, body: source.subarray(from)}),
      // Its own headers disagree: a Content-Length other than the range's length, a range that runs backwards.
      'length-short': (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`}, body: source.subarray(from, from + 100)}),
      'length-long': (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`}, body: Buffer.concat([source.subarray(from), other.subarray(0, 100)])}),
      backwards: (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-99/100`}, body: Buffer.alloc(0)}),
      // Chunked, so only the bytes that came show it ends short of its range.
      'chunked-short': (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`}, body: source.subarray(from, from + 100), chunked: true}),
      // A range of the gzip-coded body (RFC 9110): no continuation of identity bytes.
      coded: (from) => ({headers: {etag: '"v1"', 'content-encoding': 'gzip', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`}, body: other.subarray(from)}),      // Chunked, its Content-Range starting past the offset asked for: not the continuation, whatever its length.
      'offset-chunked': (from) => ({headers: {etag: '"v1"', 'content-range': `bytes ${from + 10}-${SIZE - 1}/${SIZE}`}, body: source.subarray(from), chunked: true}),
    };
    const out = await makeTempDir();
    for (const [lie, answer] of Object.entries(lies)) {
      let n = 0;
      a.route(`/rr/lie-${lie}`, (req, res) => {
        n++;
        const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        if (n === 2 && m !== null) {
          const {headers, body, chunked} = answer(Number(m[1]));
          res.writeHead(206, {...headers, 'accept-ranges': 'bytes', ...(chunked === true ? {} : {'content-length': body.length})});
          res.end(body);
          return;
        }
        res.writeHead(200, {etag: '"v1"', 'accept-ranges': 'bytes', 'content-length': SIZE});
        if (n === 1) res.write(source.subarray(0, SIZE / 2), () => req.socket.destroy());
        else res.end(source);
      });
    }
    const names = Object.keys(lies);
    const list = await writeList(names.map((lie) => `${a.url}/rr/lie-${lie}  ${lie}.bin`));
    a.resetStats();
    const result = await runCli(['--json', '--checksum', '-o', out, '--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code, result.stderr).toBe(0);
    for (const record of result.records()) expect(record).toMatchObject({ok: true, status: 200, attempts: 2, bytes: SIZE, sha256: sha256Hex(source)});
    for (const lie of names) {
      const reqs = a.requests.filter((r) => r.path === `/rr/lie-${lie}`);
      expect(reqs.map((r) => [r.headers.range === undefined, r.headers['if-range']])).toEqual([[true, undefined], [false, '"v1"'], [true, undefined]]);
      expect(sha256Hex(await readFile(join(out, `${lie}.bin`)))).toBe(sha256Hex(source));
    }
    expect(await listFiles(out)).toEqual(names.map((lie) => `${lie}.bin`).sort());
  });

  it('resumes only on a strong validator of an identity body: a weak ETag or a content coding starts over; a 206 of another Last-Modified is not joined', async () => {
    const LM1 = new Date(Date.UTC(2024, 0, 1)).toUTCString();
    const LM2 = new Date(Date.UTC(2024, 5, 1)).toUTCString();
    // The first answer's validators; the second request's answer (a 206 when it asked for a range).
    const kinds: Record<string, {validators: http.OutgoingHttpHeaders; partial?: (from: number) => {headers: http.OutgoingHttpHeaders; body: Buffer}}> = {
      weak: {validators: {etag: 'W/"v1"'}},
      coded: {validators: {etag: '"v1"', 'content-encoding': 'gzip'}},
      'last-modified': {validators: {'last-modified': LM1}, partial: (from) => ({headers: {'last-modified': LM2}, body: other.subarray(from)})},
    };
    for (const [kind, {validators, partial}] of Object.entries(kinds)) {
      let n = 0;
      a.route(`/rr/validator-${kind}`, (req, res) => {
        n++;
        const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        if (m !== null && partial !== undefined) {
          const from = Number(m[1]);
          const {headers, body} = partial(from);
          res.writeHead(206, {...headers, 'accept-ranges': 'bytes', 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`, 'content-length': body.length});
          res.end(body);
          return;
        }
        res.writeHead(200, {...validators, 'accept-ranges': 'bytes', 'content-length': SIZE});
        if (n === 1) res.write(source.subarray(0, SIZE / 2), () => req.socket.destroy());
        else res.end(source);
      });
    }
    const names = Object.keys(kinds);
    const out = await makeTempDir();
    a.resetStats();
    const result = await runCli(['--json', '--checksum', '-o', out, '--retries', '1', '--retry-delay', '10ms', await writeList(names.map((kind) => `${a.url}/rr/validator-${kind}  ${kind}.bin`))]);
    expect(result.code, result.stderr).toBe(0);
    for (const record of result.records()) expect(record).toMatchObject({ok: true, status: 200, attempts: 2, bytes: SIZE, sha256: sha256Hex(source)});
    const sent = (kind: string) =>
      a.requests.filter((r) => r.path === `/rr/validator-${kind}`).map((r) => [r.headers.range === undefined ? undefined : 'range', r.headers['if-range']]);
    expect(sent('weak')).toEqual([[undefined, undefined], [undefined, undefined]]);
    expect(sent('coded')).toEqual([[undefined, undefined], [undefined, undefined]]);
    expect(sent('last-modified')).toEqual([[undefined, undefined], ['range', LM1], [undefined, undefined]]);
    for (const kind of names) expect(sha256Hex(await readFile(join(out, `${kind}.bin`)))).toBe(sha256Hex(source));
  });

  it('a 206 to a plain GET whose body is not what its Content-Range says is `protocol`, never kept as the whole body', async () => {
    const answers: Record<string, {length: number; body: Buffer; chunked?: boolean}> = {
      'cl-short': {length: 100, body: source.subarray(0, 100)},
      'chunked-short': {length: -1, body: source.subarray(0, 100), chunked: true},
    };
    for (const [name, {body, chunked}] of Object.entries(answers)) {
      a.route(`/rr/whole-${name}`, (_req, res) => {
        res.writeHead(206, {'content-range': `bytes 0-${SIZE - 1}/${SIZE}`, ...(chunked === true ? {} : {'content-length': body.length})});
        res.end(body);
      });
    }
    const out = await makeTempDir();
    const list = await writeList(Object.keys(answers).map((name) => `${a.url}/rr/whole-${name}  ${name}.bin`));
    const result = await runCli(['--json', '--ordered', '-o', out, list]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.records().map((r) => [r.ok, r.status, r.attempts, r.error?.code])).toEqual([[false, 206, 1, 'protocol'], [false, 206, 1, 'protocol']]);
    expect(await listFiles(out)).toEqual([]);
  });

  it('starts over cleanly on stdout when the ETag changed', async () => {
    rangeRoute(a, '/rr/changed-stdout', {version: (n) => (n === 1 ? {body: source, etag: '"v1"'} : {body: other, etag: '"v2"'}), ranges: true, breakAt: 0.6});
    const list = await writeList([`${a.url}/rr/changed-stdout`]);
    const result = await runCli(['--retries', '1', '--retry-delay', '10ms', list]);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(SIZE);
    expect(sha256Hex(result.stdout)).toBe(sha256Hex(other));
  });
});

describe('expected and computed SHA-256', () => {
  const body = 'body of sha\n';

  it('accepts a body matching the entry sha256 and fails a mismatch as checksum, keeping no file', async () => {
    const out = await makeTempDir();
    const good = sha256Hex(body);
    const bad = 'ab'.repeat(32);
    const list = await writeList([
      JSON.stringify({url: `${a.url}/text/sha`, name: 'good.txt', sha256: good.toUpperCase()}),
      JSON.stringify({url: `${a.url}/text/sha?2`, name: 'bad.txt', sha256: bad}),
    ]);
    const result = await runCli(['--json', '-o', out, '--retry-delay', '10ms', list]);
    expect(result.code).toBe(1);
    const records = result.records().sort((x, y) => x.index - y.index);
    expect(records[0]).toMatchObject({ok: true, sha256: good, file: join(out, 'good.txt'), error: null});
    expect(records[1]).toMatchObject({ok: false, file: null, error: {code: 'checksum'}});
    expect(records[1].attempts).toBe(1); // checksum is never retried
    expect(await readFile(join(out, 'good.txt'), 'utf8')).toBe(body);
    // Neither the final name nor a temporary file is left for the mismatch.
    expect(await listFiles(out)).toEqual(['good.txt']);
  });

  it('--checksum puts the digest in every ok record, to files and to stdout', async () => {
    const urls = ['x', 'y', 'z'].map((n) => `${a.url}/text/${n}`);
    const list = await writeList(urls);
    const out = await makeTempDir();
    for (const args of [['--json', '-o', out], ['--json']]) {
      const result = await runCli([...args, '--checksum', list]);
      expect(result.code).toBe(0);
      const records = result.records();
      expect(records).toHaveLength(3);
      for (const r of records) expect(r.sha256).toBe(sha256Hex(`body of ${r.url.split('/').pop()}\n`));
    }
    // Without --checksum and without an expected digest, nothing is computed.
    const plain = await runCli(['--json', list]);
    expect(plain.records().every((r) => r.sha256 === null)).toBe(true);
  });
});

describe('JSON entry lines mixed with plain lines', () => {
  it('sends per-entry headers replacing -H case-insensitively, uses the name, and rejects bad entries naming the line', async () => {
    const out = await makeTempDir();
    const list = await writeList([
      '# plain and JSON lines mixed',
      `${a.url}/echo-headers?plain  plain.json`,
      JSON.stringify({url: `${a.url}/echo-headers?json`, name: 'sub/entry.json', headers: {'X-TOKEN': 'mine', 'X-Extra': 'e'}}),
      JSON.stringify({url: `${a.url}/text/u`, colour: 'red'}),
      JSON.stringify({url: `${a.url}/text/s`, sha256: 'xyz'}),
      JSON.stringify({url: `${a.url}/text/h`, headers: {'X-Bad': 'a\rb'}}),
      '{"url": broken',
    ]);
    a.resetStats();
    const result = await runCli(['--json', '-o', out, '-H', 'X-Token: global', '-H', 'X-Keep: k', list]);
    expect(result.code).toBe(1);
    const records = result.records().sort((x, y) => x.index - y.index);
    expect(records.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of records) expect(Object.keys(r)).toEqual(RECORD_KEYS);

    const plain = a.requests.find((r) => r.url === '/echo-headers?plain')!;
    const json = a.requests.find((r) => r.url === '/echo-headers?json')!;
    expect(plain.headers['x-token']).toBe('global');
    expect(plain.headers['x-extra']).toBeUndefined();
    expect(json.headers['x-token']).toBe('mine'); // replaced, not merged into "global, mine"
    expect(json.headers['x-extra']).toBe('e');
    expect(json.headers['x-keep']).toBe('k');
    expect(records[0]).toMatchObject({ok: true, file: join(out, 'plain.json')});
    expect(records[1]).toMatchObject({ok: true, file: join(out, 'sub', 'entry.json')});
    expect(JSON.parse(await readFile(join(out, 'sub', 'entry.json'), 'utf8'))['x-token']).toBe('mine');

    const bad = records.slice(2);
    for (const r of bad) expect(r).toMatchObject({ok: false, attempts: 0, error: {code: 'invalid_url'}});
    expect(bad[0].error.message).toMatch(/urls\.txt:4:.*colour/);
    expect(bad[1].error.message).toMatch(/urls\.txt:5:.*sha256/);
    expect(bad[2].error.message).toMatch(/urls\.txt:6:/);
    expect(bad[3].error.message).toMatch(/urls\.txt:7:/);
    // No request for an invalid entry.
    expect(a.requests.filter((r) => r.path.startsWith('/text/'))).toHaveLength(0);
  });
});

describe('--max-failures', () => {
  it('N: stops once more than 3 URLs have failed', async () => {
    const urls = Array.from({length: 20}, (_, i) => `${a.url}/status/500?mf=${i}`);
    const list = await writeList(urls);
    a.resetStats();
    const result = await runCli(['--json', '-c', '2', '--retries', '0', '--max-failures', '3', list]);
    expect(result.code).toBe(1);
    const failed = result.records().filter((r) => r.ok === false && r.error.code === 'http_status');
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(failed.length).toBeLessThanOrEqual(5);
    const sent = a.requests.filter((r) => r.path === '/status/500').length;
    expect(sent).toBeLessThan(urls.length);
    expect(sent).toBeLessThanOrEqual(6);
  });

  it('N%: counts only once 20 have finished, and stops once more than 5% have failed', async () => {
    // 2 failures of 40 (the last two) are 5%, not more: the run goes to the end.
    const fine = [...Array.from({length: 38}, (_, i) => `${a.url}/text/p${i}`), `${a.url}/status/500?p=a`, `${a.url}/status/500?p=b`];
    const ok = await runCli(['--json', '-c', '1', '--retries', '0', '--max-failures', '5%', await writeList(fine)]);
    expect(ok.code).toBe(1);
    expect(ok.records()).toHaveLength(40);
    expect(ok.records().filter((r) => r.ok === false)).toHaveLength(2);

    // 10 early failures: no stop before 20 have finished, then 10/20 > 5% stops the run.
    const many = [...Array.from({length: 10}, (_, i) => `${a.url}/status/500?q=${i}`), ...Array.from({length: 30}, (_, i) => `${a.url}/text/q${i}`)];
    a.resetStats();
    const stopped = await runCli(['--json', '-c', '1', '--retries', '0', '--max-failures', '5%', await writeList(many)]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/ · stopped: more than --max-failures 5% failed$/m);
    const records = stopped.records();
    expect(records.filter((r) => r.ok === false && r.error.code === 'http_status')).toHaveLength(10);
    // The 20th verdict stops the run before its slot can start a 21st entry.
    expect(records).toHaveLength(20);
    expect(records.filter((r) => r.error?.code === 'aborted')).toEqual([]);
    expect(a.requests).toHaveLength(20);
    // A --fail-fast that fires at the last URL cut nothing short: the summary names no stop.
    const last = await runCli(['-c', '1', '--retries', '0', '--fail-fast', await writeList([`${a.url}/text/l1`, `${a.url}/status/404?last=1`])]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/^fetchall: 2 URLs in .* URLs\/s$/m);
  });

  it('with -c 1 starts nothing after the failure that crosses the limit: no aborted record for it', async () => {
    const list = await writeList([`${a.url}/status/404?mf=1`, `${a.url}/status/404?mf=2`, `${a.url}/text/mf-n1`, `${a.url}/text/mf-n2`]);
    a.resetStats();
    const result = await runCli(['--json', '-c', '1', '--max-failures', '1', list]);
    expect(result.code).toBe(1);
    expect(result.records().map((r) => [r.index, r.error?.code])).toEqual([[1, 'http_status'], [2, 'http_status']]);
    expect(a.requests.map((r) => r.path)).toEqual(['/status/404', '/status/404']);
    expect(result.stderr).toContain('2 not started');
  });

  it('--fail-fast also stops before the next entry when the failure comes after the body (a checksum)', async () => {
    const wrong = '0'.repeat(64);
    const list = await writeList([JSON.stringify({url: `${a.url}/text/ff-sum`, sha256: wrong}), `${a.url}/text/ff-next`]);
    a.resetStats();
    const result = await runCli(['--json', '-c', '1', '--fail-fast', list]);
    expect(result.code).toBe(1);
    expect(result.records().map((r) => [r.index, r.error?.code])).toEqual([[1, 'checksum']]);
    expect(a.requests.map((r) => r.path)).toEqual(['/text/ff-sum']);
  });
});

describe('--deadline', () => {
  it('exits 124 in time with a valid report, and --resume completes the rest without refetching', async () => {
    // Two quick bodies first, so some URLs are surely ok when the deadline strikes, however slow the start.
    const urls = [`${a.url}/slow?ms=1&d=0`, `${a.url}/slow?ms=1&d=1`, ...Array.from({length: 18}, (_, i) => `${a.url}/slow?ms=800&d=${i + 2}`)];
    const list = await writeList(urls);
    const dir = await makeTempDir();
    const report = join(dir, 'report.jsonl');
    const out = join(dir, 'out');
    a.resetStats();
    const started = performance.now();
    const first = await runCli(['--json', '-c', '2', '--deadline', '2s', '--report', report, '-o', out, '--name', '{index}.txt', list], {timeoutMs: 10_000});
    const elapsed = performance.now() - started;
    expect(first.code).toBe(124);
    expect(elapsed).toBeLessThan(3500);
    expect(first.stderr).not.toMatch(/at .*\.js:\d+/);

    const lines = parseJsonLines(await readFile(report, 'utf8'));
    for (const r of lines) expect(Object.keys(r)).toEqual(RECORD_KEYS);
    const okFirst = lines.filter((r) => r.ok === true).map((r) => r.url as string);
    expect(okFirst.length).toBeGreaterThanOrEqual(2);
    expect(okFirst.length).toBeLessThan(20);
    for (const r of lines.filter((x) => x.ok === false)) expect(r.error.code).toBe('aborted');
    // The deadline leaves no temporary file: only the finished bodies.
    expect(await listFiles(out)).toHaveLength(okFirst.length);
    const firstHits = a.requests.filter((r) => r.path === '/slow').length;

    a.resetStats();
    const second = await runCli(['--json', '-c', '8', '--report', report, '--resume', '-o', out, '--name', '{index}.txt', list], {timeoutMs: 15_000});
    expect(second.code).toBe(0);
    const fetched = a.requests.filter((r) => r.path === '/slow').map((r) => r.url);
    expect(fetched).toHaveLength(20 - okFirst.length);
    for (const url of okFirst) expect(fetched).not.toContain(url.slice(a.url.length));
    expect(firstHits + fetched.length).toBeGreaterThanOrEqual(20);

    // Every URL's latest record in the report is ok, and every file is there.
    const latest = new Map<string, boolean>();
    for (const r of parseJsonLines(await readFile(report, 'utf8'))) latest.set(r.url, r.ok);
    expect(latest.size).toBe(20);
    expect([...latest.values()].every(Boolean)).toBe(true);
    expect(await listFiles(out)).toHaveLength(20);
  });
});
