// The operator's view, end to end: --report, --resume, --dry-run, -q/-v, escaping, colour, summary, progress.
import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, readFile, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, test} from 'vitest';
import {BIN_PATH, makeTempDir, parseJsonLines, runCli, writeList} from '../helpers/cli.js';
import {useTestServer} from '../helpers/use-server.js';

const RECORD_KEYS = ['index', 'url', 'ok', 'status', 'final_url', 'bytes', 'duration_ms', 'attempts', 'file', 'skipped', 'sha256', 'error'];
const ESC = '\x1b';
/** An SGR colour sequence such as `\x1b[31m`. */
const SGR = /\x1b\[\d+(;\d+)*m/;

const server = useTestServer();

/** Paths (with query) the server saw, in arrival order. */
const seen = (): string[] => server.requests.map((r) => r.url);

async function readReport(path: string): Promise<any[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return parseJsonLines(text);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Run the CLI under a pseudo-terminal with util-linux `script`, so its stderr (and stdout) is a TTY.
 * Resolves with everything the terminal received and script's exit code (the CLI's, thanks to -e).
 */
function runInPty(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<{code: number | null; output: string}> {
  const childEnv: Record<string, string | undefined> = {...process.env, TERM: 'xterm', ...env};
  for (const name of ['FORCE_COLOR', 'NO_COLOR', 'COLORTERM']) if (!(name in env)) delete childEnv[name];
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  const cmd = [process.execPath, BIN_PATH, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], {env: childEnv, stdio: ['pipe', 'pipe', 'pipe']});
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (output += chunk));
    child.stderr.on('data', () => {});
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({code, output});
    });
  });
}

describe('--report', () => {
  test('one valid JSON line per record, all keys in order, appended across runs', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/a`, `${server.url}/status/404`, 'ftp://x/']);
    const first = await runCli([list, '--report', report, '--retries', '0', '-o', join(dir, 'out')]);
    expect(first.code).toBe(1);
    const afterFirst = await readReport(report);
    expect(afterFirst).toHaveLength(3);
    for (const record of afterFirst) expect(Object.keys(record)).toEqual(RECORD_KEYS);
    expect(afterFirst.map((r) => r.index).sort()).toEqual([1, 2, 3]);
    const byIndex = new Map(afterFirst.map((r) => [r.index, r]));
    expect(byIndex.get(1)).toMatchObject({ok: true, status: 200, file: join(dir, 'out', 'a')});
    expect(byIndex.get(2)).toMatchObject({ok: false, status: 404, error: {code: 'http_status'}});
    expect(byIndex.get(3)).toMatchObject({ok: false, error: {code: 'invalid_url'}});

    await runCli([list, '--report', report, '--retries', '0', '-o', join(dir, 'out')]);
    const afterSecond = await readReport(report);
    expect(afterSecond).toHaveLength(6);
    expect(afterSecond.slice(0, 3)).toEqual(afterFirst);
  });

  test('a report whose last line has no newline gets one before the first record appended', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const old = JSON.stringify({index: 1, url: 'https://old.test/x', ok: true});
    await writeFile(report, old);
    const result = await runCli([await writeList([`${server.url}/text/nl`]), '--report', report, '-q']);
    expect(result.code).toBe(0);
    const lines = (await readFile(report, 'utf8')).split('\n');
    expect(lines[0]).toBe(old);
    expect(JSON.parse(lines[1]!)).toMatchObject({index: 1, url: `${server.url}/text/nl`, ok: true});
    expect(lines.slice(2)).toEqual(['']);
  });

  test('after a SIGKILL mid-run every line of the report is whole, valid JSON', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const lines = Array.from({length: 400}, (_, i) => `${server.url}/slow?ms=${20 + (i % 7) * 10}&i=${i}`);
    const list = await writeList(lines);
    const child = spawn(process.execPath, [BIN_PATH, list, '--report', report, '-c', '8', '-o', join(dir, 'out')], {
      env: {...process.env, NO_COLOR: '1'},
      stdio: 'ignore',
    });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
    const started = Date.now();
    let count = 0;
    while (Date.now() - started < 15_000) {
      await new Promise((r) => setTimeout(r, 15));
      const text = existsSync(report) ? await readFile(report, 'utf8') : '';
      count = text.split('\n').length - 1;
      if (count >= 5) break;
    }
    child.kill('SIGKILL');
    expect(await closed).toBe('SIGKILL');
    expect(count).toBeGreaterThanOrEqual(5);
    const records = await readReport(report);
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(records.length).toBeLessThan(400);
    for (const record of records) expect(Object.keys(record)).toEqual(RECORD_KEYS);
  });

  test('two shards appending to one report at the same time: one write per record, so no line is torn', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    // Long URLs make long records: torn writes from two processes would interleave inside them.
    const pad = 'p'.repeat(600);
    const list = await writeList(Array.from({length: 600}, (_, i) => `${server.url}/text/s${i}?pad=${pad}`));
    const [one, two] = await Promise.all([
      runCli(['--shard', '1/2', '-c', '16', '--report', report, list]),
      runCli(['--shard', '2/2', '-c', '16', '--report', report, list]),
    ]);
    expect([one.code, two.code]).toEqual([0, 0]);
    const records = await readReport(report);
    expect(records.map((r) => r.index).sort((x, y) => x - y)).toEqual(Array.from({length: 600}, (_, i) => i + 1));
  });
});

describe('--resume', () => {
  test('a rerun requests only the URLs whose latest record is not ok, and appends', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/a`, `${server.url}/status/404`, `${server.url}/text/b`]);
    expect((await runCli([list, '--report', report, '--retries', '0', '-o', join(dir, 'out')])).code).toBe(1);
    expect(seen().sort()).toEqual(['/status/404', '/text/a', '/text/b']);

    server.resetStats();
    const second = await runCli([list, '--report', report, '--resume', '--retries', '0', '-o', join(dir, 'out'), '--json']);
    expect(second.code).toBe(1);
    expect(seen()).toEqual(['/status/404']);
    const records = await readReport(report);
    expect(records).toHaveLength(6);
    const appended = records.slice(3).sort((x, y) => x.index - y.index);
    expect(appended.map((r) => [r.index, r.skipped, r.ok])).toEqual([
      [1, true, true],
      [2, false, false],
      [3, true, true],
    ]);
    expect(appended[0]).toMatchObject({status: null, attempts: 0, bytes: 0, error: null});
    expect(second.records()).toHaveLength(3);
  });

  test('a report that starts with a BOM, and a saved path that is now a symlink loop: read as they are, no internal error', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const out = join(dir, 'out');
    await mkdir(out);
    await symlink('loop2', join(out, 'loop1'));
    await symlink('loop1', join(out, 'loop2'));
    const rec = (url: string, file: string | null): string =>
      JSON.stringify({index: 1, url, ok: true, status: 200, final_url: url, bytes: 0, duration_ms: 1, attempts: 1,
        file, skipped: false, sha256: null, error: null});
    const [first, looped] = [`${server.url}/text/bom`, `${server.url}/text/looped`];
    await writeFile(report, `\ufeff${rec(first, null)}\n${rec(looped, join(out, 'loop1/x.txt'))}\n`);
    const result = await runCli([await writeList([first, `${looped} loop1/x.txt`]), '--report', report, '--resume', '-o', out, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(seen()).toEqual([]);
    expect(result.records().sort((x, y) => x.index - y.index).map((r) => [r.skipped, r.file])).toEqual([[true, null], [true, null]]);
  });

  test('matches by URL text and follows the latest record of each URL', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const u = (p: string): string => `${server.url}/text/${p}`;
    const rec = (url: string, ok: boolean): string =>
      JSON.stringify({index: 1, url, ok, status: ok ? 200 : 500, final_url: url, bytes: 0, duration_ms: 1, attempts: 1,
        file: null, skipped: false, sha256: null, error: ok ? null : {code: 'http_status', message: 'HTTP 500'}});
    // ok then failed → refetch; failed then ok → skip; only failed → refetch; ok → skip; absent → fetch.
    // A torn last line (no newline, cut JSON) is ignored.
    await writeFile(report, [rec(u('a'), true), rec(u('a'), false), rec(u('b'), false), rec(u('b'), true),
      rec(u('c'), false), rec(u('d'), true), ''].join('\n') + '{"index":9,"url":"' + u('e'));
    const list = await writeList([u('a'), u('b'), u('c'), u('d'), u('e')]);
    const result = await runCli([list, '--report', report, '--resume', '-o', join(dir, 'out')]);
    expect(result.code).toBe(0);
    expect(seen().sort()).toEqual(['/text/a', '/text/c', '/text/e']);
  });

  test('a URL listed twice is two files: an ok copy does not skip the other, whose file was never written', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    let hits = 0;
    server.route('/dup/a.txt', (_req, res) => {
      hits++;
      res.writeHead(hits === 1 ? 503 : 200, {'content-length': 2});
      res.end('ok');
    });
    const url = `${server.url}/dup/a.txt`;
    const list = await writeList([url, url]);
    const out = join(dir, 'out');
    const first = await runCli([list, '-c', '1', '--retries', '0', '--report', report, '-o', out, '--json']);
    expect(first.records().map((r) => [r.index, r.ok, r.file])).toEqual([[1, false, null], [2, true, join(out, 'a-1.txt')]]);
    const second = await runCli([list, '-c', '1', '--report', report, '--resume', '-o', out, '--json']);
    expect(second.code).toBe(0);
    expect(second.records().map((r) => [r.index, r.ok, r.skipped, r.file])).toEqual([[1, true, false, join(out, 'a.txt')], [2, true, true, join(out, 'a-1.txt')]]);
    expect(existsSync(join(out, 'a.txt'))).toBe(true);
  });

  test('a failure after an ok record under -o is the latest: the URL is fetched again', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const out = join(dir, 'out');
    let status = 200;
    server.route('/flip/x.txt', (_req, res) => {
      res.writeHead(status, {'content-length': 2});
      res.end('ok');
    });
    const list = await writeList([`${server.url}/flip/x.txt`]);
    expect((await runCli([list, '--report', report, '-o', out])).code).toBe(0);
    status = 404;
    expect((await runCli([list, '--report', report, '-o', out, '--retries', '0'])).code).toBe(1);
    status = 200;
    server.resetStats();
    const third = await runCli([list, '--report', report, '--resume', '-o', out, '--json']);
    expect(third.code).toBe(0);
    expect(seen()).toEqual(['/flip/x.txt']);
    expect(third.records()[0]).toMatchObject({ok: true, skipped: false});
  });

  test('the same DIR spelled another way still resumes; copies are told apart by their own file', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/p.txt`, `${server.url}/text/q.txt`]);
    expect((await runCli([list, '--report', report, '-o', join(dir, 'out')])).code).toBe(0);
    const {rename} = await import('node:fs/promises');
    server.resetStats();
    const spelled = await runCli([list, '--report', report, '--resume', '-o', `${dir}/./out/`, '--json']);
    expect(spelled.records().map((r) => r.skipped)).toEqual([true, true]);
    expect(seen()).toEqual([]);
    // One URL saved as sub/x.txt only: its other name x.txt was never saved, and is fetched.
    const twice = await writeList([`${server.url}/text/x1  sub/x.txt`, `${server.url}/text/x1  x.txt`]);
    const partial = join(dir, 'partial.jsonl');
    await writeFile(partial, JSON.stringify({index: 1, url: `${server.url}/text/x1`, ok: true, status: 200, final_url: null, bytes: 1, duration_ms: 1, attempts: 1, file: join(dir, 'o2', 'sub', 'x.txt'), skipped: false, sha256: null, error: null}) + '\n');
    const resumed = await runCli([twice, '--report', partial, '--resume', '-o', join(dir, 'o2'), '--json']);
    expect(resumed.records().map((r) => [r.index, r.skipped])).toEqual([[1, true], [2, false]]);
    void rename;
  });

  test('a report written with a relative -o resumes a run naming DIR by its absolute path', async () => {
    const dir = await makeTempDir();
    const list = await writeList([`${server.url}/text/rel1.txt`, `${server.url}/text/rel2.txt`]);
    // The records hold `out/rel1.txt`, relative to the folder the run was started in.
    expect((await runCli([list, '--report', 'run.jsonl', '-o', 'out'], {cwd: dir})).code).toBe(0);
    expect((await readReport(join(dir, 'run.jsonl'))).map((r) => r.file).sort()).toEqual(['out/rel1.txt', 'out/rel2.txt']);
    server.resetStats();
    const absolute = await runCli([list, '--report', 'run.jsonl', '--resume', '-o', join(dir, 'out'), '--json'], {cwd: dir});
    expect(absolute.records().map((r) => r.skipped)).toEqual([true, true]);
    expect(seen()).toEqual([]);
  });

  test('a URL skipped by --resume names no file when none was saved (done without -o before)', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/n1`]);
    expect((await runCli([list, '--report', report])).code).toBe(0);
    const second = await runCli([list, '--report', report, '--resume', '-o', join(dir, 'out'), '--json']);
    expect(second.records()[0]).toMatchObject({skipped: true, file: null});
  });

  test('--dry-run shows what --resume and --skip-existing would skip, as skipped records', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const out = join(dir, 'out');
    const list = await writeList([`${server.url}/text/done`, `${server.url}/text/there.txt`, `${server.url}/text/todo`]);
    await writeFile(report, JSON.stringify({index: 1, url: `${server.url}/text/done`, ok: true, status: 200, final_url: null, bytes: 0, duration_ms: 1, attempts: 1, file: null, skipped: false, sha256: null, error: null}) + '\n');
    const {mkdir} = await import('node:fs/promises');
    await mkdir(out);
    await writeFile(join(out, 'there.txt'), 'x');
    const result = await runCli([list, '--dry-run', '--json', '--report', report, '--resume', '-o', out, '--skip-existing']);
    expect(result.code).toBe(0);
    expect(result.records().map((r) => [r.index, r.skipped])).toEqual([[1, true], [2, true], [3, false]]);
    expect(seen()).toEqual([]);
    // HEAD saves no file: the plan shows none either.
    const head = await runCli([list, '--dry-run', '--json', '-X', 'HEAD', '-o', out]);
    expect(head.records()[2]).toMatchObject({skipped: false, file: null});
  });

  test('a missing report counts as empty and is created', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'missing.jsonl');
    const list = await writeList([`${server.url}/text/a`, `${server.url}/text/b`]);
    const result = await runCli([list, '--report', report, '--resume', '-o', join(dir, 'out')]);
    expect(result.code).toBe(0);
    expect(seen().sort()).toEqual(['/text/a', '/text/b']);
    expect(await readReport(report)).toHaveLength(2);
  });

  test('an ok record holding a raw U+2028 (a name decoded from %E2%80%A8) is read whole: the URL is skipped', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/a%E2%80%A8b.txt`, `${server.url}/text/c`]);
    expect((await runCli([list, '--report', report, '-o', join(dir, 'out')])).code).toBe(0);
    expect(await readFile(report, 'utf8')).toContain('\u2028');
    server.resetStats();
    const second = await runCli([list, '--report', report, '--resume', '-o', join(dir, 'out'), '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(seen()).toEqual([]);
    expect(second.records().map((r) => r.skipped)).toEqual([true, true]);
  });

  test('a report path that is a folder is exit 3 with one line, with --resume as without', async () => {
    const dir = await makeTempDir();
    const list = await writeList([`${server.url}/text/a`]);
    for (const args of [['--report', dir, '--resume'], ['--report', dir]]) {
      const result = await runCli([list, ...args]);
      expect(result.code).toBe(3);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/report .*EISDIR/);
    }
    expect(seen()).toEqual([]);
  });

  test('--report naming a list itself is a usage error: nothing sent, the list unchanged', async () => {
    const list = await writeList([`${server.url}/text/a`, `${server.url}/text/b`]);
    const before = await readFile(list, 'utf8');
    const result = await runCli([list, '--report', list, '--resume']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--report .* is the list .* itself/);
    expect(seen()).toEqual([]);
    expect(await readFile(list, 'utf8')).toBe(before);
  });

  test('--resume without --report is a usage error, before any request', async () => {
    const list = await writeList([`${server.url}/text/a`]);
    const result = await runCli([list, '--resume']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--report/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('--dry-run', () => {
  test('prints URL<TAB>FILE in input order; no request, no folder, no report; exit 1 on an invalid line', async () => {
    const dir = await makeTempDir();
    const out = join(dir, 'out', 'sub');
    const report = join(dir, 'run.jsonl');
    const list = await writeList([`${server.url}/text/a.txt`, '# comment', 'ftp://nope/x', `${server.url}/x/a.txt`, `${server.url}/text/b.txt  named/b`]);
    const result = await runCli([list, '--dry-run', '-o', out, '--report', report]);
    expect(result.code).toBe(1);
    expect(result.stdout.toString()).toBe(
      `${server.url}/text/a.txt\t${join(out, 'a.txt')}\n` +
        `ftp://nope/x\t-\n` +
        `${server.url}/x/a.txt\t${join(out, 'a-1.txt')}\n` +
        `${server.url}/text/b.txt\t${join(out, 'named/b')}\n`,
    );
    expect(result.stderr).toContain(':3:');
    expect(server.requests).toHaveLength(0);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(existsSync(report)).toBe(false);
  });

  test('without -o the FILE column is "-", and an all-valid list exits 0', async () => {
    const list = await writeList([`${server.url}/text/a`, `${server.url}/text/b`]);
    const result = await runCli([list, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`${server.url}/text/a\t-\n${server.url}/text/b\t-\n`);
    expect(server.requests).toHaveLength(0);
  });

  test('an invalid URL holding a control character is escaped in the plan', async () => {
    const list = await writeList([`${server.url}/a${ESC}[2Jb`, `${server.url}/text/c`]);
    const result = await runCli([list, '--dry-run']);
    expect(result.code).toBe(1);
    expect(result.stdout.toString()).toBe(`${server.url}/a\\x1b[2Jb\t-\n${server.url}/text/c\t-\n`);
    expect(result.stderr).not.toContain(ESC);
  });

  test('-q: an invalid line is still in the plan and exits 1, but is not told on stderr', async () => {
    const list = await writeList(['not-a-url', `${server.url}/text/q`]);
    const result = await runCli([list, '--dry-run', '-q']);
    expect(result.code).toBe(1);
    expect(result.stdout.toString()).toBe(`not-a-url\t-\n${server.url}/text/q\t-\n`);
    expect(result.stderr).toBe('');
    // Without -q the same line is told.
    const told = await runCli([list, '--dry-run']);
    expect(told.code).toBe(1);
    expect(told.stderr).toMatch(/^fetchall: .*:1/);
  });

  test('--json prints the would-be records', async () => {
    const dir = await makeTempDir();
    const out = join(dir, 'out');
    const list = await writeList([`${server.url}/text/a`, 'not-a-url']);
    const result = await runCli([list, '--dry-run', '--json', '-o', out]);
    expect(result.code).toBe(1);
    const records = result.records();
    expect(records).toHaveLength(2);
    for (const record of records) expect(Object.keys(record)).toEqual(RECORD_KEYS);
    expect(records[0]).toMatchObject({index: 1, url: `${server.url}/text/a`, file: join(out, 'a'), attempts: 0, error: null});
    expect(records[1]).toMatchObject({index: 2, ok: false, error: {code: 'invalid_url'}});
    expect(server.requests).toHaveLength(0);
    expect(existsSync(out)).toBe(false);
  });

  test('respects --shard, with names assigned before the shard filters', async () => {
    const dir = await makeTempDir();
    const out = join(dir, 'out');
    const list = await writeList([1, 2, 3, 4, 5].map((i) => `${server.url}/d${i}/same.txt`));
    const result = await runCli([list, '--dry-run', '--shard', '2/2', '-o', out]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(
      `${server.url}/d2/same.txt\t${join(out, 'same-1.txt')}\n${server.url}/d4/same.txt\t${join(out, 'same-3.txt')}\n`,
    );
    expect(server.requests).toHaveLength(0);
  });
});

describe('-q and -v', () => {
  const lines = (): string[] => [`${server.url}/text/a`, `${server.url}/status/404`, `${server.url}/text/b`];

  test('-q prints only the failed URLs', async () => {
    const list = await writeList(lines());
    const result = await runCli([list, '-q', '--retries', '0', '--json']);
    expect(result.code).toBe(1);
    const stderr = result.stderr.trimEnd().split('\n');
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toContain(`${server.url}/status/404`);
    expect(stderr[0]).toContain('404');
  });

  test('-v prints one line per URL as it completes, then the summary', async () => {
    const list = await writeList(lines());
    const result = await runCli([list, '-v', '--retries', '0', '--json']);
    expect(result.code).toBe(1);
    const perUrl = result.stderr.split('\n').filter((l) => /^(OK|FAIL|SKIP)\b/.test(l));
    expect(perUrl).toHaveLength(3);
    for (const path of ['/text/a', '/status/404', '/text/b']) expect(perUrl.filter((l) => l.includes(path))).toHaveLength(1);
    expect(result.stderr).toMatch(/3 URLs/);
  });

  test('without -v a failed URL is not printed before the summary', async () => {
    const list = await writeList(lines());
    const result = await runCli([list, '--retries', '0', '--json']);
    const stderr = result.stderr.split('\n');
    expect(stderr[0]).toMatch(/^fetchall: 3 URLs/);
    expect(stderr.filter((l) => l.includes('/status/404'))).toHaveLength(1);
  });

  test('-q with -v is a usage error', async () => {
    const list = await writeList(lines());
    const result = await runCli([list, '-q', '-v']);
    expect(result.code).toBe(2);
    expect(server.requests).toHaveLength(0);
  });
});

describe('escaping', () => {
  test('hostile status text, URLs with ESC and passwords never reach stderr raw', async () => {
    const port = server.port;
    const list = await writeList([
      `${server.url}/ansi`,
      `${server.url}/ansi?header=1`,
      `${server.url}/status/404?x=%1B[2J%1B]0;t%07`,
      `${server.url}/status/404?raw=${ESC}[31mred${ESC}]0;title\x07`,
      `${server.url}/text/${ESC}[2J\u202etxt.exe`,
      `http://user:hunter2@127.0.0.1:${port}/status/500`,
      `http://user:hunter2@127.0.0.1:${port}/text/ok`,
      // Spellings the URL parser takes, and a JSON entry's password with a space: masked all the same.
      `http:user:hunter2@127.0.0.1:${port}/status/404`,
      `http:\\\\user:hunter2@127.0.0.1:${port}/status/404`,
      `https:///user:hunter2@127.0.0.1:1/x`,
      JSON.stringify({url: `http://user:hunter2 x@127.0.0.1:${port}/status/404`}),
    ]);
    for (const extra of [[], ['-v'], ['-q']]) {
      const result = await runCli([list, '--retries', '0', '--json', ...extra], {env: {NO_COLOR: '1'}});
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain(ESC);
      expect(result.stderr).not.toContain('\x07');
      expect(result.stderr).not.toContain('\u202e');
      expect(result.stderr).not.toContain('hunter2');
      expect(result.stderr).toContain('user:***@');
      expect(result.stderr).toContain('\\x1b');
      // Every line of stderr is one we wrote: no forged line from a CR or LF in server data.
      for (const line of result.stderr.split('\n')) expect(line).not.toContain('\r');
    }
  });

  test('the /ansi status text is shown escaped in the summary', async () => {
    const list = await writeList([`${server.url}/ansi`]);
    const result = await runCli([list, '--retries', '0', '--json']);
    expect(result.stderr).toContain('Bad \\x1b]0;pwned\\x07 \\x1b[2J');
    expect(result.stderr).not.toContain(ESC);
  });
});

describe('colour', () => {
  const failing = async (): Promise<string> => writeList([`${server.url}/status/404`, `${server.url}/text/a`]);

  test('FORCE_COLOR=1 colours stderr even when it is not a terminal', async () => {
    const result = await runCli([await failing(), '--retries', '0', '--json'], {env: {NO_COLOR: undefined, FORCE_COLOR: '1'}});
    expect(result.stderr).toMatch(SGR);
  });

  test.each([
    ['--no-color beats FORCE_COLOR', ['--no-color'], {FORCE_COLOR: '1', NO_COLOR: undefined}],
    ['FORCE_COLOR=0', [], {FORCE_COLOR: '0', NO_COLOR: undefined}],
    ['FORCE_COLOR=false', [], {FORCE_COLOR: 'false', NO_COLOR: undefined}],
    ['NO_COLOR=1', [], {NO_COLOR: '1', FORCE_COLOR: undefined}],
  ] as const)('%s: no colour', async (_name, flags, env) => {
    const result = await runCli([await failing(), '--retries', '0', '--json', ...flags], {env: {...env}});
    expect(result.stderr).not.toContain(ESC);
    expect(result.stderr).toMatch(/404/);
  });

  test('NO_COLOR and FORCE_COLOR both set (as CI often has them): FORCE_COLOR wins, and Node says nothing about it', async () => {
    const env = {NO_COLOR: '1', FORCE_COLOR: '1', NODE_DISABLE_COLORS: '1'};
    const quiet = await runCli([await failing(), '--retries', '0', '-q', '--no-color'], {env});
    expect(quiet.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^\s*FAIL .*\/status\/404/)]);
    const usage = await runCli(['-c', '0', await failing()], {env});
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    const coloured = await runCli([await failing(), '--retries', '0', '--json'], {env});
    expect(coloured.stderr).toMatch(SGR);
    expect(coloured.stderr).not.toContain('Warning');
  });

  test('on a terminal: colour by default; none with NO_COLOR, --no-color or FORCE_COLOR=0', async () => {
    const dir = await makeTempDir();
    const list = await failing();
    const args = [list, '--retries', '0', '-o', join(dir, 'out')];
    const plain = await runInPty(args);
    expect(plain.code).toBe(1);
    expect(plain.output).toMatch(SGR);
    for (const [extra, env] of [
      [[], {NO_COLOR: '1'}],
      [['--no-color'], {}],
      [[], {FORCE_COLOR: '0'}],
    ] as const) {
      const result = await runInPty([...args, ...extra], {...env});
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/404/);
      expect(result.output).not.toMatch(SGR);
    }
  });
});

describe('summary', () => {
  test('counts, grouped failures, the first 20 failures, then "… and N more"', async () => {
    const list = await writeList([
      `${server.url}/text/a`,
      ...Array.from({length: 20}, (_, i) => `${server.url}/status/404?i=${i}`),
      ...Array.from({length: 5}, (_, i) => `${server.url}/status/410?i=${i}`),
      `${server.url}/text/b`,
    ]);
    const result = await runCli([list, '--retries', '0', '--json', '-c', '4']);
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^fetchall: 27 URLs in \S+ — 2 ok, 25 failed, 0 skipped · \S+ B · \S+ URLs\/s$/);
    expect(lines[1]).toBe('failures: 404 ×20, 410 ×5');
    const listed = lines.filter((l) => l.startsWith('  FAIL '));
    expect(listed).toHaveLength(20);
    expect(lines.at(-1)).toBe('  … and 5 more');
    expect(lines).toHaveLength(2 + 20 + 1);
  });

  test('"… and N more" counts the same way with -q and without: 1,005', async () => {
    const list = await writeList(Array.from({length: 1025}, (_, i) => `not a url ${i}`));
    for (const [args, last] of [[[], '  … and 1,005 more'], [['-q'], '… and 1,005 more']] as const) {
      const result = await runCli([list, ...args]);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(last);
    }
  });

  test('a stopped run counts the entries never started', async () => {
    const dir = await makeTempDir();
    const list = await writeList(Array.from({length: 30}, (_, i) => `${server.url}/slow?ms=300&i=${i}`));
    const result = await runCli([list, '-c', '2', '--deadline', '500ms', '--json', '-o', join(dir, 'out')]);
    expect(result.code).toBe(124);
    const match = /^fetchall: (\d+) URLs in .* (\d+) not started/.exec(result.stderr);
    expect(match).not.toBeNull();
    expect(Number(match![1]) + Number(match![2])).toBe(30);
    expect(result.records()).toHaveLength(Number(match![1]));
  });

  test('standard input redirected from a file is counted too, from the offset it starts at', async () => {
    // The shell reads the first line before fetchall starts: counted from the file's start, the total
    // would be one too many.
    const list = await writeList([`${server.url}/text/consumed`, ...Array.from({length: 30}, (_, i) => `${server.url}/slow?ms=300&stdin=${i}`)]);
    const script = `(read consumed; exec ${shellQuote(process.execPath)} ${shellQuote(BIN_PATH)} -c 2 --deadline 500ms --json) < ${shellQuote(list)}`;
    const child = spawn('sh', ['-c', script], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(124);
    const match = /^fetchall: (\d+) URLs in .* (\d+) not started/.exec(stderr);
    expect(match, stderr).not.toBeNull();
    expect(Number(match![1]) + Number(match![2])).toBe(30);
    expect(parseJsonLines(stdout)).toHaveLength(Number(match![1]));
  }, 20_000);

  test('--fail-fast on the last URL cut nothing short: the summary says no "stopped"', async () => {
    const last = await writeList([`${server.url}/text/ff-a`, `${server.url}/status/404?ff=last`]);
    const result = await runCli([last, '-c', '1', '--retries', '0', '--fail-fast', '--json']);
    expect(result.code).toBe(1);
    expect(result.records()).toHaveLength(2);
    expect(result.stderr).toMatch(/^fetchall: 2 URLs in /);
    expect(result.stderr).not.toMatch(/stopped/);
    // The same failure with an entry left after it: that one is cut short, and the summary says why.
    const early = await writeList([`${server.url}/status/404?ff=first`, `${server.url}/text/ff-b`]);
    const stopped = await runCli([early, '-c', '1', '--retries', '0', '--fail-fast', '--json']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/stopped by --fail-fast/);
  });

  test('an all-ok run prints only the counts line', async () => {
    const list = await writeList([`${server.url}/text/a`]);
    const result = await runCli([list, '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^fetchall: 1 URL in .* — 1 ok, 0 failed, 0 skipped/);
  });
});

describe('progress', () => {
  test('on a terminal: redrawn in place with done/total, and cleared before the summary', async () => {
    const dir = await makeTempDir();
    const lines = [
      ...Array.from({length: 12}, (_, i) => `${server.url}/slow?ms=${150 + i * 60}&i=${i}`),
      `${server.url}/status/404`,
    ];
    const list = await writeList(lines);
    const {code, output} = await runInPty([list, '-c', '3', '--retries', '0', '-o', join(dir, 'out')], {NO_COLOR: '1'});
    expect(code).toBe(1);
    // Each redraw: CR, the line, erase to end of line.
    const draws = [...output.matchAll(/\r\[ *([\d,]+)\/([\d,?]+) \] ([^\r\n]*?)\x1b\[K/g)];
    expect(draws.length).toBeGreaterThanOrEqual(3);
    const counts = new Set(draws.map((d) => d[1]));
    expect(counts.size).toBeGreaterThanOrEqual(3);
    // The total is counted ahead for a regular file.
    expect(draws.some((d) => d[2] === '13')).toBe(true);
    expect(draws.at(-1)![3]).toMatch(/ok · \d+ failed · \d+ skipped · [\d.,]+ req\/s/);
    // Cleared (CR + erase line) right before the summary, which starts on a clean line.
    const summaryAt = output.indexOf('fetchall: 13 URLs');
    expect(summaryAt).toBeGreaterThan(0);
    expect(output.slice(summaryAt - 5, summaryAt)).toBe('\r\x1b[2K');
    expect(output.slice(summaryAt)).not.toMatch(/\[ *[\d,]+\/[\d,?]+ \]/);
  });

  test('bodies to the same terminal: no live line is glued into them', async () => {
    const list = await writeList([`${server.url}/slow?ms=600`, `${server.url}/text/a`]);
    const {code, output} = await runInPty([list], {NO_COLOR: '1'});
    expect(code).toBe(0);
    expect(output).toContain('fetchall: 2 URLs');
    expect(output).not.toMatch(/\[ *[\d,]+\/[\d,?]+ \]/);
    // --json records to the terminal, bodies saved with -o: stdout still carries lines, so no live line either.
    const dir = await makeTempDir();
    const json = await runInPty([list, '--json', '-o', join(dir, 'out')], {NO_COLOR: '1'});
    expect(json.code).toBe(0);
    expect(json.output).toContain('"ok":true');
    expect(json.output).toContain('fetchall: 2 URLs');
    expect(json.output).not.toMatch(/\[ *[\d,]+\/[\d,?]+ \]/);
  });

  test('bytes count on the live line as they arrive, before the URL is done', async () => {
    // 3 MB of a body, then nothing until the idle timeout: the line showed 0 B until the record came.
    const dir = await makeTempDir();
    const list = await writeList([`${server.url}/stall-body?after=3000000`]);
    const {code, output} = await runInPty([list, '--idle-timeout', '1500ms', '--retries', '0', '-o', join(dir, 'out')], {NO_COLOR: '1'});
    expect(code).toBe(1);
    const draws = [...output.matchAll(/\r\[ *([\d,]+)\/1 \] ([^\r\n]*?)\x1b\[K/g)];
    const waiting = draws.filter((d) => d[1] === '0').map((d) => d[2]!);
    expect(waiting.length).toBeGreaterThanOrEqual(3);
    expect(waiting.at(-1)).toMatch(/ · 3\.0 MB \([\d.]+ [kM]B\/s\)/);
  });

  test('on a TERM=dumb terminal: the line is drawn and erased with spaces, no control sequence', async () => {
    const dir = await makeTempDir();
    const list = await writeList([`${server.url}/slow?ms=500&dumb=1`, `${server.url}/text/dumb`]);
    const {code, output} = await runInPty([list, '-o', join(dir, 'out')], {NO_COLOR: '1', TERM: 'dumb'});
    expect(code).toBe(0);
    expect(output).toMatch(/\r\[ *[\d,]+\/2 \] /);
    expect(output).toContain('fetchall: 2 URLs');
    expect(output).not.toContain('\x1b');
  });

  test('HEAD with stdout a terminal: the line is drawn (stdout carries no body)', async () => {
    const list = await writeList([`${server.url}/slow?ms=700`, `${server.url}/text/a`]);
    const {code, output} = await runInPty([list, '-X', 'HEAD'], {NO_COLOR: '1'});
    expect(code).toBe(0);
    expect(output).toMatch(/\r\[ *[\d,]+\/2 \] /);
    expect(output).toContain('fetchall: 2 URLs');
  });

  test('bodies and stderr on one terminal: a body without a final newline does not have the summary glued to it', async () => {
    // /slow answers `slow`, with no newline; the -v line and the summary each start a row of their own.
    for (const args of [['-v'], []]) {
      const list = await writeList([`${server.url}/slow?ms=0&glued=${args.length}`]);
      const {code, output} = await runInPty([list, ...args], {NO_COLOR: '1'});
      expect(code).toBe(0);
      const body = output.indexOf('slow');
      expect(output.slice(body, body + 6)).toBe('slow\r\n');
      expect(output).toMatch(/\r\nfetchall: 1 URL in /u);
      // One row break, not one per line printed after the body.
      expect(output).not.toContain('\r\n\r\n');
    }
  });

  test('not a terminal: no progress line, and -q none on a terminal either', async () => {
    const list = await writeList([`${server.url}/slow?ms=300`, `${server.url}/text/a`]);
    const result = await runCli([list, '--json']);
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toMatch(/progress/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);

    const dir = await makeTempDir();
    const quiet = await runInPty([list, '-q', '-o', join(dir, 'out')], {NO_COLOR: '1'});
    expect(quiet.code).toBe(0);
    expect(quiet.output).toBe('');
  });

  test('not a terminal with --progress: a plain status line per interval', async () => {
    const list = await writeList([`${server.url}/slow?ms=900`, `${server.url}/text/a`, `${server.url}/text/b`]);
    const result = await runCli([list, '--json', '--progress'], {env: {FETCHALL_PROGRESS_INTERVAL_MS: '200'}});
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toContain(ESC);
    const status = result.stderr.split('\n').filter((l) => l.startsWith('fetchall: progress '));
    expect(status.length).toBeGreaterThanOrEqual(2);
    expect(status.at(-1)).toMatch(/^fetchall: progress [23]\/3 · \d+ ok · 0 failed · 0 skipped · [\d.,]+ req\/s · /);
  });
});
