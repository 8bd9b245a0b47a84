// The commander program: every flag of the contract, grouped for --help, parsed to raw strings only.
import {Command, Option} from 'commander';
import {VERSION} from '../version.js';

/** What commander hands back: raw values, validated later by normalizeOptions. */
export interface RawFlags {
  concurrency?: string;
  perHost?: string;
  rate?: string;
  shard?: string;
  /** Every -H given, in order; undefined when none (no default, so --help shows no `[]`). */
  header?: string[];
  userAgent?: string;
  method?: string;
  connectTimeout?: string;
  idleTimeout?: string;
  timeout?: string;
  maxRedirects?: string;
  maxSize?: string;
  compressed?: boolean;
  insecure?: boolean;
  proxy?: string;
  retries?: string;
  retryDelay?: string;
  retryMaxDelay?: string;
  outputDir?: string;
  name?: string;
  skipExisting?: boolean;
  fsync?: boolean;
  ordered?: boolean;
  json?: boolean;
  report?: string;
  resume?: boolean;
  dryRun?: boolean;
  checksum?: boolean;
  failFast?: boolean;
  maxFailures?: string;
  deadline?: string;
  progress?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const EXAMPLES = `
Examples:
  fetchall urls.txt -c 3                       fetch every URL, bodies to stdout
  fetchall urls.txt -o out/ --report run.jsonl save files, keep a JSON report
  fetchall urls.txt -o out/ --report run.jsonl --resume
                                               finish a run that was stopped
  fetchall urls.txt -X HEAD -q --report links.jsonl
                                               check links in CI: print failures only
  fetchall urls.txt --json | jq -c 'select(.ok|not)'
                                               the failed records, as JSON
  fetchall urls.txt -o out/ --dry-run          show which file each URL would go to
  cat urls.txt | fetchall --shard 2/4 -o out/  one quarter of a list on this machine

Exit status: 0 all ok, 1 a URL failed, 2 usage error, 3 output error, 70 internal error,
124 --deadline, 130/143 interrupted (131 quit with Ctrl-\\), 141 stdout closed.`;

function group(heading: string, options: Option[]): Option[] {
  return options.map((o) => o.helpGroup(heading));
}

/** The program, and the values of flags given more than once before the last one (which counts). */
export type Program = Command & {readonly earlier: ReadonlyMap<keyof RawFlags, readonly string[]>};

/**
 * Build the program. `exitOverride` and output capture make it testable in-process. A flag that takes
 * one value and is given twice keeps the last (as in curl); the earlier ones are kept in `earlier`,
 * so they can be checked too (curl refuses `-m x -m 3`).
 */
export function buildProgram(write: {out: (s: string) => void; err: (s: string) => void}): Program {
  const program = new Command('fetchall')
    .description('Fetch every URL of a list, fast and politely: a hard bound on requests in flight, bodies to stdout or files.')
    .argument('[list...]', 'files of URLs, one per line ("-" or none: standard input)')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({writeOut: write.out, writeErr: write.err, outputError: () => {}})
    .allowExcessArguments(false)
    .addHelpText('after', EXAMPLES);

  const options: Option[] = [
    ...group('Concurrency and pacing:', [
      new Option('-c, --concurrency <n>', 'requests in flight at most, across the run (default: 8)'),
      new Option('--per-host <n>', 'requests in flight at most to one host (host:port)'),
      new Option('--rate <r>', 'start at most R requests per second: 10, 10/s, 600/m, 3600/h'),
      new Option('--shard <k/n>', 'take only entries with (index-1) % N == K-1'),
    ]),
    ...group('Requests:', [
      new Option('-H, --header <header>', "add a header, 'Name: value' (repeatable)").argParser(collect),
      new Option('-A, --user-agent <ua>', 'User-Agent (default: fetchall/<version>)'),
      new Option('-X, --method <method>', 'GET or HEAD (default: GET)'),
      new Option('--connect-timeout <dur>', 'time to connect (default: 10s)'),
      new Option('--idle-timeout <dur>', 'time without a byte received (default: 30s)'),
      new Option('--timeout <dur>', 'one whole attempt, redirects included (default: none)'),
      new Option('--max-redirects <n>', 'redirects to follow; 0 = none (default: 10)'),
      new Option('--max-size <size>', 'fail bodies larger than this: 10MB, 1GiB'),
      new Option('--compressed', 'ask for gzip/deflate/br and decode'),
      new Option('-k, --insecure', 'skip TLS certificate verification'),
      new Option('--proxy <url>', "HTTP proxy; '' for none (default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY)"),
    ]),
    ...group('Retries:', [
      new Option('--retries <n>', 'retries after a retryable failure (default: 2)'),
      new Option('--retry-delay <dur>', 'first backoff, doubled each retry (default: 500ms)'),
      new Option('--retry-max-delay <dur>', 'cap on any wait, Retry-After included (default: 30s)'),
    ]),
    ...group('Output:', [
      new Option('-o, --output-dir <dir>', 'save each body as a file under DIR ("-": stdout)'),
      new Option('--name <template>', 'file name: {host} {path} {basename} {index} {hash} (default: {basename})'),
      new Option('--skip-existing', 'with -o: no request when the file exists'),
      new Option('--fsync', 'with -o: flush each file to disk before it takes its final name'),
      new Option('--ordered', 'write bodies (or --json records) in input order'),
      new Option('--json', 'print one JSON record per URL on stdout'),
      new Option('--report <file>', 'append the JSON records to FILE'),
      new Option('--resume', 'with --report: skip URLs whose latest record is ok'),
      new Option('--dry-run', 'print the plan (URL<TAB>FILE); send nothing'),
      new Option('--checksum', "put each body's SHA-256 in the record"),
    ]),
    ...group('Stopping:', [
      new Option('--fail-fast', 'stop at the first URL that fails for good'),
      new Option('--max-failures <n|n%>', 'stop once more than N (or N%) URLs failed'),
      new Option('--deadline <dur>', 'stop after DUR, flush, exit 124'),
    ]),
    ...group('Terminal:', [
      new Option('--progress', 'print a status line every 10s where no live line is drawn (stderr not a terminal, or bodies on it)'),
      new Option('-q, --quiet', 'print only failed URLs and errors'),
      new Option('-v, --verbose', 'print one line per URL as it completes'),
      new Option('--no-color', 'no colour on stderr'),
    ]),
  ];
  const earlier = new Map<keyof RawFlags, string[]>();
  for (const option of options) {
    if (option.required && option.parseArg === undefined) {
      const key = option.attributeName() as keyof RawFlags;
      option.argParser((value: string, previous: unknown) => {
        if (typeof previous === 'string') earlier.set(key, [...(earlier.get(key) ?? []), previous]);
        return value;
      });
    }
    program.addOption(option);
  }
  return Object.assign(program, {earlier});
}

/**
 * argv with a short-flag cluster that starts with `-h` (`-hq`, `-hv`) read as `-h`: commander knows
 * its help flag only alone (`-qh` works, `-hq` was "unknown option"), and help wins either way. And
 * whether help was asked for at all: commander stops at a flag missing its value before it looks for
 * help (`--help -c`), and help must win wherever it stands.
 * Read left to right as commander reads it, so that an argument that is a flag's value (`-A -hq`,
 * `-qA -hq`, where `-qA` itself may be a value: `-A -qA -hq`) is left alone.
 * @example readHelp(['-hq', 'urls.txt'], program) // → {argv: ['-h', 'urls.txt'], help: true}
 */
export function readHelp(argv: readonly string[], program: Command): {argv: string[]; help: boolean} {
  const valued = (flag: string): boolean | undefined => program.options.find((o) => o.short === flag || o.long === flag)?.required;
  const out: string[] = [];
  let help = false;
  let value = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (value) {
      value = false;
      out.push(arg);
      continue;
    }
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^-h[^-]/.test(arg)) {
      out.push('-h');
      help = true;
      continue;
    }
    out.push(arg);
    if (arg === '--help') {
      help = true;
    } else if (arg.startsWith('--')) {
      value = !arg.includes('=') && valued(arg) === true;
    } else if (/^-[^-]/.test(arg)) {
      // The first flag in a cluster that takes a value takes the rest of it, or the next argument.
      for (let k = 1; k < arg.length; k++) {
        if (arg[k] === 'h') {
          help = true;
          break;
        }
        const required = valued(`-${arg[k]!}`);
        if (required === undefined) break;
        if (required) {
          value = k === arg.length - 1;
          break;
        }
      }
    }
  }
  return {argv: out, help};
}

// Flags of curl and wget whose fetchall name is not close enough for commander's own suggestion.
const PEER_FLAGS: Readonly<Record<string, string>> = {
  '--max-time': '--timeout',
  '--retry': '--retries',
  '--parallel-max': '-c/--concurrency',
  '--limit-rate': '--rate (requests per second, not bytes)',
  '--output': '-o/--output-dir (one folder for all files)',
  '--tries': '--retries',
  '--input-file': 'a list argument: fetchall FILE',
  '--user-agent': '-A/--user-agent',
};

/** "unknown option '--max-time'" with fetchall's name for that curl/wget flag, when there is one. */
export function peerHint(message: string): string {
  const match = /unknown option '([^'=]+)/.exec(message);
  const ours = match === null ? undefined : PEER_FLAGS[match[1]!];
  return ours === undefined ? message : `${message.replace(/\s*\(Did you mean[^)]*\)/, '')} (fetchall's name for it: ${ours})`;
}
