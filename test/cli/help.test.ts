// --help and --version of the built CLI: every flag of the contract listed, in groups, with examples.
import {afterAll, describe, expect, test} from 'vitest';
import {cleanupTemp, runCli} from '../helpers/cli.js';

/** Every long flag named in CONTRACT.md (`grep -o -- '--[a-z][a-z-]*'`), plus the long forms of -A and -v. */
const CONTRACT_FLAGS = [
  '--checksum', '--compressed', '--concurrency', '--connect-timeout', '--deadline', '--dry-run', '--fail-fast',
  '--header', '--help', '--idle-timeout', '--insecure', '--json', '--max-failures', '--max-redirects', '--max-size',
  '--method', '--name', '--no-color', '--ordered', '--output-dir', '--per-host', '--progress', '--proxy', '--quiet',
  '--rate', '--report', '--resume', '--retries', '--retry-delay', '--retry-max-delay', '--shard', '--skip-existing',
  '--timeout', '--version', '--user-agent', '--verbose',
];

/** Short flags of the contract, with their long forms. */
const SHORT_FLAGS: Array<[string, string]> = [
  ['-V', '--version'], ['-h', '--help'], ['-c', '--concurrency'], ['-H', '--header'], ['-A', '--user-agent'],
  ['-X', '--method'], ['-k', '--insecure'], ['-o', '--output-dir'], ['-q', '--quiet'], ['-v', '--verbose'],
];

const GROUPS = ['Concurrency and pacing:', 'Requests:', 'Retries:', 'Output:', 'Stopping:', 'Terminal:', 'Examples:'];

afterAll(cleanupTemp);

describe('--help', () => {
  test('exits 0 and lists every flag of the contract, grouped, with examples', async () => {
    const {code, stdout, stderr} = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const help = stdout.toString();
    expect(help).toMatch(/^Usage: fetchall \[options\] \[list\.\.\.\]/);
    const listed = new Set(help.match(/--[a-z][a-z-]*/g));
    const missing = CONTRACT_FLAGS.filter((flag) => !listed.has(flag));
    expect(missing).toEqual([]);
    for (const [short, long] of SHORT_FLAGS) expect(help).toMatch(new RegExp(`^  ${short}, ${long}\\b`, 'm'));
    // Groups in this order, each a heading at the start of a line.
    let at = -1;
    for (const heading of GROUPS) {
      const next = help.indexOf(`\n${heading}\n`);
      expect(next, heading).toBeGreaterThan(at);
      at = next;
    }
    // Each flag sits under the right heading (a few samples).
    const section = (heading: string): string => help.slice(help.indexOf(`\n${heading}\n`)).split(/\n\n/)[0]!;
    expect(section('Terminal:')).toMatch(/--no-color/);
    expect(section('Terminal:')).toMatch(/--progress/);
    expect(section('Output:')).toMatch(/--resume/);
    expect(section('Output:')).toMatch(/--dry-run/);
    expect(section('Retries:')).toMatch(/--retry-max-delay/);
    expect(section('Examples:').split('\n').filter((l) => l.startsWith('  fetchall') || l.includes('| fetchall')).length).toBeGreaterThanOrEqual(3);
    expect(help).toMatch(/Exit status:/);
  });

  test('-h is the same as --help, and no flag is shown with a raw default like []', async () => {
    const long = await runCli(['--help']);
    const short = await runCli(['-h']);
    expect(short.code).toBe(0);
    expect(short.stdout.toString()).toBe(long.stdout.toString());
    expect(long.stdout.toString()).not.toMatch(/default: \[\]/);
  });
});

describe('--version', () => {
  test('-V and --version print the version and exit 0', async () => {
    for (const flag of ['-V', '--version']) {
      const {code, stdout} = await runCli([flag]);
      expect(code).toBe(0);
      expect(stdout.toString()).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
    }
  });
});

describe('usage errors', () => {
  test('an unknown flag is exit 2 with one line naming it, no stack', async () => {
    const {code, stderr} = await runCli(['--no-such-flag']);
    expect(code).toBe(2);
    expect(stderr).toContain('--no-such-flag');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
