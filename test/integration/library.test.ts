// fetchAll as a library: records over strings and objects, bad options, abort, early break, lazy pulling.
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import type http from 'node:http';
import {mkdir, readdir, readFile, writeFile} from 'node:fs/promises';
import {createServer as createTcpServer, type AddressInfo, type Socket} from 'node:net';
import {join} from 'node:path';
import {runInNewContext} from 'node:vm';
import {afterAll, afterEach, beforeAll, describe, expect, test, vi} from 'vitest';
import {fetchAll, Semaphore, type EntryInput, type FetchRecord} from '../../src/index.js';
import {cleanupTemp, makeTempDir} from '../helpers/cli.js';
import {expectedBytes, sha256Hex, startTestServer, textBody, type TestServer} from '../helpers/server.js';

const RECORD_KEYS = ['index', 'url', 'ok', 'status', 'final_url', 'bytes', 'duration_ms', 'attempts', 'file', 'skipped', 'sha256', 'error'];

let server: TestServer;
/** Requests to `/hang` that are open now; each resolves `closed` when its connection goes away. */
const hanging = new Set<http.IncomingMessage>();
let hangArrived: (() => void) | undefined;

beforeAll(async () => {
  server = await startTestServer();
  // Never answers: the request stays in flight until the client gives up on it.
  server.route('/hang', (req) => {
    hanging.add(req);
    req.socket.once('close', () => hanging.delete(req));
    hangArrived?.();
  });
});
afterAll(async () => {
  await server.close();
  await cleanupTemp();
});
afterEach(() => {
  server.resetStats();
});

/** Resolves once `n` requests to /hang are open at the same time. */
async function hangsOpen(n: number): Promise<void> {
  while (hanging.size < n) await new Promise<void>((resolve) => (hangArrived = resolve));
  hangArrived = undefined;
}

/** Resolves once no /hang request has an open connection. */
async function hangsClosed(): Promise<void> {
  await Promise.all([...hanging].map((req) => (req.socket.destroyed ? undefined : once(req.socket, 'close'))));
}

async function collect(iterable: AsyncIterable<FetchRecord>): Promise<FetchRecord[]> {
  const out: FetchRecord[] = [];
  for await (const record of iterable) out.push(record);
  return out;
}

describe('fetchAll: records', () => {
  test('strings, URL objects and entry objects give one record each, keys in contract order', async () => {
    const sha = sha256Hex(expectedBytes(1000));
    const records = await collect(
      fetchAll(
        [
          `${server.url}/text/a`,
          new URL(`${server.url}/bytes/1000`),
          {url: `${server.url}/bytes/1000`, name: 'b.bin', sha256: sha},
          {url: `${server.url}/echo-headers`, headers: {'X-Entry': 'yes'}},
          `${server.url}/status/404`,
          'ftp://a.test/x',
          {url: `${server.url}/bytes/10`, sha256: 'nothex'},
        ],
        {concurrency: 3, retries: 0},
      ),
    );
    expect(records).toHaveLength(7);
    for (const record of records) expect(Object.keys(record)).toEqual(RECORD_KEYS);
    const byIndex = new Map(records.map((r) => [r.index, r]));
    expect([...byIndex.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const a = byIndex.get(1)!;
    expect(a).toMatchObject({
      url: `${server.url}/text/a`, ok: true, status: 200, final_url: `${server.url}/text/a`,
      bytes: Buffer.byteLength(textBody('a')), attempts: 1, file: null, skipped: false, sha256: null, error: null,
    });
    expect(typeof a.duration_ms).toBe('number');
    expect(a.duration_ms).toBeGreaterThanOrEqual(0);

    expect(byIndex.get(2)).toMatchObject({url: `${server.url}/bytes/1000`, ok: true, bytes: 1000});
    // An expected sha256 is always checked, and the digest is reported.
    expect(byIndex.get(3)).toMatchObject({ok: true, bytes: 1000, sha256: sha, file: null});
    expect(byIndex.get(4)).toMatchObject({ok: true, status: 200});
    expect(byIndex.get(5)).toMatchObject({ok: false, status: 404, attempts: 1, error: {code: 'http_status'}});
    expect(byIndex.get(6)).toMatchObject({
      url: 'ftp://a.test/x', ok: false, status: null, final_url: null, attempts: 0, error: {code: 'invalid_url'},
    });
    expect(byIndex.get(6)!.error!.message).toMatch(/^entry 6: /);
    expect(byIndex.get(7)).toMatchObject({ok: false, attempts: 0, error: {code: 'invalid_url'}});

    const echo = server.requests.find((r) => r.path === '/echo-headers');
    expect(echo?.headers['x-entry']).toBe('yes');
    // ftp and the bad sha256 sent nothing.
    expect(server.requests).toHaveLength(6 - 1);
  });

  test('an empty input gives no record', async () => {
    expect(await collect(fetchAll([]))).toEqual([]);
  });

  test('with outputDir each body is saved under its name', async () => {
    const dir = await makeTempDir();
    const records = await collect(
      fetchAll([`${server.url}/text/one`, {url: `${server.url}/bytes/500`, name: 'sub/b.bin'}], {outputDir: dir, ordered: true}),
    );
    expect(records.map((r) => r.file)).toEqual([join(dir, 'one'), join(dir, 'sub/b.bin')]);
    expect(await readFile(join(dir, 'one'), 'utf8')).toBe(textBody('one'));
    expect((await readFile(join(dir, 'sub/b.bin'))).equals(expectedBytes(500))).toBe(true);
  });

  test('ordered: records come out in input order even when later entries finish first', async () => {
    const urls = [800, 10, 400, 10, 200, 10].map((ms, i) => `${server.url}/slow?ms=${ms}&i=${i}`);
    const records = await collect(fetchAll(urls, {concurrency: 6, ordered: true}));
    expect(records.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    const unordered = await collect(fetchAll(urls, {concurrency: 6}));
    expect(unordered[0]!.index).not.toBe(1);
  });

  test('concurrency bounds the requests in flight exactly', async () => {
    const urls = Array.from({length: 12}, (_, i) => `${server.url}/slow?ms=150&i=${i}`);
    const records = await collect(fetchAll(urls, {concurrency: 3}));
    expect(records.every((r) => r.ok)).toBe(true);
    expect(server.maxInFlight).toBe(3);
  });

  test('the library writes nothing to stdout or stderr', async () => {
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    try {
      await collect(fetchAll([`${server.url}/text/quiet`, `${server.url}/status/500`, 'nope'], {retries: 0}));
      expect(out).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  test('the Semaphore is exported', () => {
    expect(new Semaphore(2).available).toBe(2);
  });
});

describe('fetchAll: bad options', () => {
  test.each([
    [{concurrency: 0}],
    [{concurrency: 1.5}],
    [{concurrency: 'abc'}],
    [{retries: -1}],
    [{timeout: 'soon'}],
    [{maxSize: 0}],
    [{header: ['nocolon']}],
    [{shard: '3/2'}],
    // Wrong types, unknown names, and options that need another, as the CLI's usage errors.
    [{outputDir: 5}],
    [{userAgent: 5}],
    [{header: {'x-n': 5}}],
    [{compressed: 'no'}],
    [{checksum: 'false'}],
    [{concurency: 3}],
    [{skipExisting: true}],
    [{name: '{index}'}],
    [{resume: true}],
    // Beyond what a Node timer holds (it would fire at once, with a warning on stderr).
    [{connectTimeout: 3e9}],
    [{timeout: 3e9}],
    [{deadline: 3e9}],
    [{retryDelay: 3e9}],
    [{rate: 1e-7}],
    [{rate: '0.0000001'}],
  ])('%j throws a TypeError at once, before any request', (options) => {
    let pulled = false;
    const input = (function* () {
      pulled = true;
      yield `${server.url}/text/never`;
    })();
    expect(() => fetchAll(input, options as never)).toThrow(TypeError);
    expect(pulled).toBe(false);
    expect(server.requests).toHaveLength(0);
  });

  test.each([
    ['a lone string', 'https://a.test/x', {}],
    ['a URL object', new URL('https://a.test/x'), {}],
    ['a number', 5, {}],
    ['null', null, {}],
    ['options null', [], null],
    ['a signal that is not an AbortSignal', [], {signal: 'stop'}],
  ])('%s throws a TypeError at once', (_what, entries, options) => {
    expect(() => fetchAll(entries as never, options as never)).toThrow(TypeError);
  });

  test('the TypeError names the option', () => {
    expect(() => fetchAll([], {concurrency: 0})).toThrow(/concurrency/);
    expect(() => fetchAll([], {concurency: 3} as never)).toThrow(/options\.concurency is not an option/);
  });

  test('headers is another name for header; giving both is a TypeError', async () => {
    // Typed as it is accepted (no cast): strict tsc type-checks these tests.
    const records = await collect(fetchAll([`${server.url}/text/h`], {headers: {'x-lib': 'yes'}}));
    expect(records.map((r) => r.ok)).toEqual([true]);
    expect(server.requests[0]!.headers['x-lib']).toBe('yes');
    expect(() => fetchAll([], {header: ['a: 1'], headers: {b: '2'}} as never)).toThrow(TypeError);
    // A bad value is named as the caller spelled the option.
    expect(() => fetchAll([], {headers: ['bad']})).toThrow(/options\.headers must be/);
    expect(() => fetchAll([], {headers: {Host: 'x'}})).toThrow(/options\.headers: header "Host" cannot be set/);
  });

  test('a head trickling in is not an idle timeout, even once Node\'s own fetch() has run in the process', async () => {
    // Node's bundled undici publishes on the diagnostics channel the exchanges learn their socket from;
    // its first message used to take the place of ours for good. A fresh process, so it comes first.
    const script = `
      import {fetchAll} from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      const [slow, quick] = process.argv.slice(1);
      for await (const r of fetchAll(['http://127.0.0.1:1/refused'], {retries: 0})) void r;
      await (await fetch(quick)).text();
      for await (const r of fetchAll([slow], {idleTimeout: 300, retries: 0})) process.stdout.write(JSON.stringify(r));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, `${server.url}/slow-head`, `${server.url}/text/q`], {stdio: ['ignore', 'pipe', 'pipe']});
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ok: true, status: 200, bytes: 2});
  });

  test('the types refuse what the runtime refuses: a lone string, a method other than GET or HEAD', () => {
    // @ts-expect-error a string is an iterable of its characters, not a list of one URL
    expect(() => fetchAll('https://a.test/x')).toThrow(TypeError);
    // @ts-expect-error only GET and HEAD
    expect(() => fetchAll([], {method: 'POST'})).toThrow(TypeError);
    expect(() => fetchAll([], {method: 'head'})).not.toThrow();
  });

  test('plain objects from another realm (a vm context, a sandbox) are plain objects; a generic wrapper over fetchAll type-checks', async () => {
    const foreign = runInNewContext('({entry: {url: U + "/text/realm", headers: {"x-realm": "1"}}, header: {"x-opt": "2"}})', {U: server.url}) as {entry: {url: string; headers: Record<string, string>}; header: Record<string, string>};
    // A wrapper generic in its entries, as a caller writes one.
    const run = <I extends Iterable<EntryInput>>(entries: I): Promise<FetchRecord[]> => collect(fetchAll(entries, {header: foreign.header}));
    const records = await run([foreign.entry]);
    expect(records.map((r) => [r.ok, r.error])).toEqual([[true, null]]);
    expect(server.requests[0]!.headers).toMatchObject({'x-realm': '1', 'x-opt': '2'});
  });

  test('headers as a Headers or a Map (no own keys) are refused, never dropped without a word', async () => {
    // Keys on a prototype (one made with Object.create(null)) are no own keys either.
    const base = Object.assign(Object.create(null) as Record<string, string>, {authorization: 'Bearer T'});
    for (const headers of [new Headers({authorization: 'Bearer T'}), new Map([['authorization', 'Bearer T']]), Object.create(base) as Record<string, string>]) {
      expect(() => fetchAll([], {headers: headers as never})).toThrow(/options\.headers must be .*\(got (Headers|Map|an object)\)/);
    }
    const records = await collect(fetchAll([
      {url: `${server.url}/text/hd1`, headers: new Headers({authorization: 'Bearer T'}) as never},
      {url: `${server.url}/text/hd2`, headers: new Map([['authorization', 'Bearer T']]) as never},
      new Request(`${server.url}/text/hd3`, {headers: {authorization: 'Bearer T'}}) as never,
      Object.create({url: `${server.url}/text/hd4`}) as never,
    ], {ordered: true}));
    expect(records.map((r) => [r.ok, r.error?.code])).toEqual(Array.from({length: 4}, () => [false, 'invalid_url']));
    expect(records[0]!.error!.message).toMatch(/"headers" must be a plain object of strings \(got Headers\)/);
    expect(records[2]!.error!.message).toMatch(/an entry must be a plain object .*\(got Request\)/);
    // The record names the URL such an entry carries (a Request's JSON is {}).
    expect(records.slice(2).map((r) => r.url)).toEqual([`${server.url}/text/hd3`, `${server.url}/text/hd4`]);
    expect(server.requests).toHaveLength(0);
  });

  test('CLI flags about the terminal (json, quiet, …) are accepted and change nothing', async () => {
    const records = await collect(fetchAll([`${server.url}/text/tty`], {json: true, quiet: true, progress: false, verbose: false, color: true}));
    expect(records.map((r) => r.ok)).toEqual([true]);
  });
});

describe('fetchAll: output folder and report', () => {
  test('an outputDir that cannot be made throws before any request (not aborted records); the run says so', async () => {
    const root = await makeTempDir();
    await writeFile(join(root, 'file'), '');
    const run = fetchAll([`${server.url}/text/nodir`], {outputDir: join(root, 'file', 'sub')});
    await expect(collect(run)).rejects.toMatchObject({name: 'OutputError', code: 'ENOTDIR'});
    expect(server.requests).toHaveLength(0);
    expect(run.fatal).toMatchObject({name: 'OutputError', code: 'ENOTDIR'});
    expect(run.stopReason).toBe('output');
  });

  test('dryRun stops on the signal and at the deadline, even with an endless, slow source', async () => {
    async function* endless(): AsyncGenerator<string> {
      for (let i = 0; ; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield `${server.url}/text/plan${i}`;
      }
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const bySignal = await collect(fetchAll(endless(), {dryRun: true, signal: controller.signal}));
    expect(bySignal.length).toBeGreaterThan(0);
    expect(await collect(fetchAll(endless(), {dryRun: true, signal: AbortSignal.abort()}))).toEqual([]);
    const byDeadline = await collect(fetchAll(endless(), {dryRun: true, deadline: '150ms'}));
    expect(byDeadline.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(0);
  });

  test('a report that cannot be written mid-run: every record still yielded, then the OutputError, stopReason output', async () => {
    const urls = Array.from({length: 12}, (_, i) => `${server.url}/text/full${i}`);
    const run = fetchAll(urls, {concurrency: 2, report: '/dev/full'});
    const records: FetchRecord[] = [];
    let thrown: unknown;
    try {
      for await (const record of run) records.push(record);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as {code?: string}).code).toBe('ENOSPC');
    expect(run.stopReason).toBe('output');
    expect(run.fatal).toBe(thrown);
    // The first record (its append failed) and those in flight then: none is lost.
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records.filter((r) => r.ok).length).toBeGreaterThanOrEqual(1);
  });

  test('dryRun yields the would-be records: no request, no folder, no report', async () => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    const report = join(root, 'r.jsonl');
    const records = await collect(fetchAll([`${server.url}/text/a.txt`, 'ftp://x/y', {url: `${server.url}/text/a.txt`}], {dryRun: true, outputDir: out, report, shard: '1/1'}));
    expect(records.map((r) => [r.index, r.ok, r.file, r.attempts, r.error?.code ?? null])).toEqual([
      [1, true, join(out, 'a.txt'), 0, null],
      [2, false, null, 0, 'invalid_url'],
      [3, true, join(out, 'a-1.txt'), 0, null],
    ]);
    expect(server.requests).toHaveLength(0);
    const {existsSync} = await import('node:fs');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(report)).toBe(false);
  });

  test('an entry that is not JSON (a BigInt, a cycle) is one invalid record; the others go on', async () => {
    const cyclic: Record<string, unknown> = {url: `${server.url}/text/c`};
    cyclic['self'] = cyclic;
    const records = await collect(fetchAll([{url: `${server.url}/text/b`, big: 5n} as never, cyclic as never, `${server.url}/text/ok`]));
    expect(records.map((r) => [r.index, r.ok, r.error?.code ?? null]).sort()).toEqual([[1, false, 'invalid_url'], [2, false, 'invalid_url'], [3, true, null]]);
  });

  test('options are read at the call: changing the object afterwards changes nothing', async () => {
    const dir = await makeTempDir();
    const options: Record<string, unknown> = {report: join(dir, 'r.jsonl')};
    const run = fetchAll([`${server.url}/text/snap`], options);
    options['report'] = 42;
    options['resume'] = true;
    const records = await collect(run);
    expect(records.map((r) => r.ok)).toEqual([true]);
    expect((await readFile(join(dir, 'r.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  test('report appends every record as a JSON line; resume skips the URLs whose latest record is ok', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const urls = [`${server.url}/text/r1`, `${server.url}/status/404`];
    const first = await collect(fetchAll(urls, {report, retries: 0}));
    const lines = (await readFile(report, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as FetchRecord);
    expect(lines).toEqual(first);
    const second = await collect(fetchAll(urls, {report, resume: true, retries: 0}));
    expect(second.map((r) => [r.url, r.skipped])).toEqual([[urls[0], true], [urls[1], false]]);
    expect((await readFile(report, 'utf8')).trim().split('\n')).toHaveLength(4);
  });
});

describe('fetchAll: stopping', () => {
  test('a connect timeout closes the connection it gave up on (a TLS handshake never answered)', async () => {
    // Takes the TCP connection and never says a word: the TLS handshake waits for ever.
    const accepted: Socket[] = [];
    let arrived: (() => void) | undefined;
    const silent = createTcpServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => {});
      arrived?.();
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const port = (silent.address() as AddressInfo).port;
      const records = await collect(fetchAll([`https://127.0.0.1:${port}/x`], {connectTimeout: '200ms', retries: 0}));
      expect(records[0]).toMatchObject({ok: false, error: {code: 'timeout'}});
      if (accepted.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
      const socket = accepted[0]!;
      // The client's side is closed when it gives up: the server sees the end within a bound, not never.
      const ended = socket.closed || socket.readableEnded ? Promise.resolve() : new Promise<void>((resolve) => {
        socket.once('end', resolve);
        socket.once('close', () => resolve());
        socket.resume();
      });
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([ended.then(() => 'closed'), new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), 3000)))]);
      clearTimeout(timer);
      expect(outcome).toBe('closed');
    } finally {
      for (const socket of accepted) socket.destroy();
      silent.close();
    }
  });

  test('a break whose closing of the entries\' source throws (its finally) throws that error, as a for await over the source would; a clean one does not', async () => {
    for (const failing of [true, false]) {
      let closed = false;
      const source = (async function* () {
        try {
          for (let i = 0; ; i++) yield `${server.url}/text/gen${i}`;
        } finally {
          closed = true;
          if (failing) throw new Error('the source could not close');
        }
      })();
      const leaving = (async () => {
        let seen = 0;
        for await (const record of fetchAll(source, {concurrency: 2})) {
          void record;
          if (++seen === 3) break;
        }
      })();
      if (failing) await expect(leaving).rejects.toThrow('the source could not close');
      else await expect(leaving).resolves.toBeUndefined();
      expect(closed).toBe(true);
    }
    // A next() that failed while fetchAll read ahead, past where the caller left, is not the caller's.
    let pulls = 0;
    const failingAhead: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          if (++pulls === 3) throw new Error('read ahead failed');
          return {value: `${server.url}/text/ahead${pulls}`, done: false};
        },
      }),
    };
    const leaving = (async () => {
      for await (const record of fetchAll(failingAhead, {concurrency: 4})) {
        void record;
        break;
      }
    })();
    await expect(leaving).resolves.toBeUndefined();
    expect(pulls).toBe(3);
  });

  test('abort via the signal: entries in flight end aborted, the rest are never started', async () => {
    const controller = new AbortController();
    const urls = [`${server.url}/text/first`, ...Array.from({length: 10}, (_, i) => `${server.url}/hang?i=${i}`)];
    const run = fetchAll(urls, {concurrency: 3, signal: controller.signal, retries: 0});
    const records: FetchRecord[] = [];
    const done = (async () => {
      for await (const record of run) records.push(record);
    })();
    await hangsOpen(3);
    controller.abort();
    await done;
    expect(run.stopReason).toBe('aborted');
    const aborted = records.filter((r) => r.error?.code === 'aborted');
    expect(aborted).toHaveLength(3);
    for (const record of aborted) expect(record.ok).toBe(false);
    expect(records.find((r) => r.index === 1)).toMatchObject({ok: true});
    expect(records).toHaveLength(4);
    await hangsClosed();
    expect(hanging.size).toBe(0);
  });

  test('an already-aborted signal sends nothing', async () => {
    const records = await collect(fetchAll([`${server.url}/text/a`], {signal: AbortSignal.abort()}));
    expect(records.filter((r) => r.ok)).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  test('breaking out of for-await early leaves nothing in flight', async () => {
    const urls = [`${server.url}/text/fast`, ...Array.from({length: 20}, (_, i) => `${server.url}/hang?b=${i}`)];
    let pulledAfterBreak = false;
    let broke = false;
    let finalized = false;
    const input = (function* () {
      try {
        for (const url of urls) {
          if (broke) pulledAfterBreak = true;
          yield url;
        }
      } finally {
        finalized = true;
      }
    })();
    const iterating = (async () => {
      for await (const record of fetchAll(input, {concurrency: 4})) {
        expect(record.ok).toBe(true);
        await hangsOpen(4);
        broke = true;
        break;
      }
    })();
    await iterating;
    // The loop's exit waited for every request to be torn down, and the input was closed.
    expect(finalized).toBe(true);
    expect(pulledAfterBreak).toBe(false);
    await hangsClosed();
    expect(hanging.size).toBe(0);
    expect(server.inFlight).toBe(0);
  });

  test('lazy pulling: an endless input with concurrency 2 is not read far ahead', async () => {
    let pulled = 0;
    let closed = false;
    async function* endless(): AsyncGenerator<string> {
      try {
        for (;;) {
          pulled++;
          yield `${server.url}/text/n${pulled}`;
        }
      } finally {
        closed = true;
      }
    }
    let count = 0;
    for await (const record of fetchAll(endless(), {concurrency: 2})) {
      expect(record.ok).toBe(true);
      if (++count === 10) break;
    }
    expect(closed).toBe(true);
    expect(pulled).toBeGreaterThanOrEqual(10);
    expect(pulled).toBeLessThanOrEqual(1024 + 2 + 1);
  });

  test('lazy pulling while the consumer is slow: the reader stops at the window', async () => {
    let served = 0;
    let reached: (() => void) | undefined;
    server.route('/lazy', (_req, res) => {
      res.end('ok');
      if (++served >= 1000) reached?.();
    });
    let pulled = 0;
    function* endless(): Generator<string> {
      for (;;) {
        pulled++;
        yield `${server.url}/lazy?n=${pulled}`;
      }
    }
    let count = 0;
    for await (const record of fetchAll(endless(), {concurrency: 2})) {
      expect(record.ok).toBe(true);
      if (count === 0) {
        // Hold the first record while the run goes on: finished records pile up only up to the window.
        if (served < 1000) await new Promise<void>((resolve) => (reached = resolve));
        // Give it time to overshoot, if it would.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(pulled).toBeLessThanOrEqual(1024 + 2 + 1);
      }
      if (++count === 3) break;
    }
    expect(pulled).toBeLessThanOrEqual(1024 + 2 + 1);
  });

  test('stopping does not wait for an input that is slow to give its next entry', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finalized = false;
    async function* slow(): AsyncGenerator<string> {
      try {
        yield `${server.url}/text/first`;
        await gate;
        yield `${server.url}/text/second`;
      } finally {
        finalized = true;
      }
    }
    const bound = <T>(promise: Promise<T>): Promise<T | 'hung'> =>
      Promise.race([promise, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000).unref())]);
    try {
      // The caller leaves while the input is still thinking about its next entry.
      const broke = bound((async () => {
        for await (const record of fetchAll(slow())) {
          expect(record.ok).toBe(true);
          break;
        }
      })());
      expect(await broke).not.toBe('hung');
      // An abort while the input is pending ends the run too.
      const controller = new AbortController();
      const records: FetchRecord[] = [];
      const aborted = bound((async () => {
        for await (const record of fetchAll(slow(), {signal: controller.signal})) {
          records.push(record);
          controller.abort();
        }
      })());
      expect(await aborted).not.toBe('hung');
      expect(records.map((r) => r.url)).toEqual([`${server.url}/text/first`]);
    } finally {
      release();
    }
    // Once the input gives its pending entry, it is closed without being used.
    await new Promise((resolve) => setImmediate(resolve));
    expect(finalized).toBe(true);
    expect(server.requests.filter((r) => r.path === '/text/second')).toHaveLength(0);
  });

  test('an input that throws makes the iteration throw, after tearing down what is in flight', async () => {
    const boom = new Error('input broke');
    async function* broken(): AsyncGenerator<string> {
      yield `${server.url}/hang?t=1`;
      await hangsOpen(1);
      throw boom;
    }
    await expect(collect(fetchAll(broken(), {concurrency: 2}))).rejects.toBe(boom);
    await hangsClosed();
    expect(hanging.size).toBe(0);
  });
});

describe('fetchAll: redirects across origins', () => {
  let away: TestServer;
  beforeAll(async () => {
    away = await startTestServer({host: '127.0.0.2'});
  });
  afterAll(async () => {
    await away.close();
  });

  test('a hop within another origin carries none of the user\'s headers; back on the user\'s origin they return', async () => {
    // A → B → B: the second hop stays on B, which is still not the origin the user named.
    const withinAway = `${away.url}/redirect/1?to=/echo-headers`;
    // A → B → A: the chain comes back to the user's own origin.
    const backHome = `${away.url}/redirect-abs?to=${encodeURIComponent(`${server.url}/echo-headers?home=1`)}`;
    const records = await collect(fetchAll(
      [`${server.url}/redirect-abs?to=${encodeURIComponent(withinAway)}`, `${server.url}/redirect-abs?to=${encodeURIComponent(backHome)}`],
      {header: ['X-Api-Key: k', 'Authorization: Bearer t'], concurrency: 1, retries: 0},
    ));
    expect(records.map((r) => r.ok)).toEqual([true, true]);
    // B/redirect/1 and B/echo-headers for the first entry, B/redirect-abs for the second.
    expect(away.requests).toHaveLength(3);
    for (const request of away.requests) {
      expect(request.headers['x-api-key'], request.url).toBeUndefined();
      expect(request.headers['authorization'], request.url).toBeUndefined();
    }
    const home = server.requests.find((r) => r.url === '/echo-headers?home=1')!;
    expect(home.headers).toMatchObject({'x-api-key': 'k', authorization: 'Bearer t'});
  });

  test('with compressed and the user\'s own Accept-Encoding, a hop to another origin gets no Accept-Encoding at all', async () => {
    const hop = `${server.url}/redirect-abs?to=${encodeURIComponent(`${away.url}/echo-headers?ae=1`)}`;
    const records = await collect(fetchAll([hop], {compressed: true, header: ['Accept-Encoding: identity'], retries: 0}));
    expect(records[0]!.ok).toBe(true);
    expect(server.requests.find((r) => r.path === '/redirect-abs')!.headers['accept-encoding']).toBe('identity');
    expect(away.requests.find((r) => r.url === '/echo-headers?ae=1')!.headers['accept-encoding']).toBeUndefined();
  });
});

describe('fetchAll: credentials', () => {
  test('the user\'s own Authorization header wins over credentials in the URL, as with curl', async () => {
    const origin = new URL(server.url);
    const records = await collect(fetchAll([`http://u:p@${origin.host}/echo-headers?creds=user`], {header: ['Authorization: Bearer mine'], retries: 0}));
    expect(records[0]!.ok).toBe(true);
    expect(server.requests.find((r) => r.url === '/echo-headers?creds=user')!.headers.authorization).toBe('Bearer mine');
  });
});

describe('fetchAll: redirect codes', () => {
  test('301, 302, 303, 307 and 308 with a Location are all followed; 303 keeps HEAD a HEAD', async () => {
    const codes = [301, 302, 303, 307, 308];
    const records = await collect(fetchAll(codes.map((code) => `${server.url}/redirect/1?code=${code}&to=/text/c${code}`), {retries: 0, ordered: true}));
    expect(records.map((r) => [r.status, r.final_url])).toEqual(codes.map((code) => [200, `${server.url}/text/c${code}`]));
    server.resetStats();
    const [head] = await collect(fetchAll([`${server.url}/redirect/1?code=303&to=/text/after-303`], {method: 'HEAD', retries: 0}));
    expect(head!.ok).toBe(true);
    expect(server.requests.map((r) => [r.method, r.path])).toEqual([['HEAD', '/redirect/1'], ['HEAD', '/text/after-303']]);
  });
});

describe('fetchAll: redirect loops', () => {
  test('a loop that does not pass the entry\'s own URL is caught at its first revisit, not after maxRedirects hops', async () => {
    const [record] = await collect(fetchAll([`${server.url}/redirect/1?to=/loop-a`], {retries: 0}));
    expect(record!.error).toMatchObject({code: 'too_many_redirects', message: expect.stringMatching(/redirect loop: .*\/loop-a was already visited/)});
    expect([server.hits('/loop-a'), server.hits('/loop-b')]).toEqual([1, 1]);
  });
});

describe('fetchAll: maxSize at its bound', () => {
  test('a body of exactly maxSize bytes is whole, one byte more is too_large: by Content-Length and as it streams', async () => {
    // /lines/10 is chunked (no Content-Length): "x:0\n" … "x:9\n", 40 bytes.
    const declared = await collect(fetchAll([`${server.url}/bytes/1000`, `${server.url}/bytes/1001`], {maxSize: 1000, retries: 0, ordered: true}));
    expect(declared.map((r) => [r.ok, r.bytes, r.error?.code ?? null])).toEqual([[true, 1000, null], [false, 0, 'too_large']]);
    const streamed = await collect(fetchAll([`${server.url}/lines/10?id=x`], {maxSize: 40, retries: 0}));
    expect(streamed.map((r) => [r.ok, r.bytes])).toEqual([[true, 40]]);
    const over = await collect(fetchAll([`${server.url}/lines/10?id=x`], {maxSize: 39, retries: 0}));
    expect(over.map((r) => [r.ok, r.error?.code])).toEqual([[false, 'too_large']]);
  });
});

describe('fetchAll: failures and retries', () => {
  test('a 400 is http_status (an HTTP status of 400 or more fails), and is not retried', async () => {
    const [record] = await collect(fetchAll([`${server.url}/status/400`], {retries: 2, retryDelay: 1}));
    expect(record).toMatchObject({ok: false, status: 400, attempts: 1, error: {code: 'http_status'}});
  });

  test('failFast waits for the retries: a URL that fails once, then succeeds on its last retry, stops nothing', async () => {
    const run = fetchAll([`${server.url}/flaky/ff-last?fail=1`, `${server.url}/text/ff-after`], {failFast: true, retries: 1, retryDelay: 1, concurrency: 1, ordered: true});
    const records = await collect(run);
    expect(records.map((r) => [r.ok, r.attempts])).toEqual([[true, 2], [true, 1]]);
    expect(run.stopReason).toBeUndefined();
  });

  test('maxFailures 0 at concurrency 1: the failure is counted before its slot frees, so nothing else starts', async () => {
    const dir = await makeTempDir();
    // The second fails its checksum after the transfer, and its 2 MB temporary file takes a while to remove.
    for (const first of [`${server.url}/status/404?mf=1`, {url: `${server.url}/bytes/2000000?mf=2`, name: 'mf.bin', sha256: 'c'.repeat(64)}]) {
      server.resetStats();
      const run = fetchAll([first, `${server.url}/text/mf-next`, `${server.url}/text/mf-last`], {maxFailures: 0, concurrency: 1, retries: 0, outputDir: dir});
      const records = await collect(run);
      expect(records.map((r) => r.ok)).toEqual([false]);
      expect(run.stopReason).toBe('max-failures');
      expect(server.hits('/text/mf-next')).toBe(0);
    }
  });
});

describe('fetchAll: checksums', () => {
  test('a checksum mismatch records the digest computed (the body\'s), keeps no file, and says which was expected', async () => {
    const dir = await makeTempDir();
    const wrong = 'b'.repeat(64);
    const [record] = await collect(fetchAll([{url: `${server.url}/bytes/1000`, name: 'c.bin', sha256: wrong}], {outputDir: dir, retries: 0}));
    expect(record).toMatchObject({ok: false, file: null, sha256: sha256Hex(expectedBytes(1000)), error: {code: 'checksum', message: expect.stringContaining(wrong)}});
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('fetchAll: HEAD with an output folder', () => {
  test('HEAD saves no file, so a name under another entry\'s file name blocks nothing: both sent, both ok', async () => {
    const dir = await makeTempDir();
    const records = await collect(fetchAll([{url: `${server.url}/text/h1`, name: 'a'}, {url: `${server.url}/text/h2`, name: 'a/b'}], {outputDir: dir, method: 'HEAD', retries: 0, ordered: true}));
    expect(records.map((r) => [r.ok, r.status, r.file, r.error])).toEqual([[true, 200, null, null], [true, 200, null, null]]);
    expect(server.requests.map((r) => [r.method, r.path]).sort()).toEqual([['HEAD', '/text/h1'], ['HEAD', '/text/h2']]);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('fetchAll: skipExisting', () => {
  test('only a regular file at the name is skipped: a folder standing there is fetched (and fails as write)', async () => {
    const dir = await makeTempDir();
    await mkdir(join(dir, 'd.txt'));
    const [record] = await collect(fetchAll([{url: `${server.url}/text/skip-dir`, name: 'd.txt'}], {outputDir: dir, skipExisting: true, retries: 0}));
    expect(record).toMatchObject({skipped: false, ok: false, error: {code: 'write'}});
    expect(server.hits('/text/skip-dir')).toBe(1);
  });
});

describe('fetchAll: bodies thrown away', () => {
  test('a redirect or an error page whose body never ends is read only so far: the redirect is followed, the error recorded', async () => {
    // The body of these answers never ends: only letting the connection go ends it.
    const endless = (status: number, headers: http.OutgoingHttpHeaders) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(status, headers);
      const more = (): void => {
        if (!res.destroyed) res.write(Buffer.alloc(16 * 1024, 120), more);
      };
      more();
    };
    server.route('/endless-302', endless(302, {location: '/text/after-endless'}));
    server.route('/endless-500', endless(500, {}));
    const records = await collect(fetchAll([`${server.url}/endless-302`, `${server.url}/endless-500`], {retries: 0, timeout: 5_000, ordered: true}));
    expect(records.map((r) => [r.status, r.error?.code ?? null])).toEqual([[200, null], [500, 'http_status']]);
    expect(records[1]!.bytes).toBe(64 * 1024);
  });
});

describe('fetchAll: resume and invalid entries', () => {
  test('an invalid entry is invalid_url even when the report holds an ok record for its URL', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const url = `${server.url}/text/once-ok`;
    expect((await collect(fetchAll([url], {report, retries: 0})))[0]!.ok).toBe(true);
    // The same URL, now in an entry that does not validate (a sha256 that is not 64 hex digits).
    const [record] = await collect(fetchAll([{url, sha256: 'not-a-digest'}], {report, resume: true, retries: 0}));
    expect(record).toMatchObject({url, ok: false, skipped: false, error: {code: 'invalid_url'}});
  });

  test('a foreign line naming the URL without "ok": true (another tool\'s, or ok as a string) does not skip it', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const urls = [`${server.url}/text/foreign-a`, `${server.url}/text/foreign-b`];
    await writeFile(report, `${JSON.stringify({url: urls[0]})}\n${JSON.stringify({url: urls[1], ok: 'true'})}\n`);
    const records = await collect(fetchAll(urls, {report, resume: true, retries: 0, ordered: true}));
    expect(records.map((r) => [r.ok, r.skipped])).toEqual([[true, false], [true, false]]);
    expect(server.hits('/text/foreign-a') + server.hits('/text/foreign-b')).toBe(2);
  });

  test('a URL saved under two names by one run is done under both: a resumed run skips both copies', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const url = `${server.url}/text/two-copies`;
    const entries = [{url, name: 'one.txt'}, {url, name: 'two.txt'}];
    expect((await collect(fetchAll(entries, {report, outputDir: dir, retries: 0}))).map((r) => r.ok)).toEqual([true, true]);
    server.resetStats();
    const resumed = await collect(fetchAll(entries, {report, outputDir: dir, resume: true, retries: 0, ordered: true}));
    expect(resumed.map((r) => [r.skipped, r.file])).toEqual([[true, join(dir, 'one.txt')], [true, join(dir, 'two.txt')]]);
    expect(server.requests).toEqual([]);
  });
});

describe('fetchAll: hosts', () => {
  test('perHost counts a host name and port: another port of the same address is another host, not held behind it', async () => {
    const other = await startTestServer();
    try {
      // The first answer waits for the other port's request (at most 2 s): with one permit for
      // "127.0.0.1" alone, that request would wait for this answer instead.
      let otherHit: (() => void) | undefined;
      const otherArrived = new Promise<void>((resolve) => (otherHit = resolve));
      other.route('/text/port-b', (_req, res) => {
        otherHit?.();
        res.end('b');
      });
      server.route('/hold-port-a', (_req, res) => {
        void Promise.race([otherArrived, new Promise((resolve) => setTimeout(resolve, 2000))]).then(() => res.end('a'));
      });
      const records = await collect(fetchAll([`${server.url}/hold-port-a`, `${other.url}/text/port-b`], {perHost: 1, concurrency: 2, retries: 0}));
      expect(records.map((r) => [r.url, r.ok])).toEqual([[`${other.url}/text/port-b`, true], [`${server.url}/hold-port-a`, true]]);
    } finally {
      await other.close();
    }
  });
});

/** A route that answers 429 with `Retry-After: 1` (a 1 s pause of its host) after `ms`. */
function pauseAfter(ms: number): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (_req, res) => {
    setTimeout(() => {
      res.writeHead(429, {'retry-after': '1'});
      res.end('slow down');
    }, ms);
  };
}

describe('fetchAll: a host paused while an attempt waits for its start slot', () => {
  test('the attempt gives its global slot back while it waits the pause out: two later entries still run side by side', async () => {
    const other = await startTestServer();
    try {
      // The 429 comes 100 ms late, while the second entry, holding its slots, waits for its --rate start
      // slot (250 ms): that entry then meets the pause and must give its global slot back to wait it out.
      server.route('/pause-late', pauseAfter(100));
      // The first of these answers once its partner has arrived (at most 3 s): both must be in flight at
      // once at concurrency 2, which a slot kept by the entry waiting out the pause would not allow.
      let partnerHit: (() => void) | undefined;
      const partnerArrived = new Promise<string>((resolve) => (partnerHit = () => resolve('together')));
      other.route('/side-a', (_req, res) => {
        void Promise.race([partnerArrived, new Promise<string>((resolve) => setTimeout(() => resolve('alone'), 3000))]).then((how) => res.end(how));
      });
      other.route('/side-b', (_req, res) => {
        partnerHit?.();
        res.end('b');
      });
      const urls = [`${server.url}/pause-late`, `${server.url}/text/after-pause`, `${other.url}/side-a`, `${other.url}/side-b`];
      const records = await collect(fetchAll(urls, {concurrency: 2, rate: 4, retries: 0}));
      const byUrl = new Map(records.map((r) => [r.url, r]));
      expect(urls.map((u) => [byUrl.get(u)?.ok, byUrl.get(u)?.status])).toEqual([[false, 429], [true, 200], [true, 200], [true, 200]]);
      expect(other.maxInFlight).toBe(2);
    } finally {
      await other.close();
    }
  });
});

/**
 * A route for two URLs that must be in flight at once: whichever comes first is answered when the other
 * arrives (then `together()` is true), or alone after 3 s.
 */
function overlappingPair(): {route: (req: http.IncomingMessage, res: http.ServerResponse) => void; together: () => boolean} {
  let together = false;
  let waitingFirst: (() => void) | undefined;
  const route = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (waitingFirst !== undefined) {
      together = true;
      waitingFirst();
      res.end('second');
      return;
    }
    const timer = setTimeout(() => (waitingFirst = undefined, res.end('alone')), 3000);
    waitingFirst = () => {
      clearTimeout(timer);
      waitingFirst = undefined;
      res.end('first');
    };
  };
  return {route, together: () => together};
}

describe('fetchAll: permits of retries and paused hosts', () => {
  test('a retry takes a global slot like any attempt: at concurrency 1 it waits for the entry that took the slot meanwhile', async () => {
    // The first URL fails once (503) and is retried after 10 ms; its retry wait holds no slot, so the second
    // URL takes it and is answered 1 s later. The retry must wait for that slot, not run beside it.
    const urls = [`${server.url}/flaky/retry-slot`, `${server.url}/slow?ms=1000`];
    const records = await collect(fetchAll(urls, {concurrency: 1, retries: 1, retryDelay: 10, retryMaxDelay: 10}));
    expect(records.map((r) => [r.url, r.ok, r.attempts])).toEqual([[urls[1], true, 1], [urls[0], true, 2]]);
    expect(server.maxInFlight).toBe(1);
  });

  test('with perHost, an attempt that waits out a pause it met at its start slot gives its host permit back: the host keeps both', async () => {
    // perHost 2, concurrency 4, rate 4: the 429 comes 100 ms late, while the second entry, holding its
    // permits, waits for its start slot (250 ms); it then meets the host's 1 s pause and waits it out.
    server.route('/pause-late-host', pauseAfter(100));
    // Once the pause is over, these two must be in flight at once (two permits for the host).
    const pair = overlappingPair();
    server.route('/pair-a', pair.route);
    server.route('/pair-b', pair.route);
    const urls = [`${server.url}/pause-late-host`, `${server.url}/text/after-pause-host`, `${server.url}/pair-a`, `${server.url}/pair-b`];
    const records = await collect(fetchAll(urls, {concurrency: 4, perHost: 2, rate: 4, retries: 0}));
    const byUrl = new Map(records.map((r) => [r.url, r]));
    expect(urls.map((u) => [byUrl.get(u)?.ok, byUrl.get(u)?.status])).toEqual([[false, 429], [true, 200], [true, 200], [true, 200]]);
    expect(pair.together()).toBe(true);
  });

  test('with perHost, a retry that got its global slot only once its host was paused gives its host permit back too', async () => {
    const other = await startTestServer();
    try {
      // concurrency 2, perHost 2. The first URL fails at once (503) and retries 10 ms later: it takes its
      // host permit, then waits for a global slot, both held by the 429 (answered after 300 ms) and the
      // other host's 600 ms URL. When the 429 frees its slot the host is paused for 1 s: the retry must
      // give back both permits and wait the pause out.
      let pauseHits = 0;
      const pause = pauseAfter(300);
      server.route('/pause-late-retry', (req, res) => (++pauseHits > 1 ? void res.end('after the pause') : pause(req, res)));
      // After the pause, these two must be in flight at once (the host's two permits).
      const pair = overlappingPair();
      server.route('/pair-retry-a', pair.route);
      server.route('/pair-retry-b', pair.route);
      const urls = [
        `${server.url}/flaky/retry-paused`, `${server.url}/pause-late-retry`, `${other.url}/slow?ms=600`,
        `${server.url}/pair-retry-a`, `${server.url}/pair-retry-b`,
      ];
      const records = await collect(fetchAll(urls, {concurrency: 2, perHost: 2, retries: 1, retryDelay: 10, retryMaxDelay: 2000}));
      const byUrl = new Map(records.map((r) => [r.url, r]));
      expect(urls.map((u) => [byUrl.get(u)?.status, byUrl.get(u)?.attempts])).toEqual([[200, 2], [200, 2], [200, 1], [200, 1], [200, 1]]);
      expect(pair.together()).toBe(true);
    } finally {
      await other.close();
    }
  });

  test('with perHost 1, a redirect back to the first host after waiting for a busy second one waits for the first host\'s permit', async () => {
    const other = await startTestServer();
    try {
      // Entry 1: A → B → A. Its hop to B waits (entry 2 holds B for 300 ms) and gives A's permit to entry 3,
      // which holds A for up to 2 s. Its hop back to A must then wait for entry 3, not go beside it.
      let holdOpen = false;
      let overlapped = false;
      let endHold: (() => void) | undefined;
      server.route('/hop-a1', (_req, res) => {
        res.writeHead(302, {location: `${other.url}/hop-b`});
        res.end();
      });
      other.route('/hop-b', (_req, res) => {
        res.writeHead(302, {location: `${server.url}/hop-a2`});
        res.end();
      });
      server.route('/hop-a2', (_req, res) => {
        if (holdOpen) overlapped = true;
        endHold?.();
        res.end('final');
      });
      other.route('/hold-b', (_req, res) => {
        setTimeout(() => res.end('b'), 300);
      });
      server.route('/hold-a', (_req, res) => {
        holdOpen = true;
        const timer = setTimeout(() => endHold?.(), 2000);
        endHold = () => {
          clearTimeout(timer);
          endHold = undefined;
          holdOpen = false;
          res.end('a');
        };
      });
      const urls = [`${server.url}/hop-a1`, `${other.url}/hold-b`, `${server.url}/hold-a`];
      const records = await collect(fetchAll(urls, {concurrency: 4, perHost: 1, retries: 0}));
      const byUrl = new Map(records.map((r) => [r.url, r]));
      expect(urls.map((u) => byUrl.get(u)?.status)).toEqual([200, 200, 200]);
      expect(byUrl.get(urls[0]!)?.final_url).toBe(`${server.url}/hop-a2`);
      expect(overlapped).toBe(false);
    } finally {
      await other.close();
    }
  });

  test('failFast with perHost 1: the host permit the failure frees starts no other entry for that host, even with a global slot free', async () => {
    // The failure gives its host permit back before its verdict is counted; the stop must come first.
    for (let i = 0; i < 3; i++) {
      const urls = [`${server.url}/status/404?ff-host=${i}`, `${server.url}/text/ff-host-next-${i}`];
      const records = await collect(fetchAll(urls, {failFast: true, perHost: 1, concurrency: 2, retries: 0}));
      expect(records.map((r) => [r.url, r.error?.code])).toEqual([[urls[0], 'http_status']]);
      expect(server.hits(`/text/ff-host-next-${i}`)).toBe(0);
    }
  });
});

describe('fetchAll: 304 Not Modified', () => {
  test('a retry answered 304 after a broken 200 saves no file: the copy in place stays as it was', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'kept.txt'), 'old');
    let n = 0;
    server.route('/broken-then-304', (req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, {'content-length': 1000});
        res.write(Buffer.alloc(500, 110), () => req.socket.destroy());
        return;
      }
      res.writeHead(304, {etag: '"v"'});
      res.end();
    });
    const [record] = await collect(fetchAll([{url: `${server.url}/broken-then-304`, name: 'kept.txt'}], {outputDir: dir, header: ['If-None-Match: "v"'], retries: 1, retryDelay: 1}));
    expect(record).toMatchObject({ok: true, status: 304, attempts: 2, file: null});
    expect(await readFile(join(dir, 'kept.txt'), 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['kept.txt']);
  });
});
