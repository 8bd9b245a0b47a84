// End to end `-o DIR`: the built CLI against the local hostile server, checking the files on disk.
import {spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {once} from 'node:events';
import {createReadStream, existsSync} from 'node:fs';
import {chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, truncate, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, relative, sep} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, it} from 'vitest';
import {BIN_PATH, makeTempDir, runCli, writeList, type CliResult} from '../helpers/cli.js';
import {bytesSha256, sha256Hex, textBody} from '../helpers/server.js';
import {useTestServer} from '../helpers/use-server.js';

const TEMP_PATTERN = /^\..+\.[0-9a-f]+\.fetchall-tmp$/;

const server = useTestServer();

/** Every path under `dir` (files, folders, symlinks), relative, with `/` separators, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {recursive: true});
  return entries.map((e) => e.split(sep).join('/')).sort();
}

/** The temporary files anywhere under `dir`, found by the documented pattern. */
async function tempFiles(dir: string): Promise<string[]> {
  return (await tree(dir)).filter((p) => TEMP_PATTERN.test(p.split('/').at(-1) ?? ''));
}

async function fileSha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Run `fetchall --json -o dir [...args] list` over these list lines. */
async function fetchTo(dir: string, lines: string[], args: string[] = [], timeoutMs = 20_000): Promise<CliResult> {
  const list = await writeList(lines);
  return runCli(['--json', '-o', dir, ...args, list], {timeoutMs});
}

function byIndex(result: CliResult): Map<number, any> {
  return new Map(result.records().map((r) => [r.index as number, r]));
}

/** Paths a request was made for (path and query). */
function requested(): string[] {
  return server.requests.map((r) => r.url);
}

/** Spawn the CLI with a handle on the child (for signals and RSS), collecting stdout/stderr. */
function spawnCli(args: string[], opts: {wrap?: string[]} = {}) {
  const command = opts.wrap === undefined ? process.execPath : opts.wrap[0]!;
  const argv = opts.wrap === undefined ? [BIN_PATH, ...args] : [...opts.wrap.slice(1), process.execPath, BIN_PATH, ...args];
  const child = spawn(command, argv, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}});
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>((resolve) => {
    child.once('close', (code, signal) => resolve({code, signal, stdout, stderr}));
  });
  return {child, exited};
}

/** Poll `check` every 20 ms until it holds, or throw after `ms`. */
async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('byte-exact files', () => {
  it('writes small bodies byte for byte, and the record names DIR joined with the name', async () => {
    const out = join(await makeTempDir(), 'out');
    const sizes = [0, 1, 1000, 65_537, 3 * 1024 * 1024 + 5];
    const result = await fetchTo(out, [...sizes.map((n) => `${server.url}/bytes/${n} b${n}.bin`), `${server.url}/text/hello.txt`]);
    expect(result.code, result.stderr).toBe(0);
    const records = byIndex(result);
    for (const [i, n] of sizes.entries()) {
      const record = records.get(i + 1);
      expect(record.ok).toBe(true);
      expect(record.file).toBe(join(out, `b${n}.bin`));
      expect(record.bytes).toBe(n);
      expect(await fileSha(record.file)).toBe(bytesSha256(n));
    }
    expect(await readFile(join(out, 'hello.txt'), 'utf8')).toBe(textBody('hello.txt'));
    expect(records.get(6).file).toBe(join(out, 'hello.txt'));
    expect(await tempFiles(out)).toEqual([]);
  });

  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const haveTime = existsSync('/usr/bin/time');
  it(`streams a 512 MiB body to ${shm} byte for byte${haveTime ? ' with bounded peak RSS' : ' (RSS unchecked: no /usr/bin/time)'}`, async () => {
    const root = await mkdtemp(join(shm, 'fetchall-big-'));
    try {
      const n = 512 * 1024 * 1024 + 3;
      const list = join(root, 'urls.txt');
      await writeFile(list, `${server.url}/bytes/${n} big.bin\n`);
      const out = join(root, 'out');
      const {exited} = spawnCli(['--json', '--checksum', '-o', out, list], haveTime ? {wrap: ['/usr/bin/time', '-v']} : {});
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
      const record = JSON.parse(result.stdout.trim());
      expect(record.bytes).toBe(n);
      expect(record.file).toBe(join(out, 'big.bin'));
      const want = bytesSha256(n);
      expect(record.sha256).toBe(want);
      expect((await lstat(record.file)).size).toBe(n);
      expect(await fileSha(record.file)).toBe(want);
      expect(await tempFiles(out)).toEqual([]);
      if (haveTime) {
        const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
        expect(match, result.stderr).not.toBeNull();
        const peakMiB = Number(match![1]) / 1024;
        // Node itself takes ~50-80 MiB; a body held in memory would take 512 MiB more.
        expect(peakMiB).toBeLessThan(200);
      }
    } finally {
      await rm(root, {recursive: true, force: true});
    }
  }, 180_000);
});

describe('names', () => {
  it('expands {host} and {path}, gives index.html for / and trailing-slash paths, ignores query and fragment', async () => {
    const out = await makeTempDir();
    const result = await fetchTo(out, [`${server.url}/text/a.txt?q=1#frag`, `${server.url}/`, `${server.url}/text/sub/`], ['--name', '{host}/{path}']);
    const records = byIndex(result);
    expect(records.get(1).file).toBe(join(out, '127.0.0.1/text/a.txt'));
    expect(await readFile(join(out, '127.0.0.1/text/a.txt'), 'utf8')).toBe(textBody('a.txt'));
    // `/` is a 404 on the test server: no file, but the name was still index.html (see --dry-run).
    expect(records.get(2).error.code).toBe('http_status');
    expect(records.get(2).file).toBeNull();
    expect(records.get(3).file).toBe(join(out, '127.0.0.1/text/sub/index.html'));
    expect(await readFile(join(out, '127.0.0.1/text/sub/index.html'), 'utf8')).toBe(textBody('sub/'));
    expect(await tree(out)).toEqual(['127.0.0.1', '127.0.0.1/text', '127.0.0.1/text/a.txt', '127.0.0.1/text/sub', '127.0.0.1/text/sub/index.html']);

    const list = await writeList([`${server.url}/`]);
    const plan = await runCli(['--dry-run', '-o', out, list]);
    expect(plan.stdout.toString()).toBe(`${server.url}/\t${join(out, 'index.html')}\n`);
  });

  it('expands {index}, {hash} (of the URL text as given) and {basename}', async () => {
    const out = await makeTempDir();
    const urls = [`${server.url}/text/one.txt?x=1`, `${server.url}/text/deep/two.txt`];
    const result = await fetchTo(out, urls, ['--name', 'n{index}-{hash}-{basename}']);
    expect(result.code, result.stderr).toBe(0);
    const records = byIndex(result);
    for (const [i, url] of urls.entries()) {
      const base = url.includes('one') ? 'one.txt' : 'two.txt';
      const name = `n${i + 1}-${sha256Hex(url).slice(0, 12)}-${base}`;
      expect(records.get(i + 1).file).toBe(join(out, name));
      expect(await readFile(join(out, name), 'utf8')).toBe(textBody(url.includes('one') ? 'one.txt' : 'deep/two.txt'));
    }
  });

  it('lets the NAME column and a JSON name win over --name, creating sub-folders', async () => {
    const out = await makeTempDir();
    const result = await fetchTo(
      out,
      [`${server.url}/text/a.txt   deep/er/named.txt`, JSON.stringify({url: `${server.url}/text/b.txt`, name: 'j/b-json.txt'}), `${server.url}/text/c.txt`],
      ['--name', 'tpl-{index}'],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(await tree(out)).toEqual(['deep', 'deep/er', 'deep/er/named.txt', 'j', 'j/b-json.txt', 'tpl-3']);
    expect(await readFile(join(out, 'deep/er/named.txt'), 'utf8')).toBe(textBody('a.txt'));
    expect(await readFile(join(out, 'j/b-json.txt'), 'utf8')).toBe(textBody('b.txt'));
    expect(byIndex(result).get(1).file).toBe(join(out, 'deep/er/named.txt'));
  });
});

describe('collisions', () => {
  const lines = (): string[] => [
    `${server.url}/text/a.txt`,
    `${server.url}/text/d/a.txt`,
    `${server.url}/text/A.TXT`,
    `${server.url}/text/e/a.txt a-3.txt`,
    `${server.url}/text/f/a.txt`,
    `${server.url}/text/x.tar.gz`,
    `${server.url}/text/y/x.tar.gz`,
  ];
  const expected = ['a.txt', 'a-1.txt', 'A-2.TXT', 'a-3.txt', 'a-4.txt', 'x.tar.gz', 'x.tar-1.gz'];
  const bodies = ['a.txt', 'd/a.txt', 'A.TXT', 'e/a.txt', 'f/a.txt', 'x.tar.gz', 'y/x.tar.gz'];

  async function check(out: string, files: (string | null)[]): Promise<void> {
    expect(files).toEqual(expected.map((name) => join(out, name)));
    for (const [i, name] of expected.entries()) expect(await readFile(join(out, name), 'utf8')).toBe(textBody(bodies[i]!));
  }

  it('suffixes duplicates -1, -2 before the last extension, case-insensitively, the same on a rerun and across shards', async () => {
    const out = await makeTempDir();
    const first = await fetchTo(out, lines());
    expect(first.code, first.stderr).toBe(0);
    await check(out, [...byIndex(first).values()].sort((a, b) => a.index - b.index).map((r) => r.file));

    // A rerun into the same folder: the same names, replacing the files, no -5.
    const again = await fetchTo(out, lines(), ['-c', '1']);
    expect(again.code, again.stderr).toBe(0);
    await check(out, [...byIndex(again).values()].sort((a, b) => a.index - b.index).map((r) => r.file));
    expect((await tree(out)).length).toBe(expected.length);

    // Two shards into a fresh folder write the same names as the whole list did.
    const sharded = await makeTempDir();
    const list = await writeList(lines());
    const s1 = await runCli(['--json', '-o', sharded, '--shard', '1/2', list]);
    const s2 = await runCli(['--json', '-o', sharded, '--shard', '2/2', list]);
    expect([s1.code, s2.code]).toEqual([0, 0]);
    expect(s1.records().map((r) => r.index).sort()).toEqual([1, 3, 5, 7]);
    const all = [...s1.records(), ...s2.records()].sort((a, b) => a.index - b.index);
    await check(sharded, all.map((r) => r.file));
  });
});

describe('a name that is another name\'s folder', () => {
  it('is decided in input order, never by which body comes first: a later file takes a suffix, a later name under a file fails', async () => {
    // The first entry of each pair is slow, the second fast: decided by timing, the fast one would win.
    const lines = [
      `${server.url}/text/ab?delay=400 a/b`,
      `${server.url}/text/a a`,
      `${server.url}/text/c?delay=400 c`,
      `${server.url}/text/cd c/d`,
    ];
    for (const args of [[], ['--shard', '2/2'], ['--shard', '1/2']]) {
      const out = await makeTempDir();
      const result = await fetchTo(out, lines, args);
      expect(result.code, result.stderr).toBe(args[1] === '1/2' ? 0 : 1);
      const records = byIndex(result);
      if (args.length === 0 || args[1] === '1/2') {
        expect(records.get(1)).toMatchObject({ok: true, file: join(out, 'a/b')});
        expect(records.get(3)).toMatchObject({ok: true, file: join(out, 'c')});
      }
      if (args.length === 0 || args[1] === '2/2') {
        expect(records.get(2)).toMatchObject({ok: true, file: join(out, 'a-1')});
        // No request is sent for a file that cannot be written.
        expect(records.get(4)).toMatchObject({ok: false, status: null, attempts: 0, file: null, error: {code: 'write'}});
        expect(records.get(4).error.message).toBe(`cannot write ${join(out, 'c/d')}: its folder ${join(out, 'c')} is taken by an earlier entry's file`);
      }
    }
    expect(requested().filter((url) => url === '/text/cd')).toEqual([]);

    // A file an earlier run saved under that folder is still done: --skip-existing and --resume skip it.
    const earlier = await makeTempDir();
    const report = join(earlier, 'run.jsonl');
    const first = await fetchTo(join(earlier, 'out'), [`${server.url}/text/cd c/d`], ['--report', report]);
    expect(first.code, first.stderr).toBe(0);
    for (const args of [['--skip-existing'], ['--resume', '--report', report]]) {
      const again = await fetchTo(join(earlier, 'out'), [`${server.url}/text/c c`, `${server.url}/text/cd c/d`], args);
      expect(byIndex(again).get(2), args[0]).toMatchObject({ok: true, skipped: true, file: join(earlier, 'out', 'c/d')});
    }
    const plan = await runCli(['--dry-run', '-o', 'out', await writeList(lines)]);
    expect(plan.code).toBe(0);
    expect(plan.stdout.toString()).toBe(lines.map((line) => line.split(' ')[0]).map((url, i) => `${url}\tout/${['a/b', 'a-1', 'c', 'c/d'][i]}\n`).join(''));
    expect(plan.stderr).toContain(`fetchall: ${server.url}/text/cd: cannot write out/c/d: its folder out/c is taken by an earlier entry's file`);
  });
});

describe('a last segment of dots or spaces', () => {
  it('is saved as index.html in its folder, so the host\'s other files still go in: /... and /dir/%20', async () => {
    const out = await makeTempDir();
    server.route('/...', (_req, res) => void res.end('dots'));
    server.route('/dir/%20', (_req, res) => void res.end('space'));
    const urls = [`${server.url}/...`, `${server.url}/text/a.txt`, `${server.url}/dir/%20`, `${server.url}/text/b.txt`];
    const result = await fetchTo(out, urls, ['--name', '{host}/{path}']);
    expect(result.code, result.stderr).toBe(0);
    const files = [...byIndex(result).values()].sort((x, y) => x.index - y.index).map((r) => relative(out, r.file as string));
    expect(files).toEqual(['127.0.0.1/index.html', '127.0.0.1/text/a.txt', '127.0.0.1/dir/index.html', '127.0.0.1/text/b.txt']);
    expect(await readFile(join(out, '127.0.0.1/index.html'), 'utf8')).toBe('dots');
  });
});

describe('confinement', () => {
  it('keeps ../../x, /abs/x, ..\\x and a %2F-encoded path inside DIR', async () => {
    const root = await makeTempDir();
    const out = join(root, 'a', 'out');
    const result = await fetchTo(out, [
      `${server.url}/text/1 ../../x`,
      `${server.url}/text/2 /abs/x`,
      `${server.url}/text/3 ..\\..\\w`,
      `${server.url}/text/..%2F..%2Fy`,
      `${server.url}/text/5 sub/../../../z`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    // Nothing beside out, nothing above it.
    expect(await tree(root)).toEqual(['a', 'a/out', ...(await tree(out)).map((p) => `a/out/${p}`)].sort());
    const files = result.records().map((r) => r.file as string);
    for (const file of files) {
      const inside = relative(out, file);
      expect(inside === '..' || inside.startsWith(`..${sep}`) || inside.startsWith(sep)).toBe(false);
      expect((await lstat(file)).isFile()).toBe(true);
    }
    expect(files.map((f) => relative(out, f).split(sep).join('/')).sort()).toEqual(['.._.._y', 'abs/x', 'sub/z', 'w', 'x']);
    expect(await readFile(join(out, '.._.._y'), 'utf8')).toBe(textBody('../../y'));
  });

  it('never follows a symlink planted in DIR (a sub-folder or a file name) out of it', async () => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    const outsideDir = join(root, 'outside-dir');
    const outsideFile = join(root, 'outside-file');
    await mkdir(out);
    await mkdir(outsideDir);
    await mkdir(outsideFile);
    await writeFile(join(outsideFile, 'target.txt'), 'original\n');
    await symlink(outsideDir, join(out, 'sub'));
    await symlink(join(outsideFile, 'target.txt'), join(out, 'f.txt'));
    await symlink(join(outsideDir, 'dangling.txt'), join(out, 'g.txt'));

    const result = await fetchTo(out, [
      `${server.url}/text/s sub/x.txt`,
      `${server.url}/text/f f.txt`,
      `${server.url}/text/g g.txt`,
      `${server.url}/text/t sub/deeper/y.txt`,
    ]);
    expect(result.code).toBe(1);
    const records = byIndex(result);
    expect(records.get(1).error.code).toBe('write');
    expect(records.get(4).error.code).toBe('write');
    expect(records.get(2).ok).toBe(true);
    expect(records.get(3).ok).toBe(true);

    expect(await readdir(outsideDir)).toEqual([]);
    expect(await readdir(outsideFile)).toEqual(['target.txt']);
    expect(await readFile(join(outsideFile, 'target.txt'), 'utf8')).toBe('original\n');
    // The file-name symlinks were replaced by regular files holding the bodies.
    for (const [name, body] of [['f.txt', 'f'], ['g.txt', 'g']] as const) {
      expect((await lstat(join(out, name))).isFile()).toBe(true);
      expect(await readFile(join(out, name), 'utf8')).toBe(textBody(body));
    }
    expect(await readlink(join(out, 'sub'))).toBe(outsideDir);
    expect(await tempFiles(out)).toEqual([]);
  });
});

describe('file modes', () => {
  it('files are made as curl makes them, 0666 less the umask: 0664 under a group\'s umask 002, held and streamed bodies alike', async () => {
    const out = await makeTempDir();
    const list = await writeList([`${server.url}/bytes/100 small.bin`, `${server.url}/bytes/3000000 big.bin`]);
    // Spawned, not spawnSync: the test server answers from this process.
    const child = spawn('/bin/sh', ['-c', 'umask 002 && exec "$0" "$@"', process.execPath, BIN_PATH, '-q', '-o', join(out, 'dl'), list], {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code, stderr).toBe(0);
    for (const name of ['small.bin', 'big.bin']) expect(((await lstat(join(out, 'dl', name))).mode & 0o777).toString(8), name).toBe('664');
    expect(((await lstat(join(out, 'dl'))).mode & 0o777).toString(8)).toBe('775');
  });
});

describe('atomic writes', () => {
  // after=3 MB: more than one write batch, so a temporary file really exists before the failure.
  const broken = (): string[] => [
    `${server.url}/short?after=3000000&total=4000000 s.bin`,
    `${server.url}/reset-mid?after=3000000 r.bin`,
    `${server.url}/short?after=100 s2.bin`,
    `${server.url}/reset-mid?after=100 r2.bin`,
  ];

  it('leaves no file and no temporary file after a short body or a reset (--retries 0)', async () => {
    const out = await makeTempDir();
    const result = await fetchTo(out, broken(), ['--retries', '0']);
    expect(result.code).toBe(1);
    for (const record of result.records()) {
      expect(record.ok).toBe(false);
      expect(record.file).toBeNull();
      expect(['reset', 'protocol']).toContain(record.error.code);
    }
    expect(await tree(out)).toEqual([]);
  });

  it('keeps an old file unchanged through a failed re-download, and replaces it on success', async () => {
    const out = await makeTempDir();
    await mkdir(join(out, 'd'));
    const names = ['s.bin', 'r.bin', 's2.bin', 'r2.bin'];
    for (const name of names) await writeFile(join(out, name), `old ${name}\n`);

    const failed = await fetchTo(out, broken(), ['--retries', '1', '--retry-delay', '10ms']);
    expect(failed.code).toBe(1);
    for (const name of names) expect(await readFile(join(out, name), 'utf8')).toBe(`old ${name}\n`);
    expect(await tempFiles(out)).toEqual([]);

    const ok = await fetchTo(out, names.map((name) => `${server.url}/bytes/2000000 ${name}`));
    expect(ok.code, ok.stderr).toBe(0);
    for (const name of names) expect(await fileSha(join(out, name))).toBe(bytesSha256(2_000_000));
    expect(await tree(out)).toEqual(['d', ...names].sort());
  });

  it('removes the temporary file on SIGINT and on SIGQUIT (quit-now); one a SIGKILL leaves is found by the documented pattern', async () => {
    for (const signal of ['SIGINT', 'SIGQUIT', 'SIGKILL'] as const) {
      const out = await makeTempDir();
      const list = await writeList([`${server.url}/stall-body?after=3000000 k.bin`]);
      const {child, exited} = spawnCli(['--json', '-o', out, list]);
      try {
        await waitFor(async () => (await tempFiles(out)).length > 0, 10_000, 'a temporary file');
        expect(await tree(out)).toEqual(await tempFiles(out));
        child.kill(signal);
        const result = await exited;
        if (signal !== 'SIGKILL') {
          expect(result.code).toBe(signal === 'SIGINT' ? 130 : 131);
          expect(await tree(out)).toEqual([]);
        } else {
          const left = await tempFiles(out);
          expect(left).toHaveLength(1);
          expect(left[0]).toMatch(/^\.k\.bin\.[0-9a-f]+\.fetchall-tmp$/);
          expect(existsSync(join(out, 'k.bin'))).toBe(false);
        }
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});

describe('--skip-existing', () => {
  it('a stop does not wait for the digest of a huge existing file (8 GB, sparse): --deadline exits on time', async () => {
    const out = await makeTempDir();
    const huge = join(out, 'huge.bin');
    await writeFile(huge, '');
    await truncate(huge, 8 * 1024 ** 3);
    const entry = JSON.stringify({url: `${server.url}/text/huge.bin`, sha256: 'a'.repeat(64)});
    const started = performance.now();
    const result = await fetchTo(out, [entry, `${server.url}/text/after.txt`], ['--skip-existing', '--deadline', '2s'], 60_000);
    expect(result.code, result.stderr).toBe(124);
    // Hashing 8 GB takes about a minute here; the deadline is 2 s from the process start.
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(requested()).toEqual([]);
    expect(result.stderr).toMatch(/2 not started/);
  });


  it('sends no request for an existing file and records it as skipped', async () => {
    const out = await makeTempDir();
    await writeFile(join(out, 'a.txt'), 'mine\n');
    const result = await fetchTo(out, [`${server.url}/text/a.txt`, `${server.url}/text/b.txt`], ['--skip-existing']);
    expect(result.code, result.stderr).toBe(0);
    expect(requested()).toEqual(['/text/b.txt']);
    const a = byIndex(result).get(1);
    expect(a).toMatchObject({ok: true, skipped: true, status: null, attempts: 0, bytes: 0, error: null, file: join(out, 'a.txt')});
    expect(await readFile(join(out, 'a.txt'), 'utf8')).toBe('mine\n');
    expect(await readFile(join(out, 'b.txt'), 'utf8')).toBe(textBody('b.txt'));
  });

  it('with an expected sha256, skips a matching file and re-fetches one that does not match', async () => {
    const out = await makeTempDir();
    await writeFile(join(out, 'match.txt'), textBody('match.txt'));
    await writeFile(join(out, 'stale.txt'), 'stale\n');
    const entry = (name: string) => JSON.stringify({url: `${server.url}/text/${name}`, sha256: sha256Hex(textBody(name))});
    const result = await fetchTo(out, [entry('match.txt'), entry('stale.txt')], ['--skip-existing']);
    expect(result.code, result.stderr).toBe(0);
    expect(requested()).toEqual(['/text/stale.txt']);
    const records = byIndex(result);
    // The file was hashed to be skipped: its digest is in the record.
    expect(records.get(1)).toMatchObject({ok: true, skipped: true, attempts: 0, sha256: sha256Hex(textBody('match.txt'))});
    expect(records.get(2)).toMatchObject({ok: true, skipped: false, status: 200, file: join(out, 'stale.txt')});
    expect(await readFile(join(out, 'stale.txt'), 'utf8')).toBe(textBody('stale.txt'));
  });

  it('with an expected sha256, an existing file that cannot be read is no match: fetched and replaced, no internal error', async (ctx) => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    const list = join(root, 'urls.txt');
    await mkdir(out);
    await writeFile(join(out, 'locked.txt'), 'old\n');
    await chmod(join(out, 'locked.txt'), 0o000);
    await writeFile(list, JSON.stringify({url: `${server.url}/text/locked.txt`, sha256: sha256Hex(textBody('locked.txt'))}) + '\n');
    await chmod(root, 0o755);
    await chmod(list, 0o644);
    // Root reads any file: run the CLI as `nobody` then (owning DIR, so it may replace the file), if
    // setpriv can, else skip.
    let wrap: string[] | undefined;
    if (process.getuid?.() === 0) {
      wrap = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      spawnSync('chown', ['65534:65534', out]);
      const probe = spawnSync(wrap[0]!, [...wrap.slice(1), process.execPath, '-e', `require('fs').readFileSync(${JSON.stringify(join(out, 'locked.txt'))})`], {encoding: 'utf8'});
      if (!probe.stderr.includes('EACCES')) ctx.skip();
    }
    const {exited} = spawnCli(['--json', '--skip-existing', '-o', out, list], wrap === undefined ? {} : {wrap});
    const result = await exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fetchall: 1 URL in .* 1 ok, 0 failed, 0 skipped/)]);
    expect(requested()).toEqual(['/text/locked.txt']);
    expect(JSON.parse(result.stdout)).toMatchObject({ok: true, skipped: false, status: 200, file: join(out, 'locked.txt'), sha256: sha256Hex(textBody('locked.txt'))});
    await chmod(join(out, 'locked.txt'), 0o644);
    expect(await readFile(join(out, 'locked.txt'), 'utf8')).toBe(textBody('locked.txt'));
  });

  it('DIR spelled through a symlink and .. (lnk/../out) is the folder the files went to: a rerun skips them', async () => {
    const root = await makeTempDir();
    await mkdir(join(root, 'real', 'deep'), {recursive: true});
    await symlink(join(root, 'real', 'deep'), join(root, 'lnk'));
    const dir = `${join(root, 'lnk')}/../out`;
    const lines = [`${server.url}/text/s.txt`];
    expect((await fetchTo(dir, lines)).code).toBe(0);
    server.resetStats();
    const again = await fetchTo(dir, lines, ['--skip-existing']);
    expect(again.code).toBe(0);
    expect(again.records().map((r) => r.skipped)).toEqual([true]);
    expect(requested()).toEqual([]);
  });

  it('does not skip (or read) a file reached through a symlinked folder that leads out of DIR', async () => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    await mkdir(join(root, 'outside'), {recursive: true});
    await mkdir(out);
    await writeFile(join(root, 'outside', 'f.txt'), textBody('f.txt'));
    await symlink(join('..', 'outside'), join(out, 'sub'));
    const line = (name: string, sha?: string) => JSON.stringify({url: `${server.url}/text/${name}`, name: `sub/${name}`, ...(sha === undefined ? {} : {sha256: sha})});
    const result = await fetchTo(out, [line('f.txt'), line('f.txt', sha256Hex(textBody('f.txt')))], ['--skip-existing']);
    expect(result.code).toBe(1);
    expect(result.records().map((r) => [r.skipped, r.ok, r.error?.code])).toEqual([[false, false, 'write'], [false, false, 'write']]);
    expect(requested()).toEqual(['/text/f.txt', '/text/f.txt']);
    expect(await readFile(join(root, 'outside', 'f.txt'), 'utf8')).toBe(textBody('f.txt'));
  });
});

describe('files the run itself uses', () => {
  it('a download named like the report (or a list) fails as `write`: it never replaces them', async () => {
    const out = await makeTempDir();
    const report = join(out, 'rep.jsonl');
    const list = join(out, 'urls.txt');
    await writeFile(list, [`${server.url}/text/rep.jsonl`, `${server.url}/text/urls.txt`, `${server.url}/text/ok.txt`].join('\n') + '\n');
    const result = await runCli(['--json', '-o', out, '--report', report, list]);
    expect(result.code).toBe(1);
    expect(result.records().map((r) => [r.index, r.ok, r.error?.code ?? null])).toEqual([[1, false, 'write'], [2, false, 'write'], [3, true, null]]);
    const reported = (await readFile(report, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as {index: number});
    expect(reported.map((r) => r.index).sort()).toEqual([1, 2, 3]);
    expect(await readFile(list, 'utf8')).toContain('/text/ok.txt');
  });

  it('through a symlink too (the report named by a link into DIR), and from a list on standard input', async () => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    await mkdir(out);
    await writeFile(join(out, 'data.jsonl'), '{"index":0,"url":"http://earlier.test/","ok":true}\n');
    await symlink(join(out, 'data.jsonl'), join(root, 'rep.link'));
    await writeFile(join(out, 'urls.txt'), [`${server.url}/text/data.jsonl`, `${server.url}/text/urls.txt`].join('\n') + '\n');
    const {openSync, closeSync} = await import('node:fs');
    // Asynchronously: the server answering it lives in this process. Standard input is the list file.
    const stdin = openSync(join(out, 'urls.txt'), 'r');
    const child = spawn(process.execPath, [BIN_PATH, '--json', '-o', out, '--report', join(root, 'rep.link')], {stdio: [stdin, 'pipe', 'pipe']});
    closeSync(stdin);
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
    expect(code).toBe(1);
    expect(stdout.trim().split('\n').map((line) => (JSON.parse(line) as {error: {code: string} | null}).error?.code)).toEqual(['write', 'write']);
    expect(await readFile(join(out, 'data.jsonl'), 'utf8')).toContain('earlier.test');
    expect(await readFile(join(out, 'urls.txt'), 'utf8')).toContain('/text/data.jsonl');
    // The report named by a symlink inside DIR: the link itself is not replaced either.
    await writeFile(join(root, 'real.jsonl'), '');
    await symlink(join(root, 'real.jsonl'), join(out, 'rep.jsonl'));
    const list = await writeList([`${server.url}/text/rep.jsonl`]);
    const linked = await runCli(['--json', '-o', out, '--report', join(out, 'rep.jsonl'), list]);
    expect(linked.records().map((r) => r.error?.code)).toEqual(['write']);
    expect((await lstat(join(out, 'rep.jsonl'))).isSymbolicLink()).toBe(true);
  });
});

describe('out of file descriptors', () => {
  it('a body waits for a descriptor for its temporary file: no fatal EMFILE, every file whole', async () => {
    // -c 40 under `ulimit -n 64`: sockets and the temporary files of bodies streaming at once need more
    // descriptors than there are. Each body waits for one, as for a slow disk; it was exit 3, EMFILE.
    const out = await makeTempDir();
    const urls = Array.from({length: 80}, (_, i) => `${server.url}/bytes/400000?chunk=50000&every=10&i=${i}`);
    const list = await writeList(urls);
    const result = await runCli(['-c', '40', '--retry-delay', '20ms', '--json', '-o', out, list], {openFiles: 64, timeoutMs: 60_000});
    expect(result.stderr).not.toMatch(/EMFILE|too many open files/i);
    expect(result.code).toBe(0);
    const records = result.records();
    expect(records).toHaveLength(80);
    const digest = bytesSha256(400000);
    for (const record of records) {
      expect(record).toMatchObject({ok: true, bytes: 400000});
      expect(await fileSha(record.file)).toBe(digest);
    }
    expect((await readdir(out)).filter((name) => TEMP_PATTERN.test(name))).toEqual([]);
  }, 90_000);

  it('a whole body waiting for a descriptor gives up when the run stops: aborted, at once, nothing left', async () => {
    // Every descriptor taken for good once the bodies are under way (a preload hogs them), then
    // --deadline: the run waited out the minute a file may wait for one, and said `write` EMFILE.
    const out = await makeTempDir();
    // Bodies of ~2 s; every free descriptor taken from 1.2 s on, for good; the deadline at 4 s.
    const urls = Array.from({length: 4}, (_, i) => `${server.url}/bytes/100000?chunk=20000&every=400&hog=${i}`);
    const list = await writeList(urls);
    const hog = fileURLToPath(new URL('../fixtures/hog-descriptors.mjs', import.meta.url));
    const started = performance.now();
    const result = await runCli(['-c', '4', '--deadline', '4s', '--json', '-o', out, list], {
      openFiles: 64,
      timeoutMs: 30_000,
      env: {NODE_OPTIONS: `--import=${hog}`, HOG_AT: '1200'},
    });
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(result.code).toBe(124);
    // Those still waiting are `aborted` (on a loaded machine a descriptor a failed transfer gave back
    // may have let one through first); none is a `write` failure.
    const records = result.records();
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) if (!record.ok) expect(record.error.code).toBe('aborted');
    expect(records.some((record) => !record.ok)).toBe(true);
    expect((await readdir(out)).filter((name) => TEMP_PATTERN.test(name))).toEqual([]);
  }, 40_000);
});

describe('write failures', () => {
  it('exits 3 with one clear line and no request when DIR cannot be created (its parent is a file)', async () => {
    const root = await makeTempDir();
    await writeFile(join(root, 'somefile'), 'x');
    const result = await fetchTo(join(root, 'somefile', 'sub'), [`${server.url}/text/a.txt`]);
    expect(result.code).toBe(3);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('somefile');
    expect(lines[0]).not.toMatch(/\bat .*\.js:\d+/);
    expect(server.requests).toEqual([]);
    expect(result.stdout.length).toBe(0);
  });

  it('exits 3 with one clear line, not a hang, when the system refuses DIR (a path under /proc)', async (ctx) => {
    // Node's recursive mkdir loops forever there (mkdir answers ENOENT under a folder that exists).
    if (!existsSync('/proc/self')) ctx.skip();
    const result = await fetchTo('/proc/fetchall-test/out', [`${server.url}/text/a.txt`]);
    expect(result.code, result.stderr).toBe(3);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toEqual(['fetchall: cannot create output folder /proc/fetchall-test/out: no such file or folder (ENOENT)']);
    expect(server.requests).toEqual([]);
  });

  it('exits 3 with one clear line and no request when DIR is read-only', async (ctx) => {
    const root = await makeTempDir();
    const out = join(root, 'out');
    const list = join(root, 'urls.txt');
    await writeFile(list, `${server.url}/text/a.txt\n`);
    await mkdir(out);
    await chmod(root, 0o755);
    await chmod(out, 0o555);
    // Root ignores permissions: run the CLI as `nobody` then, if setpriv can, else skip.
    let wrap: string[] | undefined;
    if (process.getuid?.() === 0) {
      wrap = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const probe = spawnSync(wrap[0]!, [...wrap.slice(1), process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(join(out, 'p'))}, '')`], {encoding: 'utf8'});
      if (!probe.stderr.includes('EACCES')) ctx.skip();
    }
    try {
      const {exited} = spawnCli(['--json', '-o', out, list], wrap === undefined ? {} : {wrap});
      const result = await exited;
      expect(result.code, result.stderr).toBe(3);
      const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('EACCES');
      expect(server.requests).toEqual([]);
      expect(await tree(out)).toEqual([]);
    } finally {
      await chmod(out, 0o755);
    }
  });

  it('stops with exit 3 when the disk fills mid-body, leaving the finished files and no temporary file', async (ctx) => {
    const out = await makeTempDir();
    // A 2 MiB tmpfs needs root and mount rights; elsewhere the case cannot be built.
    if (process.getuid?.() !== 0 || spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', out]).status !== 0) ctx.skip();
    try {
      // Entry 3 is in flight (its answer comes late) when entry 2 fills the disk: it is `aborted`.
      const result = await fetchTo(out, [`${server.url}/bytes/1000 a.bin`, `${server.url}/bytes/5000000?delay=300 b.bin`, `${server.url}/text/late?delay=5000 c.bin`], ['-c', '3']);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr.trim().split('\n').at(-1)).toMatch(/no space left on device \(ENOSPC\)/);
      const records = byIndex(result);
      expect(records.get(1).ok).toBe(true);
      // The record still counts the attempt that was under way (and its answer's status).
      expect(records.get(2)).toMatchObject({ok: false, status: 200, attempts: 1, file: null, error: {code: 'write'}});
      expect(records.get(3)).toMatchObject({ok: false, status: null, error: {code: 'aborted'}});
      expect(await tree(out)).toEqual(['a.bin']);
      expect(await fileSha(join(out, 'a.bin'))).toBe(bytesSha256(1000));
    } finally {
      spawnSync('umount', [out]);
    }
  });

  it('with --checksum, a URL that fails as write records no digest (its body was hashed), the others theirs', async () => {
    const out = await makeTempDir();
    await mkdir(join(out, 'a.txt'));
    const result = await fetchTo(out, [`${server.url}/text/a.txt`, `${server.url}/text/b.txt`], ['--checksum']);
    expect(result.code).toBe(1);
    const records = byIndex(result);
    // "sha256: where computed, else null": a failed URL's digest would vouch for a body nobody kept.
    expect(records.get(1)).toMatchObject({ok: false, file: null, sha256: null, error: {code: 'write'}});
    expect(records.get(2)).toMatchObject({ok: true, sha256: sha256Hex(textBody('b.txt'))});
  });

  it('fails only the URL whose name a directory holds, as write; the others succeed (exit 1)', async () => {
    const out = await makeTempDir();
    await mkdir(join(out, 'a.txt'));
    await writeFile(join(out, 'a.txt', 'keep'), 'keep\n');
    const result = await fetchTo(out, [`${server.url}/text/a.txt`, `${server.url}/text/b.txt`, `${server.url}/bytes/3000000 c.bin`]);
    expect(result.code).toBe(1);
    const records = byIndex(result);
    expect(records.get(1)).toMatchObject({ok: false, file: null, error: {code: 'write'}});
    expect(records.get(2).ok).toBe(true);
    expect(records.get(3).ok).toBe(true);
    expect(await readFile(join(out, 'a.txt', 'keep'), 'utf8')).toBe('keep\n');
    expect(await fileSha(join(out, 'c.bin'))).toBe(bytesSha256(3_000_000));
    expect(await tree(out)).toEqual(['a.txt', 'a.txt/keep', 'b.txt', 'c.bin']);
  });
});

describe('no body, no file', () => {
  it('writes no file for -X HEAD or for a 404', async () => {
    const out = await makeTempDir();
    const head = await fetchTo(out, [`${server.url}/bytes/1000`], ['-X', 'HEAD']);
    expect(head.code, head.stderr).toBe(0);
    expect(head.records()[0]).toMatchObject({ok: true, status: 200, file: null, bytes: 0});
    const missing = await fetchTo(out, [`${server.url}/status/404`, `${server.url}/nope/x.txt`]);
    expect(missing.code).toBe(1);
    for (const record of missing.records()) expect(record).toMatchObject({ok: false, file: null, error: {code: 'http_status'}});
    expect(await tree(out)).toEqual([]);
  });
});
