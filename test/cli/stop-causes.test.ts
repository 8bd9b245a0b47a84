// End to end: what stops a run, when, and the exit status it leaves (the first cause wins); lists that
// are pipes; outputs that fail while requests are in flight; entries that never started.
import {spawn, spawnSync} from 'node:child_process';
import {once} from 'node:events';
import {open, readFile, stat} from 'node:fs/promises';
import {existsSync, openSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, it, vi} from 'vitest';
import {BIN_PATH, makeTempDir, parseJsonLines, runCli, writeList} from '../helpers/cli.js';
import {useTestServer} from '../helpers/use-server.js';

const server = useTestServer();

/**
 * Resolves once the server has had `count` requests whose target contains `tag` and has answered every
 * request in full: the moment the bodies are the client's to hold, awaited rather than guessed.
 */
function answered(tag: string, count: number): Promise<void> {
  return vi.waitFor(() => {
    expect(server.requests.filter((request) => request.target.includes(tag))).toHaveLength(count);
    expect(server.inFlight).toBe(0);
  }, {timeout: 20_000, interval: 20});
}
const other = useTestServer({host: '127.0.0.2'});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawn the CLI; `drive` gets the child to signal it or read its stdout; resolves when it exits (bounded). */
function spawnCli(args: string[], drive: (child: ReturnType<typeof spawn>) => void = () => {}, opts: {readStdout?: boolean} = {}): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN_PATH, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}});
  let stdout = '';
  let stderr = '';
  if (opts.readStdout !== false) child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  drive(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fetchall ${args.join(' ')} did not exit within 30 s\n${stderr}`));
    }, 30_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal, stdout, stderr, ms: performance.now() - started});
    });
  });
}

describe('a list that is a pipe', () => {
  it('a FIFO whose writer stays open: --deadline still ends the run at once (exit 124)', async () => {
    const dir = await makeTempDir();
    const fifo = join(dir, 'urls.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // Our end stays open (as `<(generate; sleep)` would) until the run is over.
    const writing = open(fifo, 'w');
    // The deadline counts from the process start: 3 s leaves a loaded machine time to start and fetch.
    const result = spawnCli(['--json', '--deadline', '3s', fifo]);
    const writer = await writing;
    try {
      await writer.write(`${server.url}/text/a\n`);
      const exit = await result;
      expect(exit.code, exit.stderr).toBe(124);
      expect(exit.ms).toBeLessThan(8000);
      expect(parseJsonLines(exit.stdout).map((r) => r.ok)).toEqual([true]);
    } finally {
      await writer.close();
    }
  });
});

describe('a list that is slow to give its next line', () => {
  it('parks no slot while it waits: a redirect hop into a new host (--per-host) and a retry both go on', async () => {
    // -c 1: if the reader held the only slot while the producer is silent, entry 1 would wait for line 2.
    const child = spawn(process.execPath, [BIN_PATH, '--json', '-c', '1', '--per-host', '1', '--retry-delay', '10ms', '-'], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}});
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const records = (n: number): Promise<void> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${n} records within 10 s: ${stdout}`)), 10_000);
      const look = (): void => {
        if (stdout.split('\n').filter(Boolean).length < n) return;
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve();
      };
      child.stdout.on('data', look);
      look();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      const hop = `${other.url}/redirect/1?to=${encodeURIComponent(`${server.url}/text/hop`)}`;
      child.stdin.write(`${hop}\n`);
      await records(1);
      child.stdin.write(`${server.url}/flaky/slow-list?fail=1\n`);
      await records(2);
      child.stdin.end(`${server.url}/text/last\n`);
      expect(await exited).toBe(0);
      expect(parseJsonLines(stdout).map((r) => [r.index, r.ok])).toEqual([[1, true], [2, true], [3, true]]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('a signal before the run is under way', () => {
  it('while a FIFO list waits for its writer: exit 143 on SIGHUP, never death by the signal', async () => {
    const dir = await makeTempDir();
    const fifo = join(dir, 'nowriter.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const exit = await spawnCli([fifo], (child) => {
      setTimeout(() => child.kill('SIGHUP'), 800);
    });
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(143);
  });

  it('during --dry-run over a slow FIFO: exit 130 on SIGINT', async () => {
    const dir = await makeTempDir();
    const fifo = join(dir, 'slow.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writing = open(fifo, 'w');
    const exit = spawnCli(['--dry-run', fifo], (child) => {
      setTimeout(() => child.kill('SIGINT'), 800);
    });
    const writer = await writing;
    await writer.write('http://a.test/1\n');
    try {
      const result = await exit;
      expect(result.signal).toBeNull();
      expect(result.code).toBe(130);
    } finally {
      await writer.close();
    }
  });
});

describe('the same FIFO given twice', () => {
  it('is read by one list at a time: no line torn between the two readers', async () => {
    const dir = await makeTempDir();
    const fifo = join(dir, 'twice.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const lines = Array.from({length: 3000}, (_, i) => `http://a.test/${String(i).padStart(4, '0')}/${'x'.repeat(60)}`);
    const writing = open(fifo, 'w');
    const result = spawnCli(['--dry-run', '--json', fifo, fifo]);
    const writer = await writing;
    for (let i = 0; i < lines.length; i += 100) await writer.write(lines.slice(i, i + 100).join('\n') + '\n');
    await writer.close();
    const exit = await result;
    expect(exit.code, exit.stderr).toBe(0);
    expect(parseJsonLines(exit.stdout).map((r) => r.url)).toEqual(lines);
  });
});

describe('the first cause that stops the run sets the status', () => {
  it('a SIGINT after --deadline stopped the run (held bodies draining to a slow reader) leaves 124', async () => {
    const list = await writeList([`${server.url}/bytes/20000000`, `${server.url}/bytes/20000001`, `${server.url}/slow?ms=20000`]);
    const exit = await spawnCli(['-c', '3', '--deadline', '1500ms', list], (child) => {
      // stdout is not read: the two bodies wait to be written. The deadline passes; then a SIGINT.
      child.stderr!.on('data', () => {});
      setTimeout(() => child.kill('SIGINT'), 3000);
      setTimeout(() => child.stdout!.resume(), 3000);
    }, {readStdout: false});
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(124);
    expect(exit.stderr).toMatch(/^fetchall: \d+ URLs? in .*[1-9]\d* failed.* · stopped: --deadline reached$/m);
  });

  it('stdout closed after --deadline stopped the run (held bodies draining) leaves 124', async () => {
    const list = await writeList([`${server.url}/bytes/20000000`, `${server.url}/bytes/20000001`, `${server.url}/slow?ms=20000`]);
    const exit = await spawnCli(['-c', '3', '--deadline', '1500ms', list], (child) => {
      setTimeout(() => child.stdout!.destroy(), 3000);
    }, {readStdout: false});
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(124);
  });

  it('a second SIGINT while held bodies wait for a stalled reader: every started entry still has its record, aborted', async () => {
    const report = join(await makeTempDir(), 'r.jsonl');
    const list = await writeList([1, 2, 3].map((i) => `${server.url}/bytes/20000000?held=${i}`));
    const exit = await spawnCli(['-c', '3', '--report', report, list], (child) => {
      // stdout is never read: the three bodies come in whole and wait to be written. Then two SIGINTs.
      void answered('held=', 3).then(() => {
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGINT'), 600);
      });
    }, {readStdout: false});
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(130);
    const records = parseJsonLines(await readFile(report, 'utf8'));
    expect(records.map((r) => r.index).sort()).toEqual([1, 2, 3]);
    for (const record of records) expect(record).toMatchObject({ok: false, file: null, error: {code: 'aborted'}});
    expect(exit.stderr).toMatch(/^fetchall: 3 URLs in .*3 failed.* · stopped by SIGINT$/m);
    expect(exit.stderr).not.toContain('not started');
  });

  it('SIGQUIT is quit-now: held bodies waiting for a stalled reader are not waited for (exit 131 at once, records aborted)', async () => {
    const report = join(await makeTempDir(), 'r.jsonl');
    const list = await writeList([1, 2].map((i) => `${server.url}/bytes/20000000?quit=${i}`));
    let quitAt = 0;
    const exit = await spawnCli(['-c', '2', '--report', report, list], (child) => {
      // stdout is never read: the bodies come in whole and wait to be written. One SIGQUIT must end it;
      // a SIGKILL later ends a run that waits for the reader instead.
      void answered('quit=', 2).then(() => {
        quitAt = performance.now();
        child.kill('SIGQUIT');
        setTimeout(() => child.kill('SIGKILL'), 6000);
      });
    }, {readStdout: false});
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(131);
    expect(quitAt).toBeGreaterThan(0);
    const records = parseJsonLines(await readFile(report, 'utf8'));
    expect(records.map((r) => r.index).sort()).toEqual([1, 2]);
    for (const record of records) expect(record).toMatchObject({ok: false, error: {code: 'aborted'}});
    expect(exit.stderr).toMatch(/· stopped by SIGQUIT$/m);
  });

  it('SIGQUIT while an entry waits for its host (--per-host): only the started one is recorded aborted, the other never started', async () => {
    const report = join(await makeTempDir(), 'r.jsonl');
    // Entry 1 holds the host's one permit (its body stalls); entry 2, launched beside it (-c 2), waits
    // for that permit and has sent nothing.
    const list = await writeList([`${server.url}/stall-body?quit-gate=1`, `${server.url}/text/quit-gate-2`]);
    const exit = await spawnCli(['-c', '2', '--per-host', '1', '--report', report, list], (child) => {
      void vi.waitFor(() => expect(server.requests.filter((r) => r.target.includes('quit-gate'))).toHaveLength(1), {timeout: 20_000, interval: 20})
        .then(() => child.kill('SIGQUIT'));
    });
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(131);
    const records = parseJsonLines(await readFile(report, 'utf8'));
    expect(records.map((r) => [r.index, r.error?.code])).toEqual([[1, 'aborted']]);
    expect(server.requests.filter((r) => r.target.includes('quit-gate'))).toHaveLength(1);
    expect(exit.stderr).toMatch(/^fetchall: 1 URL in .*, 1 not started .*· stopped by SIGQUIT$/m);
  });

  it('--fail-fast stops before the failing entry gives its host back: the entry waiting for that host (--per-host) never starts', async () => {
    // -c 4 --per-host 1, every URL on one host: entry 1 fails (404, no retry) while the others wait for
    // its host's permit. The stop comes first, so none of them sends a request.
    const list = await writeList([`${server.url}/status/404?gate-ff=1`, ...[2, 3, 4].map((i) => `${server.url}/text/gate-ff-${i}`)]);
    for (let round = 0; round < 3; round++) {
      server.resetStats();
      const result = await runCli(['-c', '4', '--per-host', '1', '--retries', '0', '--fail-fast', '--json', list]);
      expect(result.code).toBe(1);
      expect(result.records().map((r) => [r.index, r.error?.code])).toEqual([[1, 'http_status']]);
      expect(server.requests.map((r) => r.target)).toEqual(['/status/404?gate-ff=1']);
      expect(result.stderr).toMatch(/^fetchall: 1 URL in .*, 3 not started .*· stopped by --fail-fast$/m);
    }
  });

  it('a SIGINT after --fail-fast stopped the run leaves 1', async () => {
    // The bodies complete and wait for the reader; then the 404 stops the run; then a SIGINT.
    server.route('/late-404', (_req, res) => {
      setTimeout(() => {
        res.writeHead(404, {'content-length': 2});
        res.end('no');
      }, 800);
    });
    const list = await writeList([`${server.url}/bytes/20000000`, `${server.url}/bytes/20000001`, `${server.url}/late-404`]);
    const exit = await spawnCli(['-c', '3', '--fail-fast', '--retries', '0', list], (child) => {
      setTimeout(() => child.kill('SIGINT'), 2500);
      setTimeout(() => child.stdout!.resume(), 2500);
    }, {readStdout: false});
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    // The signal cut the drain short, not the report of the run: the summary and the URL that stopped it.
    // The two held bodies were cut off by the signal: recorded as aborted, with the 404.
    expect(exit.stderr).toMatch(/^fetchall: 3 URLs in .*3 failed.* · stopped by --fail-fast$/m);
    expect(exit.stderr).toMatch(/FAIL .*\/late-404 — HTTP 404/);
  });
});

describe('an output that fails while requests are in flight', () => {
  it('stdout closed by the reader stops the run at once: 141, the body in flight not saved', async () => {
    const out = await makeTempDir();
    // A quick body, one a second later (its record's write finds the pipe closed), then one that drips for ~10 s.
    const list = await writeList([`${server.url}/text/a  a.txt`, `${server.url}/slow?ms=1000  b.txt`, `${server.url}/bytes/1000000?chunk=10000&every=100  big.bin`]);
    const exit = await spawnCli(['--json', '-c', '3', '-o', out, list], (child) => {
      child.stdout!.once('data', () => child.stdout!.destroy());
    }, {readStdout: false});
    expect(exit.code, exit.stderr).toBe(141);
    expect(exit.ms).toBeLessThan(6000);
    expect(exit.stderr).toBe('');
    expect(existsSync(join(out, 'big.bin'))).toBe(false);
  });
});

describe('entries that never started', () => {
  it('a --deadline already past when the run starts (it counts from the process start) sends nothing: exit 124', async () => {
    const result = await runCli(['--json', '--deadline', '1ms', await writeList([`${server.url}/text/too-late`])]);
    expect(result.code, result.stderr).toBe(124);
    expect(result.records()).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('an entry stopped while it waited for its host (--per-host) has no record and counts as not started', async () => {
    // The deadline counts from the process start: 3 s leaves a loaded machine time to start Node and send.
    const lines = Array.from({length: 4}, (_, i) => `${server.url}/slow?ms=10000&i=${i}`);
    const result = await runCli(['--json', '--per-host', '1', '-c', '4', '--deadline', '3s', await writeList(lines)]);
    expect(result.code).toBe(124);
    const records = result.records();
    expect(records.map((r) => [r.index, r.error?.code])).toEqual([[1, 'aborted']]);
    expect(result.stderr).toMatch(/3 not started.* · stopped: --deadline reached$/m);
    expect(server.requests).toHaveLength(1);
  });

  it('an entry stopped while it waited for --rate has no record either (it sent nothing)', async () => {
    const lines = Array.from({length: 3}, (_, i) => `${server.url}/slow?ms=10000&r=${i}`);
    const result = await runCli(['--json', '--rate', '1/m', '-c', '3', '--deadline', '3s', await writeList(lines)]);
    expect(result.code).toBe(124);
    expect(result.records().map((r) => [r.index, r.attempts, r.error?.code])).toEqual([[1, 1, 'aborted']]);
    expect(result.stderr).toMatch(/2 not started/);
  });
});

describe('a stopped run waits a moment for the count ahead', () => {
  // The summary's "N not started" needs the list's total, counted beside the run: a run stopped at once
  // gives that count up to a second, no more. A preload makes the count late (or never done).
  const slowCount = fileURLToPath(new URL('../fixtures/slow-count.mjs', import.meta.url));
  const lines = (tag: string): string[] => ['not a url', ...Array.from({length: 20}, (_, i) => `${server.url}/text/${tag}-${i}`)];

  it('a count that ends after the run stopped still gives the summary its "not started"', async () => {
    // --fail-fast on the invalid first line: stopped before any request, while the count is 300 ms late.
    const list = await writeList(lines('late-count'));
    const started = performance.now();
    const result = await runCli(['-c', '1', '--fail-fast', '--json', list], {env: {NODE_OPTIONS: `--import=${slowCount}`, SLOW_COUNT_PATH: list, SLOW_COUNT_MS: '300'}});
    expect(result.code).toBe(1);
    expect(result.records()).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
    expect(result.stderr).toMatch(/^fetchall: 1 URL in .*, 20 not started · .* · stopped by --fail-fast$/m);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a count that never ends holds the summary back about a second, not longer', async () => {
    const list = await writeList(lines('stuck-count'));
    const started = performance.now();
    const result = await runCli(['-c', '1', '--fail-fast', '--json', list], {env: {NODE_OPTIONS: `--import=${slowCount}`, SLOW_COUNT_PATH: list, SLOW_COUNT_MS: 'never'}});
    const ms = performance.now() - started;
    expect(result.code).toBe(1);
    expect(result.records()).toHaveLength(1);
    // Without the total the summary cannot say how many were not started; it says the rest.
    expect(result.stderr).toMatch(/^fetchall: 1 URL in .* · stopped by --fail-fast$/m);
    expect(result.stderr).not.toContain('not started');
    // Start-up (~0.2 s), the second's wait, and a loaded machine's slack; a wait without its bound never ends.
    expect(ms).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(8000);
  });
});

describe('--ordered orders stdout only', () => {
  it('the report and -v lines follow completion; --json on stdout follows the input', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'r.jsonl');
    const list = await writeList([`${server.url}/slow?ms=1500`, `${server.url}/text/b`, `${server.url}/text/c`]);
    const result = await runCli(['--json', '--ordered', '-v', '--report', report, list]);
    expect(result.code).toBe(0);
    expect(result.records().map((r) => r.index)).toEqual([1, 2, 3]);
    expect(parseJsonLines(await readFile(report, 'utf8')).map((r) => r.index)).toEqual([2, 3, 1]);
    const verbose = result.stderr.split('\n').filter((line) => line.includes(server.url));
    expect(verbose[0]).toContain('/text/b');
    expect(verbose.at(-1)).toContain('/slow');
  });
});

describe('--dry-run and --deadline', () => {
  it('a plan read from a slow pipe stops at the deadline with 124, whole lines only', () => {
    const feed = `for i in $(seq 1 80); do echo http://127.0.0.1:9/$i; sleep 0.1; done`;
    const started = performance.now();
    const result = spawnSync('bash', ['-c', `(${feed}) | "${process.execPath}" "${BIN_PATH}" --dry-run --deadline 1500ms; echo "rc=$?" >&2`], {encoding: 'utf8', timeout: 15_000});
    expect(result.stderr).toContain('rc=124');
    expect(result.stderr).toContain('--deadline');
    // The pipe holds 8 s of lines (the deadline counts from the process start: a loaded machine takes
    // most of a second to start Node): the plan ends near the deadline, not when the pipe does.
    expect(performance.now() - started).toBeLessThan(6000);
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(80);
    for (const line of lines) expect(line).toMatch(/^http:\/\/127\.0\.0\.1:9\/\d+\t-$/);
  });
});

describe('exit codes at the edges', () => {
  it('--version and --help to a closed pipe are 141 and to a full disk 3, one line, never a stack', () => {
    for (const args of [['--version'], ['-V'], ['--help'], ['-h'], ['-c', '3', '--version']]) {
      const piped = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN_PATH}" ${args.join(' ')} | true; echo "rc=\${PIPESTATUS[0]}"`], {encoding: 'utf8'});
      expect(piped.stdout, args.join(' ')).toContain('rc=141');
      expect(piped.stderr).toBe('');
      const full = spawnSync(process.execPath, [BIN_PATH, ...args], {stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8'});
      expect(full.status, args.join(' ')).toBe(3);
      expect(full.stderr.trim().split('\n')).toHaveLength(1);
      expect(full.stderr).toMatch(/^fetchall: cannot write to standard output: no space left on device \(ENOSPC\)$/m);
    }
  });

  it('a report cut short by the file-size limit keeps whole lines only (the torn record is taken back), exit 3', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'r.jsonl');
    const list = await writeList(Array.from({length: 200}, (_, i) => `${server.url}/text/rep${i}`));
    // ulimit -f 4: the report may grow to 4096 bytes; the write that crosses it is short, the next EFBIG.
    const exit = await new Promise<{code: number | null; stderr: string}>((resolve) => {
      const child = spawn('/bin/bash', ['-c', 'ulimit -f 4 && exec "$0" "$@"', process.execPath, BIN_PATH, '-c', '1', '--report', report, list], {stdio: ['ignore', 'ignore', 'pipe']});
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      child.once('close', (code) => resolve({code, stderr}));
    });
    expect(exit.code, exit.stderr).toBe(3);
    expect(exit.stderr).toMatch(/cannot write report .*EFBIG/);
    const text = await readFile(report, 'utf8');
    expect(text.length).toBeGreaterThan(1000);
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('stdout redirected to a file that hits the file-size limit mid-body: exit 3, and no body counted ok that the file does not hold whole', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'r.jsonl');
    const out = join(dir, 'out.bin');
    // ulimit -f 100 (bash: KiB): the file may grow to 102,400 bytes. A 100,000-byte body fits, the
    // second crosses the limit: its write is short (Node's own file stream ignored that: exit 0, ok).
    const list = await writeList([`${server.url}/bytes/100000`, `${server.url}/bytes/100001`, `${server.url}/bytes/100002`]);
    const exit = await new Promise<{code: number | null; stderr: string}>((resolve) => {
      const child = spawn('/bin/bash', ['-c', 'ulimit -f 100 && exec "$0" "$@" > "$OUT"', process.execPath, BIN_PATH, '-c', '1', '--report', report, list], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {...process.env, OUT: out},
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      child.once('close', (code) => resolve({code, stderr}));
    });
    expect(exit.code, exit.stderr).toBe(3);
    expect(exit.stderr).toMatch(/^fetchall: cannot write to standard output: file too large \(EFBIG\)$/m);
    const records = parseJsonLines(await readFile(report, 'utf8'));
    const okBytes = records.filter((r) => r.ok === true).reduce((sum, r) => sum + (r.bytes as number), 0);
    expect(records.map((r) => [r.index, r.ok])).toContainEqual([2, false]);
    expect(okBytes).toBe(100_000);
    // The cut write is taken back: the file holds the first body and whole writes of the second only.
    const held = (await stat(out)).size;
    expect(held).toBeGreaterThanOrEqual(100_000);
    expect(held).toBeLessThan(102_400);
  });

  it('bodies to a full stdout: exit 3, and no report record calls ok a body the reader did not get', async () => {
    const dir = await makeTempDir();
    const report = join(dir, 'r.jsonl');
    // Small bodies first: gathered into one write a moment later, so "published" is not yet "written".
    const list = await writeList([`${server.url}/bytes/1000`, `${server.url}/bytes/1001`, `${server.url}/bytes/300000`, `${server.url}/bytes/300001`]);
    const exit = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN_PATH, '-c', '1', '--report', report, list], {stdio: ['ignore', openSync('/dev/full', 'w'), 'ignore']});
      child.once('close', (code) => resolve(code));
    });
    expect(exit).toBe(3);
    const records = parseJsonLines(await readFile(report, 'utf8'));
    expect(records.filter((r) => r.ok === true)).toEqual([]);
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records.filter((r) => r.error?.code === 'write').map((r) => r.index)).toContain(1);
  });

  it('--dry-run to a full disk is 3 with one line', async () => {
    const list = await writeList([`${server.url}/text/a`]);
    const full = spawnSync(process.execPath, [BIN_PATH, '--dry-run', list], {stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8'});
    expect(full.status).toBe(3);
    expect(full.stderr.trim().split('\n')).toHaveLength(1);
    expect(full.stderr).toMatch(/ENOSPC/);
  });

  it('a list that cannot be read is exit 2: standard input that is a folder, a read error', async () => {
    const dir = spawnSync(process.execPath, [BIN_PATH, '-'], {stdio: [openSync('/', 'r'), 'pipe', 'pipe'], encoding: 'utf8'});
    expect(dir.status).toBe(2);
    expect(dir.stderr).toMatch(/standard input is a directory/);
    const url = await runCli([`${server.url}/text/a`]);
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/cannot read list http.*echo URL \| fetchall/);
    for (const args of [['/proc/self/mem'], ['--dry-run', '/proc/self/mem']]) {
      const eio = await runCli(args);
      expect(eio.code).toBe(2);
      expect(eio.stderr).toMatch(/cannot read list \/proc\/self\/mem/);
      expect(eio.stderr).not.toMatch(/internal error/);
    }
  });

  it('standard input open for writing only (0>FILE) is exit 2 before anything is sent, a good list beside it or not', async () => {
    const dir = await makeTempDir();
    const list = await writeList([`${server.url}/text/write-only`]);
    for (const args of [[list, '-'], []]) {
      const child = spawn(process.execPath, [BIN_PATH, ...args], {stdio: [openSync(join(dir, 'w.txt'), 'w'), 'ignore', 'pipe']});
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, 'close')) as [number | null];
      expect(code, stderr).toBe(2);
      expect(stderr).toBe('fetchall: cannot read list -: standard input is open for writing only (0>FILE?)\n');
    }
    expect(server.requests).toHaveLength(0);
  });
});
