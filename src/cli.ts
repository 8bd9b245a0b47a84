// The CLI: argv → validated options → run → stdout/report/stderr → exit code. The only module that touches process.
import {CommanderError} from 'commander';
import type {Readable, Writable} from 'node:stream';
import {describeErrno, UsageError} from './errors.js';
import {escapeText} from './report/escape.js';
import {buildProgram, peerHint, readHelp, type RawFlags} from './cli/program.js';
import {proxyVariable} from './http/proxy-env.js';
import {prepareOutputDir} from './sinks/file-sink.js';
import {fileWritable, isFileLike} from './sinks/file-stdout.js';
import {cliName, normalizeOptions, type FetchAllOptions, type RunOptions} from './options.js';

/** The process pieces main() uses, injectable for in-process tests. */
export interface CliIo {
  readonly argv: readonly string[];
  readonly stdin: Readable & {isTTY?: boolean};
  readonly stdout: Writable & {isTTY?: boolean};
  readonly stderr: Writable & {isTTY?: boolean; columns?: number};
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Register signal handlers; returns a function that removes them. */
  readonly onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

/** Exit codes of the contract. */
export const EXIT = {ok: 0, failed: 1, usage: 2, output: 3, internal: 70, deadline: 124, sigint: 130, sigterm: 143, sigquit: 131, pipe: 141} as const;

/** Parse argv, run, and resolve with the exit code. Never throws for anything a user can cause. */
export async function main(io: CliIo): Promise<number> {
  const err = (line: string): void => {
    io.stderr.write(line.endsWith('\n') ? line : line + '\n');
  };
  let flags: RawFlags;
  let lists: string[];
  // What --help or --version printed, and how that write ended: a full stdout is 3, a reader gone 141.
  let printed: Promise<Error | null | undefined> = Promise.resolve(undefined);
  const program = buildProgram({out: (s) => (printed = writeChecked(io.stdout, s)), err: (s) => io.stderr.write(s)});
  const asked = readHelp(io.argv, program);
  try {
    program.parse(asked.argv, {from: 'user'});
    flags = program.opts<RawFlags>();
    lists = program.args;
  } catch (error) {
    if (error instanceof CommanderError) {
      // A usage error that commander met before it reached the help flag (`--help -c`): help wins.
      const helpFirst = asked.help && error.exitCode !== 0;
      if (helpFirst) program.outputHelp();
      if (helpFirst || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
        const failure = (await printed) as NodeJS.ErrnoException | null | undefined;
        if (failure === null || failure === undefined) return EXIT.ok;
        if (failure.code === 'EPIPE') return EXIT.pipe;
        err(`fetchall: cannot write to standard output: ${failure.code === undefined ? failure.message : describeErrno(failure.code)}`);
        return EXIT.output;
      }
      // One line: commander puts its "(Did you mean --x?)" on a line of its own.
      err(`fetchall: ${escapeText(peerHint(error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')))} (see --help)`);
      return EXIT.usage;
    }
    throw error;
  }
  let options: RunOptions;
  try {
    options = validate(flags, lists, io);
    // A value given before the last one of the same flag is checked on its own (curl's rule), then
    // dropped: only its own value, not against the other flags, which the last one answers for; and
    // after them, so a line with other errors says what it would say with each flag given once.
    for (const [key, values] of program.earlier) {
      for (const value of values) checkValue(key, value);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      err(`fetchall: ${escapeText(error.message)}`);
      return EXIT.usage;
    }
    throw error;
  }
  // Loaded only now, so --version and --help stay fast (no undici, no chalk).
  const {execute} = await import('./cli/execute.js');
  return execute(io, flags, lists, options);
}

/** Write `text` and resolve with how it ended: null or undefined when written, else the error. */
function writeChecked(out: Writable, text: string): Promise<Error | null | undefined> {
  return new Promise((resolve) => {
    // Kept on: the stream emits its 'error' after the write's callback, and may again on the next write.
    out.on('error', resolve);
    out.write(text, resolve);
  });
}

/** How the CLI names an option in a message: by its flag. */
function flagName(camel: string): string {
  return camel === 'header' ? '-H/--header' : camel === 'outputDir' ? '-o/--output-dir' : cliName(camel);
}

/** One flag's value alone, as validate() checks it; throws its UsageError. */
function checkValue(key: keyof RawFlags, value: string): void {
  if (key === 'report') {
    if (value === '') throw new UsageError('--report must not be empty');
    return;
  }
  if (key === 'outputDir' && value === '-') return;
  normalizeOptions({[key]: value} as FetchAllOptions, flagName);
}

function validate(flags: RawFlags, lists: string[], io: CliIo): RunOptions {
  if (flags.quiet === true && flags.verbose === true) throw new UsageError('-q/--quiet and -v/--verbose cannot be used together');
  if (flags.resume === true && flags.report === undefined) throw new UsageError('--resume needs --report FILE');
  if (flags.report !== undefined) checkValue('report', flags.report);
  const outputDir = flags.outputDir === '-' ? undefined : flags.outputDir;
  if (flags.name !== undefined && outputDir === undefined) throw new UsageError('--name needs -o/--output-dir DIR');
  if (flags.skipExisting === true && outputDir === undefined) throw new UsageError('--skip-existing needs -o/--output-dir DIR');
  if (flags.fsync === true && outputDir === undefined) throw new UsageError('--fsync needs -o/--output-dir DIR');
  if (lists.length === 0 && io.stdin.isTTY === true) {
    throw new UsageError('no list given and standard input is a terminal: name a file of URLs, or pipe one in (see --help)');
  }
  const raw: FetchAllOptions = {
    concurrency: flags.concurrency,
    perHost: flags.perHost,
    rate: flags.rate,
    shard: flags.shard,
    header: flags.header,
    userAgent: flags.userAgent,
    // Any case, any word: normalizeOptions checks it and names the flag.
    method: flags.method as FetchAllOptions['method'],
    connectTimeout: flags.connectTimeout,
    idleTimeout: flags.idleTimeout,
    timeout: flags.timeout,
    maxRedirects: flags.maxRedirects,
    maxSize: flags.maxSize,
    compressed: flags.compressed,
    insecure: flags.insecure,
    proxy: flags.proxy,
    retries: flags.retries,
    retryDelay: flags.retryDelay,
    retryMaxDelay: flags.retryMaxDelay,
    outputDir,
    name: flags.name,
    skipExisting: flags.skipExisting,
    fsync: flags.fsync,
    ordered: flags.ordered,
    checksum: flags.checksum,
    failFast: flags.failFast,
    maxFailures: flags.maxFailures,
    deadline: flags.deadline,
  };
  const options = normalizeOptions(raw, flagName);
  // A proxy variable that is no proxy URL is the user's to fix, found before the first request.
  if (options.proxy === undefined) {
    proxyVariable(io.env, 'http_proxy');
    proxyVariable(io.env, 'https_proxy');
  }
  return options;
}

/** Create the output folder before the first request: a failure here is exit 3. */
export function makeOutputDir(dir: string, options: {fsync?: boolean} = {}): void {
  // Created and probed with a temporary file: a folder that cannot be written is exit 3 before any request.
  prepareOutputDir(dir, options);
}

/** The real process, for bin/fetchall.js. */
export function processIo(): CliIo {
  return {
    argv: process.argv.slice(2),
    stdin: process.stdin,
    // A file or a device gets a stream of ours: Node's ignores a short write (a disk that fills).
    stdout: isFileLike(1) ? fileWritable(1) : process.stdout,
    stderr: process.stderr,
    env: process.env,
    onSignal: (handler) => {
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
      for (const s of signals) process.on(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
  };
}

/** Entry point for bin/fetchall.js: run and exit with the contract's code. */
export async function run(): Promise<void> {
  // stderr is for people: if it is closed (`2>&1 | head`), what we would print is lost, but the run,
  // its outputs and its exit code must not change.
  process.stderr.on('error', () => {});
  // bin/fetchall.js installed a handler for each signal before anything loaded (it exits 130/143 while
  // it is alone); the run adds its own, and so does the end, below.
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
  let code: number;
  try {
    code = await main(processIo());
  } catch (error) {
    process.stderr.write(`fetchall: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env['FETCHALL_DEBUG'] === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    code = EXIT.internal;
  }
  process.exitCode = code;
  // Let stdout drain; pending sockets are destroyed by the run, so the process ends by itself.
  // A hard exit makes sure a stray timer or socket never keeps a finished run alive. A signal while
  // a slow reader drains what is left ends it with the status already decided, never by the signal.
  for (const signal of SIGNALS) process.on(signal, () => process.exit(code));
  process.stdout.write('', () => process.exit(code));
}
