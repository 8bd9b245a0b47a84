// Spawns the built fetchall CLI for end-to-end tests, and makes temporary list files and folders.
import {spawn} from 'node:child_process';
import {chmod, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

/** Absolute path of the CLI entry point, found relative to this file. */
export const BIN_PATH = fileURLToPath(new URL('../../bin/fetchall.js', import.meta.url));

export interface RunCliOptions {
  /** Written to the child's stdin, which is then closed. Default: an empty stdin, closed at once. */
  stdin?: string | Buffer;
  /** Added to the environment (after NO_COLOR=1); a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** SIGKILL the child and reject after this long (default 20000). */
  timeoutMs?: number;
  /** Run under this soft limit on open files (`ulimit -n`, through /bin/sh). */
  openFiles?: number;
  /** Send `signal` once, the first time `when` holds for the output so far (checked on every chunk). */
  signalAfter?: {signal: NodeJS.Signals; when: (stdout: Buffer, stderr: string) => boolean};
}

export interface CliResult {
  /** Exit code, or null when the child was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** stdout parsed as JSON lines (blank lines skipped); throws naming the bad line. */
  records(): any[];
}

// Inherited variables that would change the CLI's behaviour behind a test's back.
const SCRUBBED = ['FORCE_COLOR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy'];

/**
 * Run `node bin/fetchall.js ...args` and collect its output.
 * @example const {code, records} = await runCli(['--json', list]); expect(records()[0].ok).toBe(true);
 */
export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {...process.env};
  for (const name of SCRUBBED) delete env[name];
  env['NO_COLOR'] = '1';
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const timeoutMs = opts.timeoutMs ?? 20_000;

  return new Promise((resolve, reject) => {
    const [command, argv] = opts.openFiles === undefined
      ? [process.execPath, [BIN_PATH, ...args]]
      : ['/bin/sh', ['-c', `ulimit -n ${opts.openFiles} && exec "$0" "$@"`, process.execPath, BIN_PATH, ...args]];
    const child = spawn(command, argv, {
      cwd: opts.cwd ?? process.cwd(),
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stdout = Buffer.alloc(0);
    let stderr = '';
    let signalled = false;
    let timedOut = false;

    const check = (): void => {
      if (signalled || opts.signalAfter === undefined) return;
      stdout = Buffer.concat(out);
      if (opts.signalAfter.when(stdout, stderr)) {
        signalled = true;
        child.kill(opts.signalAfter.signal);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      out.push(chunk);
      check();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      check();
    });
    // The CLI may exit without reading its stdin: that is not the test's failure.
    child.stdin.on('error', () => {});
    if (opts.stdin === undefined) child.stdin.end();
    else child.stdin.end(opts.stdin);

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      stdout = Buffer.concat(out);
      if (timedOut) {
        reject(
          new Error(
            `fetchall ${args.join(' ')} did not exit within ${timeoutMs} ms (killed)\n` +
              `--- stdout (tail) ---\n${stdout.subarray(-2000).toString()}\n--- stderr (tail) ---\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      const final = stdout;
      resolve({code, signal, stdout: final, stderr, records: () => parseJsonLines(final)});
    });
  });
}

/** Parse JSON lines, skipping blank ones. @example parseJsonLines(Buffer.from('{"a":1}\n')) */
export function parseJsonLines(text: Buffer | string): any[] {
  const lines = text.toString().split('\n');
  const out: any[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line));
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 500))}`);
    }
  });
  return out;
}

const tempDirs: string[] = [];

/** A fresh empty folder under the OS temp dir, removed by `cleanupTemp()`. @example const out = await makeTempDir(); */
export async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fetchall-test-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * Write `lines` (joined with `eol`, plus a final one) to `<fresh temp dir>/<name>` and return its path.
 * @example const list = await writeList([`${server.url}/text/a`, '# comment']);
 */
export async function writeList(lines: string[], opts: {name?: string; eol?: string; bom?: boolean} = {}): Promise<string> {
  const dir = await makeTempDir();
  const file = join(dir, opts.name ?? 'urls.txt');
  const eol = opts.eol ?? '\n';
  const text = (opts.bom ? '\uFEFF' : '') + lines.map((line) => line + eol).join('');
  await writeFile(file, text);
  return file;
}

/** Remove every folder made by `makeTempDir`/`writeList`, even ones a test made read-only. Call in afterAll. */
export async function cleanupTemp(): Promise<void> {
  const dirs = tempDirs.splice(0);
  await Promise.all(
    dirs.map(async (dir) => {
      try {
        await rm(dir, {recursive: true, force: true});
      } catch {
        await makeWritable(dir);
        await rm(dir, {recursive: true, force: true});
      }
    }),
  );
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => {});
  const entries = await readdir(dir, {withFileTypes: true}).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory() && !entry.isSymbolicLink()) await makeWritable(join(dir, entry.name));
  }
}
