// --fsync: every file (small ones written in one step, large ones streamed) is fsynced before its rename.
import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, test} from 'vitest';
import {BIN_PATH, makeTempDir, runCli, writeList} from '../helpers/cli.js';
import {bytesSha256, sha256Hex} from '../helpers/server.js';
import {useTestServer} from '../helpers/use-server.js';

const server = useTestServer();

const STRACE = ['/usr/bin/strace', '/bin/strace'].find((path) => existsSync(path));

/** Run the CLI under strace and count the fsync system calls it made. */
async function fsyncCalls(args: string[]): Promise<{code: number | null; calls: number}> {
  const trace = join(await makeTempDir(), 'trace.txt');
  // Asynchronously: the test server answering the CLI lives in this very process.
  const child = spawn(STRACE!, ['-f', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, BIN_PATH, ...args], {
    stdio: 'ignore',
    env: {...process.env, NO_COLOR: '1'},
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  const text = await readFile(trace, 'utf8');
  // Each call shows once as `fsync(…` — whole, or `<unfinished …>` when another thread's call came in
  // between (its `<… fsync resumed>` half has no parenthesis and is not counted again).
  return {code, calls: text.split('\n').filter((line) => /\bf(data)?sync\(/.test(line)).length};
}

describe('--fsync', () => {
  test('writes the same bytes as without it', async () => {
    const out = await makeTempDir();
    const list = await writeList([`${server.url}/bytes/1000 small.bin`, `${server.url}/bytes/3000000 large.bin`]);
    const result = await runCli(['--fsync', '-o', out, list]);
    expect(result.code, result.stderr).toBe(0);
    expect(sha256Hex(await readFile(join(out, 'small.bin')))).toBe(bytesSha256(1000));
    expect(sha256Hex(await readFile(join(out, 'large.bin')))).toBe(bytesSha256(3_000_000));
  });

  test('without -o it is a usage error', async () => {
    const list = await writeList([`${server.url}/text/x`]);
    const result = await runCli(['--fsync', list]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--fsync');
  });

  test.skipIf(STRACE === undefined)('syncs each file and its folder, and nothing without the flag', async () => {
    const list = await writeList([`${server.url}/bytes/1000 a.bin`, `${server.url}/bytes/2000 b.bin`, `${server.url}/bytes/3000000 c.bin`]);
    const withFlag = await fsyncCalls(['--fsync', '-o', await makeTempDir(), list]);
    expect(withFlag.code).toBe(0);
    // Three files and three folder entries.
    expect(withFlag.calls).toBeGreaterThanOrEqual(6);
    const without = await fsyncCalls(['-o', await makeTempDir(), list]);
    expect(without.code).toBe(0);
    expect(without.calls).toBe(0);
  });

  test.skipIf(STRACE === undefined)('syncs the parent of every folder it makes (DIR and sub-folders)', async () => {
    const list = await writeList([`${server.url}/bytes/1000 sub/deep/a.bin`]);
    const result = await fsyncCalls(['--fsync', '-o', join(await makeTempDir(), 'new'), list]);
    expect(result.code).toBe(0);
    // The file and its folder, plus the parents of new, new/sub and new/sub/deep.
    expect(result.calls).toBeGreaterThanOrEqual(5);
  });
});
