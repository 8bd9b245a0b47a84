// A closed stderr (`fetchall … 2>&1 | head`) loses the human lines, never the run, its outputs or its exit code.
import {spawn} from 'node:child_process';
import {expect, test} from 'vitest';
import {BIN_PATH, parseJsonLines, writeList} from '../helpers/cli.js';
import {useTestServer} from '../helpers/use-server.js';

const server = useTestServer();

test('with stderr closed after the first bytes, every record still arrives and the exit code is 0', async () => {
  const list = await writeList(Array.from({length: 200}, (_, i) => `${server.url}/text/e${i}`));
  const child = spawn(process.execPath, [BIN_PATH, '--json', '-v', '-c', '4', list], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: undefined},
  });
  const stdout: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  // Read the first -v line, then close our end: every later write to stderr fails with EPIPE.
  child.stderr.once('data', () => child.stderr.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  expect(code).toBe(0);
  const records = parseJsonLines(Buffer.concat(stdout));
  expect(records).toHaveLength(200);
  expect(records.every((r) => r.ok === true)).toBe(true);
}, 30_000);
