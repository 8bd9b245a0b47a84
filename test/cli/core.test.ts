// End-to-end tests of the built CLI's working core: the bound, whole bodies, order, input, usage errors, pipes.
import {spawn, spawnSync} from 'node:child_process';
import {once} from 'node:events';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from 'vitest';
import {BIN_PATH, makeTempDir, parseJsonLines, runCli, writeList} from '../helpers/cli.js';
import {startProxy} from '../helpers/proxy.js';
import {bytesSha256, expectedLines, sha256Hex, textBody} from '../helpers/server.js';
import {useTestServer} from '../helpers/use-server.js';

const RECORD_KEYS = ['index', 'url', 'ok', 'status', 'final_url', 'bytes', 'duration_ms', 'attempts', 'file', 'skipped', 'sha256', 'error'];
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version;
/** A stack trace line, as Node prints one. */
const STACK = /^\s+at .+[(:]/m;

const server = useTestServer();

/** Split stdout made of `/lines/N?id=X` bodies back into blocks: [id, line count] per maximal run of one id. */
function blocks(stdout: string): {id: string; lines: string[]}[] {
  const out: {id: string; lines: string[]}[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const id = line.slice(0, line.lastIndexOf(':'));
    const last = out.at(-1);
    if (last !== undefined && last.id === id) last.lines.push(line);
    else out.push({id, lines: [line]});
  }
  return out;
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('the concurrency bound', () => {
  test('-c 3 over 30 slow URLs: the server sees exactly 3 in flight at the peak', async () => {
    const list = await writeList(Array.from({length: 30}, (_, i) => `${server.url}/slow?ms=150&i=${i}`));
    const result = await runCli(['-c', '3', '--json', list]);
    expect(result.stderr).not.toMatch(STACK);
    expect(result.code).toBe(0);
    expect(result.records()).toHaveLength(30);
    expect(server.requests).toHaveLength(30);
    expect(server.maxInFlight).toBe(3);
  });

  test('-c 1 is strictly one at a time', async () => {
    const list = await writeList(Array.from({length: 6}, (_, i) => `${server.url}/slow?ms=50&i=${i}`));
    const result = await runCli(['-c', '1', list]);
    expect(result.code).toBe(0);
    expect(server.maxInFlight).toBe(1);
  });
});

describe('bodies on stdout', () => {
  test('60 bodies arrive whole, none interleaved with another', async () => {
    const ids = Array.from({length: 60}, (_, i) => `u${i}`);
    // Chunked bodies dripping in several pieces, of different lengths, so they overlap in time.
    const sizes = ids.map((_, i) => 200 + (i % 7) * 150);
    const list = await writeList(ids.map((id, i) => `${server.url}/lines/${sizes[i]}?id=${id}&per=50&every=2`));
    const result = await runCli(['-c', '16', list]);
    expect(result.stderr).not.toMatch(STACK);
    expect(result.code).toBe(0);
    const stdout = result.stdout.toString();
    const found = blocks(stdout);
    expect(found.map((b) => b.id).sort()).toEqual([...ids].sort());
    for (const block of found) {
      const i = Number(block.id.slice(1));
      expect(block.lines.join('\n') + '\n').toBe(expectedLines(sizes[i]!, block.id));
    }
    expect(result.stdout.length).toBe(ids.reduce((sum, id, i) => sum + Buffer.byteLength(expectedLines(sizes[i]!, id)), 0));
    expect(server.maxInFlight).toBeGreaterThan(1);
  });

  test('bodies past the 32 MiB memory budget spool to a temporary file, arrive whole, and the spool goes', async () => {
    // One 34 MB body (over the budget alone), then three 12 MB ones at once (over it together). Each
    // spooled body once hung the run at 100% CPU, deaf to signals: after each pause undici handed over
    // an empty chunk, the spool paused again on it, and so on in a loop of microtasks.
    const tmp = await makeTempDir();
    const big = await runCli([await writeList([`${server.url}/bytes/34000000`])], {env: {TMPDIR: tmp}, timeoutMs: 20_000});
    expect(big.code, big.stderr).toBe(0);
    expect(big.stdout.length).toBe(34_000_000);
    expect(sha256Hex(big.stdout)).toBe(bytesSha256(34_000_000));
    const three = await runCli(['-c', '3', await writeList(['a', 'b', 'c'].map((id) => `${server.url}/bytes/12000000?id=${id}`))], {env: {TMPDIR: tmp}, timeoutMs: 20_000});
    expect(three.code, three.stderr).toBe(0);
    expect(three.stdout.length).toBe(36_000_000);
    for (let i = 0; i < 3; i++) expect(sha256Hex(three.stdout.subarray(i * 12_000_000, (i + 1) * 12_000_000))).toBe(bytesSha256(12_000_000));
    expect(readdirSync(tmp)).toEqual([]);
  });

  test('--ordered writes bodies in input order although they finish in another', async () => {
    const delays = [400, 0, 250, 0, 100, 0, 300, 50];
    const list = await writeList(delays.map((ms, i) => `${server.url}/lines/3?id=o${i}&delay=${ms}`));
    const result = await runCli(['--ordered', '-c', '8', list]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(delays.map((_, i) => expectedLines(3, `o${i}`)).join(''));
  });

  test('--ordered with -o and no --json (stdout carries nothing to order): a slow first URL holds no one back', async () => {
    const others = 1200;
    let releasedEarly = false;
    // The first URL answers once every other URL has reached the server (or gives up after 8 s).
    server.route('/head-slow', (_req, res) => {
      const since = performance.now();
      const look = (): void => {
        if (server.hits('/text/ord') >= others) releasedEarly = true;
        if (releasedEarly || performance.now() - since > 8000) res.end('head');
        else setTimeout(look, 20);
      };
      look();
    });
    const out = await makeTempDir();
    const list = await writeList([`${server.url}/head-slow`, ...Array.from({length: others}, (_, i) => `${server.url}/text/ord?i=${i}  o${i}.txt`)]);
    const result = await runCli(['--ordered', '-o', out, '-c', '8', list], {timeoutMs: 30_000});
    expect(result.code, result.stderr).toBe(0);
    expect(releasedEarly).toBe(true);
  });

  test('without --ordered, bodies come as they complete', async () => {
    const list = await writeList([`${server.url}/lines/2?id=late&delay=500`, `${server.url}/lines/2?id=early`]);
    const result = await runCli(['-c', '2', list]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(expectedLines(2, 'early') + expectedLines(2, 'late'));
  });

  test('--ordered --json writes records in input order', async () => {
    const delays = [300, 0, 150, 0, 80, 0];
    const list = await writeList(delays.map((ms, i) => `${server.url}/text/j${i}?delay=${ms}`));
    const result = await runCli(['--ordered', '--json', '-c', '6', list]);
    expect(result.code).toBe(0);
    expect(result.records().map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a 404 fails the run with exit 1 and its body is not written', async () => {
    const list = await writeList([`${server.url}/text/good`, `${server.url}/status/404`]);
    const result = await runCli([list]);
    expect(result.code).toBe(1);
    expect(result.stdout.toString()).toBe(textBody('good'));
    expect(result.stderr).toContain('/status/404');
    expect(result.stderr).not.toMatch(STACK);
  });

  test('-X HEAD writes no body', async () => {
    const list = await writeList([`${server.url}/text/head`, `${server.url}/bytes/5000`]);
    const result = await runCli(['-X', 'HEAD', list]);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(0);
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'HEAD']);
    const json = await runCli(['-X', 'HEAD', '--json', list]);
    expect(json.records().map((r) => r.bytes)).toEqual([0, 0]);
  });
});

describe('--json records', () => {
  test('every key, in the contract’s order, on one line per entry', async () => {
    const list = await writeList([`${server.url}/text/k`, `${server.url}/status/500`, 'ftp://x.test/y']);
    const result = await runCli(['--json', '--retries', '0', '--ordered', list]);
    expect(result.code).toBe(1);
    const lines = result.stdout.toString().split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(Object.keys(JSON.parse(line) as object)).toEqual(RECORD_KEYS);
    const [ok, failed, invalid] = result.records();
    expect(ok).toMatchObject({index: 1, url: `${server.url}/text/k`, ok: true, status: 200, final_url: `${server.url}/text/k`, attempts: 1, file: null, skipped: false, sha256: null, error: null});
    expect(ok.bytes).toBe(Buffer.byteLength(textBody('k')));
    // bytes are the body bytes received, the error page's too (`status 500`).
    expect(failed).toMatchObject({index: 2, ok: false, status: 500, bytes: 'status 500'.length, error: {code: 'http_status'}});
    expect(invalid).toMatchObject({index: 3, ok: false, status: null, final_url: null, attempts: 0, error: {code: 'invalid_url'}});
  });
});

describe('input', () => {
  test('invalid lines become invalid_url records naming file:line; the others are fetched', async () => {
    const list = await writeList([
      '# header comment',
      `${server.url}/text/a`,
      'ftp://nope.test/x',
      '',
      'not a url at all',
      `${server.url}/text/b  b.txt`,
      '{"url":"https://x.test/","bogus":1}',
      `${server.url}/text/c`,
    ]);
    const result = await runCli(['--json', list]);
    expect(result.code).toBe(1);
    const records = result.records().sort((a, b) => a.index - b.index);
    expect(records.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records.map((r) => r.ok)).toEqual([true, false, false, true, false, true]);
    const bad = records.filter((r) => !r.ok);
    expect(bad.map((r) => r.error.code)).toEqual(['invalid_url', 'invalid_url', 'invalid_url']);
    expect(bad.map((r) => (r.error.message as string).split(': ')[0])).toEqual([`${list}:3`, `${list}:5`, `${list}:7`]);
    expect(server.requests.map((r) => r.path).sort()).toEqual(['/text/a', '/text/b', '/text/c']);
  });

  test('a line over 16 MiB is one invalid entry, one short line on stderr; the others are fetched', async () => {
    const list = await writeList([`${server.url}/text/before`, 'x'.repeat(20 * 1024 * 1024), `${server.url}/text/after`]);
    const result = await runCli(['--json', list]);
    expect(result.code).toBe(1);
    const records = result.records().sort((a, b) => a.index - b.index);
    expect(records.map((r) => [r.ok, r.error?.code ?? null])).toEqual([[true, null], [false, 'invalid_url'], [true, null]]);
    expect(records[1]!.error.message).toMatch(/:2: the line is longer than 16 MiB$/);
    expect(result.stderr.length).toBeLessThan(2000);
  });

  test('a 10 MB invalid line with a password is shown redacted and cut, not an internal error', async () => {
    const list = await writeList([`notaurl://u:hunter2@${'y'.repeat(10_000_000)}`, `${server.url}/text/after`]);
    const result = await runCli(['--json', list]);
    expect(result.code).toBe(1);
    expect(result.records().map((r) => r.error?.code ?? null).sort()).toEqual(['invalid_url', null]);
    expect(result.stderr).toContain('notaurl://u:***@yyy');
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr.length).toBeLessThan(4000);
  });

  test('CRLF ends and a BOM are tolerated', async () => {
    const list = await writeList([`${server.url}/text/crlf1`, `${server.url}/text/crlf2`], {eol: '\r\n', bom: true});
    const result = await runCli(['--json', '--ordered', list]);
    expect(result.code).toBe(0);
    expect(result.records().map((r) => r.url)).toEqual([`${server.url}/text/crlf1`, `${server.url}/text/crlf2`]);
  });

  test('with no list, standard input is read', async () => {
    const result = await runCli(['--ordered'], {stdin: `${server.url}/text/s1\n# c\n${server.url}/text/s2\n`});
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(textBody('s1') + textBody('s2'));
  });

  test('- reads standard input, in its place among the lists', async () => {
    const list = await writeList([`${server.url}/text/f1`]);
    const result = await runCli(['--json', '--ordered', list, '-'], {stdin: `${server.url}/text/s3\n`});
    expect(result.code).toBe(0);
    expect(result.records().map((r) => [r.index, r.url])).toEqual([
      [1, `${server.url}/text/f1`],
      [2, `${server.url}/text/s3`],
    ]);
  });

  test('a non-ASCII path is sent percent-encoded', async () => {
    const list = await writeList([`${server.url}/text/路径 file.txt`]);
    const result = await runCli(['--json', list]);
    expect(result.code).toBe(0);
    expect(server.requests.map((r) => r.url)).toEqual(['/text/%E8%B7%AF%E5%BE%84']);
    expect(result.records()[0]).toMatchObject({url: `${server.url}/text/路径`, final_url: `${server.url}/text/%E8%B7%AF%E5%BE%84`});
  });

  test('an IDN host is sent as punycode (seen through a proxy, as it cannot resolve here)', async () => {
    const proxy = await startProxy();
    try {
      const list = await writeList(['http://例子.测试/路径']);
      const result = await runCli(['--json', '--retries', '0', '--proxy', proxy.url, list]);
      expect(result.stderr).not.toMatch(STACK);
      expect(proxy.requests).toEqual(['http://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84']);
      expect(proxy.log[0]!.headers.host).toBe('xn--fsqu00a.xn--0zwm56d');
      expect(result.records()[0]).toMatchObject({url: 'http://例子.测试/路径', final_url: 'http://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84'});
    } finally {
      await proxy.close();
    }
  });

  test('an empty list succeeds with nothing to do', async () => {
    const list = await writeList(['# nothing here', '']);
    const result = await runCli(['--json', list]);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(0);
  });
});

describe('standard input as a stream', () => {
  /** Spawn the CLI with a stdin we write to by hand. */
  function spawnCli(args: string[]) {
    const child = spawn(process.execPath, [BIN_PATH, ...args], {
      env: {...process.env, NO_COLOR: '1', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: ''},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => {});
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    void exited.then(() => clearTimeout(timer));
    return {child, exited, out: () => stdout, err: () => stderr};
  }

  test('entries are fetched as lines arrive, before standard input ends', async () => {
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    server.route('/stream-first', (_req, res) => {
      res.end('first\n');
      arrived();
    });
    const {child, exited, out} = spawnCli(['--json']);
    child.stdin.write(`${server.url}/stream-first\n`);
    await first;
    child.stdin.end(`${server.url}/text/second\n`);
    const [code] = await exited;
    expect(code).toBe(0);
    expect(out().trim().split('\n').map((line) => (JSON.parse(line) as {index: number}).index).sort()).toEqual([1, 2]);
  });

  test('--fail-fast stops at once although standard input stays open', async () => {
    const {child, exited, err} = spawnCli(['--fail-fast', '--retries', '0']);
    child.stdin.write(`${server.url}/status/404\n`);
    // stdin is never closed: the stop must not wait for the next line.
    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(1);
    expect(err()).not.toMatch(STACK);
    child.stdin.destroy();
  });
});

describe('usage errors: exit 2, one line, no stack, no request', () => {
  test('an unknown option close to a known one: commander\'s suggestion stays on the same line', async () => {
    const result = await runCli(['--color', await writeList([`${server.url}/text/x`])]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/unknown option '--color'.*Did you mean --no-color\?.*see --help/);
    // Joined with a space, not kept as an escaped line break (\x0a).
    expect(result.stderr).toMatch(/unknown option '--color' \(Did you mean --no-color\?\) \(see --help\)$/m);
    expect(result.stderr).not.toContain('\\x0a');
    expect(server.requests).toHaveLength(0);
  });

  test('control characters the user typed are shown escaped in the message (DEL and ESC too)', async () => {
    const list = await writeList([`${server.url}/text/x`]);
    for (const args of [['-H', 'X-A: a\x7fb'], ['--x\x1b[31m']]) {
      const result = await runCli([...args, list]);
      expect(result.code).toBe(2);
      expect(result.stderr).not.toMatch(/[\x1b\x7f]/);
      expect(result.stderr).toMatch(/\\x7f|\\x1b/);
    }
  });

  test('- given twice', async () => {
    const result = await runCli(['-', '-'], {stdin: `${server.url}/text/x\n`});
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).not.toMatch(STACK);
    expect(server.requests).toHaveLength(0);
  });

  const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
  test.skipIf(python === undefined)('no list while standard input is a terminal', () => {
    // Python's pty module gives the child a terminal for stdin without extra packages.
    const script = [
      'import os, sys, pty',
      'pid, fd = pty.fork()',
      'if pid == 0: os.execv(sys.argv[1], sys.argv[1:])',
      'out = b""',
      'while True:',
      '    try: data = os.read(fd, 4096)',
      '    except OSError: break',
      '    if not data: break',
      '    out += data',
      '_, status = os.waitpid(pid, 0)',
      'sys.stdout.write(out.decode("utf-8", "replace"))',
      'sys.exit(os.waitstatus_to_exitcode(status))',
    ].join('\n');
    const result = spawnSync(python!, ['-c', script, process.execPath, BIN_PATH], {encoding: 'utf8', timeout: 15_000, env: {...process.env, NO_COLOR: '1'}});
    expect(result.status).toBe(2);
    expect(oneLine(result.stdout.replace(/\r/g, ''))).toMatch(/terminal/);
    expect(result.stdout).not.toMatch(STACK);
  });

  test('a missing list, even after a good one', async () => {
    const good = await writeList([`${server.url}/text/never`]);
    const dir = await makeTempDir();
    const result = await runCli([good, `${dir}/missing.txt`]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toContain('missing.txt');
    expect(result.stdout.length).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  test.each([
    [['-c', 'abc'], /concurrency/],
    [['-c', '0'], /concurrency/],
    [['-H', 'nocolon'], /header|-H/],
    [['-H', 'Host: evil.test'], /Host/],
    [['-X', 'POST'], /method|-X/],
    [['--no-such-flag'], /no-such-flag/],
    // A flag given twice: the last counts, and the earlier value is checked too (as curl does).
    [['-c', 'x', '-c', '3'], /concurrency.*"x"/],
    [['--rate', '0', '--rate', '10'], /--rate.*"0"/],
    [['--name', '{bad}', '--name', '{index}', '-o', '/proc/fetchall-never-made'], /--name/],
    [['--report', ''], /--report must not be empty/],
    [['--report=', '--resume'], /--report must not be empty/],
    [['--max-size', '10000000GB'], /--max-size is too large/],
    [['--max-time', '3'], /--max-time.*--timeout/],
    // Flags that only make sense with -o.
    [['--skip-existing'], /--skip-existing needs -o\/--output-dir/],
    [['--name', '{index}'], /--name needs -o\/--output-dir/],
    [['--name', '{index}', '-o', '-'], /--name needs -o\/--output-dir/],
  ])('%j', async (args, mention) => {
    const list = await writeList([`${server.url}/text/never`]);
    const result = await runCli([...args, list]);
    expect(result.code).toBe(2);
    const line = oneLine(result.stderr);
    expect(line).toMatch(mention);
    expect(result.stderr).not.toMatch(STACK);
    expect(result.stdout.length).toBe(0);
    expect(server.requests).toHaveLength(0);
  });
});

describe('short-flag clusters', () => {
  test('a cluster that starts with -h is help, as one that ends with it (commander knew -h only alone)', async () => {
    for (const args of [['-hq'], ['-hv'], ['-hc3'], ['-qh']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout.toString()).toMatch(/^Usage: fetchall/);
    }
    // The value of the flag before it is left alone.
    const plan = await runCli(['--dry-run', '-A', '-hq', '-'], {stdin: `${server.url}/text/x\n`});
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout.toString()).toBe(`${server.url}/text/x\t-\n`);
    // …also when that flag ends a cluster (-qo DIR), not when its value is in the cluster (-Ao).
    for (const [args, file] of [[['-qo', '-hdir'], '-hdir/x'], [['-Ao', '-hq'], undefined], [['-A', '-qo', '-hq'], undefined]] as const) {
      const result = await runCli(['--dry-run', ...args, '-'], {stdin: `${server.url}/text/x\n`});
      if (file === undefined) {
        expect(result.stdout.toString(), args.join(' ')).toMatch(/^Usage: fetchall/);
      } else {
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout.toString()).toBe(`${server.url}/text/x\t${file}\n`);
      }
    }
  });

  test('help wins wherever it stands, also before a flag left without its value (commander stopped at that first)', async () => {
    for (const args of [['--help', '-c'], ['-h', '--name'], ['-qh', '-o'], ['-c', '5', '-h', '-o'], ['--bogus', '--help', '-A'], ['--version', '-c']]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stderr, args.join(' ')).toBe('');
      expect(result.stdout.toString(), args.join(' ')).toMatch(args[0] === '--version' ? /^\d+\.\d+\.\d+\n$/ : /^Usage: fetchall/);
    }
    // A flag's value that looks like help is still that value, as commander reads it.
    const valued = await runCli(['-c', '--help']);
    expect(valued.code).toBe(2);
    expect(oneLine(valued.stderr)).toMatch(/--concurrency must be a whole number .*"--help"/);
    expect(valued.stdout.length).toBe(0);
  });

  test('with other usage errors on the line, a repeated flag\'s earlier value does not change which one is named', async () => {
    const result = await runCli(['-c', 'x', '-c', '3', '-q', '-v', '-']);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/-q\/--quiet and -v\/--verbose cannot be used together/);
  });

  test('an earlier value of a repeated flag is checked alone, not against the other flags (the last value answers for those)', async () => {
    const dir = await makeTempDir();
    const result = await runCli(['--dry-run', '-o', '-', '--name', '{index}', '-o', dir, '-'], {stdin: `${server.url}/text/x\n`});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString()).toBe(`${server.url}/text/x\t${dir}/1\n`);
  });

  test('a flag given twice keeps the last value when both are good', async () => {
    const list = await writeList([`${server.url}/text/twice`]);
    const result = await runCli(['--json', '-X', 'HEAD', '-X', 'GET', '-c', '2', '-c', '1', list]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, bytes: 'body of twice\n'.length});
  });
});

describe('final_url', () => {
  test('is the URL as sent: no fragment, no credentials', async () => {
    const list = await writeList([`${server.url.replace('http://', 'http://u:secret@')}/text/f#part`]);
    const result = await runCli(['--json', list]);
    expect(result.records()[0]).toMatchObject({ok: true, final_url: `${server.url}/text/f`});
  });
});

describe('-X HEAD', () => {
  test('an entry\'s expected sha256 is not checked (there is no body), and no digest is recorded', async () => {
    const list = await writeList([JSON.stringify({url: `${server.url}/text/h`, sha256: 'ab'.repeat(32)})]);
    const result = await runCli(['--json', '-X', 'HEAD', '--checksum', list]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.records()[0]).toMatchObject({ok: true, status: 200, bytes: 0, sha256: null, error: null});
  });
});

describe('request headers', () => {
  async function echoed(args: string[]): Promise<Record<string, string>> {
    const list = await writeList([`${server.url}/echo-headers`]);
    const result = await runCli([...args, list]);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout.toString()) as Record<string, string>;
  }

  test('defaults: fetchall/<version> as User-Agent, Accept */*, no Accept-Encoding', async () => {
    const headers = await echoed([]);
    expect(headers['user-agent']).toBe(`fetchall/${VERSION}`);
    expect(headers['accept']).toBe('*/*');
    expect(headers['accept-encoding']).toBeUndefined();
  });

  test('-H and -A reach the server; a later -H replaces an earlier one of the same name', async () => {
    const headers = await echoed(['-H', 'X-Token: one', '-A', 'agent/1', '-H', 'x-token: two', '-H', 'X-Other:  spaced  ']);
    expect(headers['x-token']).toBe('two');
    expect(headers['x-other']).toBe('spaced');
    expect(headers['user-agent']).toBe('agent/1');
  });

  test('a header named __proto__ is sent, from -H and from an entry; non-ASCII values go out as UTF-8', async () => {
    server.route('/raw-headers', (req, res) => res.end(JSON.stringify(req.rawHeaders)));
    const list = await writeList([
      `${server.url}/raw-headers`,
      JSON.stringify({url: `${server.url}/raw-headers`, headers: {__proto__: 'from-entry', 'X-Nb': ' \u00a0v\u00a0 '}}).replace('"headers":{', '"headers":{"__proto__":"from-entry",'),
    ]);
    const result = await runCli(['-H', '__proto__: from-cli', '-H', 'X-Utf: café 例', '--ordered', list]);
    expect(result.code, result.stderr).toBe(0);
    const [first, second] = result.stdout.toString('utf8').split('][').map((part, i) => JSON.parse(i === 0 ? part + ']' : '[' + part) as string[]);
    const pairs = (raw: string[]): string[][] => raw.flatMap((value, i) => (i % 2 === 0 ? [[value, raw[i + 1]!]] : []));
    expect(pairs(first!)).toContainEqual(['__proto__', 'from-cli']);
    expect(pairs(second!)).toContainEqual(['__proto__', 'from-entry']);
    // Beyond ASCII, values go out as UTF-8 bytes (Node's server reads each byte as one Latin-1 character).
    const wire = (text: string): string => Buffer.from(text).toString('latin1');
    expect(pairs(second!)).toContainEqual(['x-nb', wire('\u00a0v\u00a0')]);
    expect(pairs(first!)).toContainEqual(['x-utf', wire('café 例')]);
  });

  test('an empty value removes the header, a default one too, as curl does; -A "" removes User-Agent', async () => {
    const headers = await echoed(['-H', 'Accept:', '-H', 'X-Gone: x', '-H', 'x-gone:']);
    expect(headers['accept']).toBeUndefined();
    expect(headers['x-gone']).toBeUndefined();
    expect(headers['user-agent']).toBe(`fetchall/${VERSION}`);
    expect((await echoed(['-A', '']))['user-agent']).toBeUndefined();
    expect((await echoed(['-H', 'User-Agent:']))['user-agent']).toBeUndefined();
  });

  test('the user\'s Accept-Encoding wins over --compressed; a control character in -A is a usage error', async () => {
    expect((await echoed(['--compressed', '-H', 'Accept-Encoding: identity']))['accept-encoding']).toBe('identity');
    expect((await echoed(['--compressed', '-H', 'Accept-Encoding:']))['accept-encoding']).toBeUndefined();
    expect((await echoed(['--compressed']))['accept-encoding']).toBe('gzip, deflate, br');
    const bad = await runCli(['-A', 'bot\x01', await writeList([`${server.url}/echo-headers`])]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--user-agent');
  });

  test('URL credentials whose escapes are not UTF-8 go out as written', async () => {
    const list = await writeList([`http://a%ZZ:p%E0@127.0.0.1:${server.port}/echo-headers`]);
    const result = await runCli([list]);
    expect(result.code, result.stderr).toBe(0);
    const headers = JSON.parse(result.stdout.toString()) as Record<string, string>;
    expect(headers['authorization']).toBe(`Basic ${Buffer.from('a%ZZ:p%E0').toString('base64')}`);
  });

  test('-H "User-Agent: x" beats -A, whichever comes first', async () => {
    expect((await echoed(['-A', 'from-a', '-H', 'User-Agent: from-h']))['user-agent']).toBe('from-h');
    expect((await echoed(['-H', 'User-Agent: from-h', '-A', 'from-a']))['user-agent']).toBe('from-h');
  });
});

describe('stdout through a slow reader', () => {
  test('every record arrives before the exit, the last gathered write too, and the status is the run\'s', async () => {
    // 6,000 invalid lines: ~1.4 MB of records made in a burst, the last of them gathered for one write
    // when the run ends. The reader takes a chunk every 20 ms: the process ends only once all are out.
    const list = await writeList(Array.from({length: 6000}, (_, i) => `not a url ${i}`));
    const child = spawn(process.execPath, [BIN_PATH, '--json', list], {
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 20);
    });
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const [code, signal] = await exited;
      expect(signal).toBeNull();
      expect(code).toBe(1);
      const records = parseJsonLines(Buffer.concat(chunks));
      expect(records).toHaveLength(6000);
      expect(records.at(-1)).toMatchObject({index: 6000, ok: false, error: {code: 'invalid_url'}});
      expect(stderr).toMatch(/^fetchall: 6,000 URLs in .* 0 ok, 6,000 failed/);
    } finally {
      clearTimeout(timer);
    }
  });
});

describe('a body through a slow reader, with --report', () => {
  test('its record reaches the report once the body is out, before the report is closed (exit 0)', async () => {
    // The body is taken whole long before the reader has it: its record waits for the last byte.
    const dir = await makeTempDir();
    const report = join(dir, 'r.jsonl');
    const list = await writeList([`${server.url}/bytes/2000000?slow-reader=1`]);
    const child = spawn(process.execPath, [BIN_PATH, '--report', report, list], {
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 20);
    });
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const [code] = await exited;
      expect(code, stderr).toBe(0);
      expect(bytes).toBe(2_000_000);
      expect(parseJsonLines(readFileSync(report, 'utf8'))).toMatchObject([{index: 1, ok: true, bytes: 2_000_000, error: null}]);
      expect(stderr).toMatch(/^fetchall: 1 URL in .* 1 ok, 0 failed/);
    } finally {
      clearTimeout(timer);
    }
  });
});

describe('stdout closed by the reader', () => {
  test('exit 141 at once, quietly, without a stack trace', async () => {
    const list = await writeList(Array.from({length: 200}, (_, i) => `${server.url}/bytes/200000?i=${i}`));
    const child = spawn(process.execPath, [BIN_PATH, '-c', '4', list], {
      env: {...process.env, NO_COLOR: '1', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      // Read a little, like `head -c`, then close our end of the pipe.
      await once(child.stdout, 'data');
      child.stdout.destroy();
      const [code, signal] = await exited;
      expect(signal).toBeNull();
      expect(code).toBe(141);
      expect(stderr).not.toMatch(STACK);
      expect(stderr).not.toMatch(/EPIPE|internal error/i);
      // Stopped at once: far from every body was requested.
      expect(server.requests.length).toBeLessThan(200);
    } finally {
      clearTimeout(timer);
    }
  });

  test('bodies spooled to temporary files when stdout closes are removed too: nothing left in TMPDIR', async () => {
    // Four 20 MB bodies at once pass the 32 MiB memory budget: some wait in spool files.
    const tmp = await makeTempDir();
    const list = await writeList(Array.from({length: 4}, (_, i) => `${server.url}/bytes/20000000?i=${i}`));
    const child = spawn(process.execPath, [BIN_PATH, '-c', '4', list], {
      env: {...process.env, NO_COLOR: '1', TMPDIR: tmp, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: ''},
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      await once(child.stdout, 'data');
      child.stdout.destroy();
      expect((await exited)[0]).toBe(141);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      clearTimeout(timer);
    }
  });
});

describe('an internal error', () => {
  // A preload makes writing a record throw a plain Error, as a bug would (no hook in the code for it).
  const fault = fileURLToPath(new URL('../fixtures/fault-in-record.mjs', import.meta.url));

  test('exit 70 with one line naming it, and no stack trace unless FETCHALL_DEBUG=1', async () => {
    const list = await writeList(['not a url']);
    for (const debug of [undefined, '0', 'true']) {
      const result = await runCli(['--json', list], {env: {NODE_OPTIONS: `--import=${fault}`, FETCHALL_DEBUG: debug}});
      expect(result.code).toBe(70);
      expect(oneLine(result.stderr)).toBe('fetchall: internal error: test fault: a record cannot be written');
      expect(result.stderr).not.toMatch(STACK);
    }
    const debugged = await runCli(['--json', list], {env: {NODE_OPTIONS: `--import=${fault}`, FETCHALL_DEBUG: '1'}});
    expect(debugged.code).toBe(70);
    const lines = debugged.stderr.split('\n');
    expect(lines[0]).toBe('fetchall: internal error: test fault: a record cannot be written');
    // Then the stack, down to where the record was written.
    expect(lines[1]).toBe('Error: test fault: a record cannot be written');
    expect(debugged.stderr).toMatch(STACK);
    expect(debugged.stderr).toMatch(/at recordToJson /);
  });
});

describe('version and help', () => {
  test('--version and -V print the version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout.toString().trim()).toBe(VERSION);
    }
  });

  test('--help and -h print grouped options with examples and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      const help = result.stdout.toString();
      expect(help).toMatch(/Usage: fetchall/);
      expect(help).toMatch(/--concurrency/);
      expect(help).toMatch(/Examples/);
    }
  });

  const oldNode = '/usr/bin/node';
  const oldVersion = existsSync(oldNode) ? spawnSync(oldNode, ['--version'], {encoding: 'utf8'}).stdout.trim() : '';
  const [major = 99, minor = 99] = oldVersion.replace(/^v/, '').split('.').map(Number);
  const isOld = oldVersion !== '' && (major < 22 || (major === 22 && minor < 19));

  test.skipIf(!isOld)(`on an old Node (${oldVersion || 'none'}), one line naming 22.19 and exit 2`, () => {
    const result = spawnSync(oldNode, [BIN_PATH, '--version'], {encoding: 'utf8', timeout: 10_000});
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('22.19');
  });

  test.skipIf(!isOld)(`the library refuses an old Node (${oldVersion || 'none'}) at import, in one line naming 22.19`, () => {
    const index = new URL('../../dist/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(index)}).then(() => console.log('loaded'), (error) => console.log('refused: ' + error.message))`;
    const result = spawnSync(oldNode, ['-e', script], {encoding: 'utf8', timeout: 10_000});
    expect(result.stdout).toMatch(/^refused: fetchall needs Node\.js 22\.19 or newer \(this is v\d+\.\d+\.\d+\)\n$/);
  });
});
