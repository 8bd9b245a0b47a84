// normalizeOptions and proxyOrigin: the contract's defaults, each option's bounds, and how options are named.
import {describe, expect, test} from 'vitest';
import {UsageError} from '../../src/errors.js';
import {cliName, libraryName, normalizeOptions, proxyOrigin, type FetchAllOptions} from '../../src/options.js';
import {MAX_DURATION_MS} from '../../src/parse/duration.js';
import {VERSION} from '../../src/version.js';

/** Runs `normalizeOptions`, expecting a UsageError whose message starts with `named`. */
function expectRefused(raw: FetchAllOptions, named: string): UsageError {
  let caught: unknown;
  try {
    normalizeOptions(raw, cliName);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UsageError);
  const error = caught as UsageError;
  expect(error.message.startsWith(named)).toBe(true);
  return error;
}

describe('normalizeOptions: defaults', () => {
  test('no option at all gives the contract\'s defaults', () => {
    const options = normalizeOptions({});
    expect({...options, headers: {...options.headers}}).toEqual({
      concurrency: 8,
      perHost: undefined,
      rate: undefined,
      shard: undefined,
      headers: {'user-agent': `fetchall/${VERSION}`, accept: '*/*'},
      method: 'GET',
      connectTimeout: 10_000,
      idleTimeout: 30_000,
      timeout: 0,
      maxRedirects: 10,
      maxSize: undefined,
      compressed: false,
      insecure: false,
      proxy: undefined,
      retries: 2,
      retryDelay: 500,
      retryMaxDelay: 30_000,
      outputDir: undefined,
      name: '{basename}',
      skipExisting: false,
      fsync: false,
      ordered: false,
      checksum: false,
      failFast: false,
      maxFailures: undefined,
      deadline: 0,
    });
    expect(Object.isFrozen(options)).toBe(true);
  });
});

describe('normalizeOptions: values and bounds', () => {
  test.each<[string, FetchAllOptions, Partial<Record<string, unknown>>]>([
    ['durations as numbers of ms, 0 included', {timeout: 0, connectTimeout: 1.5, deadline: MAX_DURATION_MS}, {timeout: 0, connectTimeout: 1.5, deadline: MAX_DURATION_MS}],
    ['durations as strings', {idleTimeout: '2m', retryDelay: '0', retryMaxDelay: '1h'}, {idleTimeout: 120_000, retryDelay: 0, retryMaxDelay: 3_600_000}],
    ['a size as a number is floored to whole bytes', {maxSize: 1.9}, {maxSize: 1}],
    ['a size as a string', {maxSize: '1KiB'}, {maxSize: 1024}],
    ['the method in any case', {method: 'head'}, {method: 'HEAD'}],
    ['the last shard', {shard: {index: 2, count: 2}}, {shard: {index: 2, count: 2}}],
    ['a shard as text', {shard: '3/4'}, {shard: {index: 3, count: 4}}],
    ['a rate as a number', {rate: 0.5}, {rate: 0.5}],
    ['a rate as text', {rate: '600/m'}, {rate: 10}],
    ['the bounds of the whole numbers', {concurrency: '10000', perHost: 1, retries: 1000, maxRedirects: 0}, {concurrency: 10_000, perHost: 1, retries: 1000, maxRedirects: 0}],
    ['--max-failures as a count and as a percentage', {maxFailures: 0}, {maxFailures: {kind: 'count', value: 0}}],
    ['--max-failures as a percentage', {maxFailures: '2.5%'}, {maxFailures: {kind: 'percent', value: 2.5}}],
    ['an empty --proxy turns proxies off', {proxy: ''}, {proxy: ''}],
    ['a proxy without a scheme is http', {proxy: 'proxy.test:3128'}, {proxy: 'http://proxy.test:3128'}],
    ['flags are booleans only when true', {compressed: true, insecure: false, ordered: true}, {compressed: true, insecure: false, ordered: true}],
  ])('%s', (_label, raw, expected) => {
    expect(normalizeOptions(raw)).toMatchObject(expected);
  });

  test.each<[string, FetchAllOptions, string]>([
    ['a negative duration', {timeout: -1}, '--timeout'],
    ['a duration beyond a Node timer', {deadline: MAX_DURATION_MS + 1}, '--deadline'],
    ['a size of 0 bytes', {maxSize: 0}, '--max-size'],
    ['a method other than GET or HEAD', {method: 'POST' as 'GET'}, '--method'],
    ['a shard past its count', {shard: {index: 3, count: 2}}, '--shard'],
    ['shard 0', {shard: {index: 0, count: 2}}, '--shard'],
    ['a rate of 0', {rate: 0}, '--rate'],
    ['a rate slower than one start per Node timer', {rate: 1000 / (1.5 * MAX_DURATION_MS)}, '--rate'],
    ['a concurrency above 10000', {concurrency: 10_001}, '--concurrency'],
    ['a concurrency of 0', {concurrency: 0}, '--concurrency'],
    ['a per-host limit of 0', {perHost: '0'}, '--per-host'],
    ['retries above 1000', {retries: 1001}, '--retries'],
    ['an empty output folder', {outputDir: ''}, '--output-dir'],
    ['a user agent with a line break', {userAgent: 'x\r\nInjected: 1'}, '--user-agent'],
    ['a bad template', {name: '{file}'}, '--name'],
  ])('refuses %s', (_label, raw, flag) => {
    expectRefused(raw, flag);
  });

  test('a later header replaces an earlier one of the same name, case-insensitively; -H User-Agent beats -A', () => {
    const {headers} = normalizeOptions({header: ['X-A: 1', 'x-a: 2', 'User-Agent: mine'], userAgent: 'theirs'});
    expect(headers['x-a']).toBe('2');
    expect(headers['user-agent']).toBe('mine');
    expect(headers['accept']).toBe('*/*');
  });

  test('options are named as flags for the CLI and as properties for the library', () => {
    expect(cliName('retryMaxDelay')).toBe('--retry-max-delay');
    expect(libraryName('retryMaxDelay')).toBe('options.retryMaxDelay');
    expect(() => normalizeOptions({retryMaxDelay: 'soon'})).toThrow(/^options\.retryMaxDelay /);
  });
});

describe('proxyOrigin', () => {
  test.each([
    ['http://proxy.test:3128/path?q#f', 'http://proxy.test:3128'],
    ['https://proxy.test:8443', 'https://proxy.test:8443'],
    ['proxy.test:3128', 'http://proxy.test:3128'],
    ['http://u:p@proxy.test:3128', 'http://u:p@proxy.test:3128'],
    ['http://u@proxy.test:3128', 'http://u@proxy.test:3128'],
    // A credential that does not percent-decode is sent as typed: its `%` is encoded.
    ['http://u%zz:p%2@proxy.test:3128', 'http://u%25zz:p%252@proxy.test:3128'],
    ['http://u%41:p@proxy.test:3128', 'http://u%41:p@proxy.test:3128'],
  ])('%s → %s', (value, expected) => {
    expect(proxyOrigin(value, '--proxy')).toBe(expected);
  });

  test.each(['socks5://u:secret@proxy.test:1080', 'http://u:secret@[bad/'])('refuses %s without showing the password', (value) => {
    let caught: unknown;
    try {
      proxyOrigin(value, 'HTTPS_PROXY');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const message = (caught as UsageError).message;
    expect(message.startsWith('HTTPS_PROXY must be')).toBe(true);
    expect(message).not.toContain('secret');
    expect(message).toContain('u:***@');
  });
});
