// Table-driven tests for the pure flag value parsers: good values, bad values, and messages naming the flag.

import {describe, expect, test} from 'vitest';
import {UsageError} from '../../src/errors.js';
import {MAX_DURATION_MS, parseDuration} from '../../src/parse/duration.js';
import {parseHeader, validateHeaderPair} from '../../src/parse/header.js';
import {parseMaxFailures, parseWholeNumber} from '../../src/parse/number.js';
import {parseRate} from '../../src/parse/rate.js';
import {inShard, parseShard} from '../../src/parse/shard.js';
import {parseSize} from '../../src/parse/size.js';

/** Runs `parse`, expecting a one-line UsageError that names `flag` and quotes `text`. */
function expectUsageError(parse: () => unknown, flag: string, text: string): UsageError {
  let caught: unknown;
  try {
    parse();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UsageError);
  const error = caught as UsageError;
  expect(error.message.startsWith(flag)).toBe(true);
  expect(error.message).toContain(`(got ${JSON.stringify(text)})`);
  expect(error.message).not.toMatch(/[\r\n]/);
  return error;
}

describe('parseDuration', () => {
  test.each([
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    ['500ms', 500],
    ['1.5ms', 1.5],
    ['10', 10_000],
    ['1.5', 1500],
    ['.5s', 500],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['596h', 2_145_600_000],
    ['2147483647ms', MAX_DURATION_MS],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  test.each([
    '', ' ', 'abc', '-1', '-1s', '+1s', '1 s', ' 1s', '1s ', '1.', '1.s', '.', 's', 'ms', '1S', '1sec', '1d',
    '10x', '1s2', '1e3', 'NaN', 'Infinity', '0x10', '1,5s', '597h', '2147483648ms', '9'.repeat(400),
  ])('rejects %j', (text) => {
    expectUsageError(() => parseDuration(text, '--timeout'), '--timeout', text);
  });

  test('message lists the accepted forms', () => {
    expect(() => parseDuration('abc', '--timeout')).toThrow(
      '--timeout must be a duration like 500ms, 10s, 2m or 1h (got "abc")',
    );
  });
});

describe('parseSize', () => {
  test.each([
    ['1', 1],
    ['500000', 500_000],
    ['1kB', 1000],
    ['1KB', 1000],
    ['10MB', 10_000_000],
    ['2GB', 2_000_000_000],
    ['1KiB', 1024],
    ['1.5KiB', 1536],
    ['1MiB', 1_048_576],
    ['1GiB', 1_073_741_824],
    ['1.5', 1],
    ['0.001kB', 1],
    ['1.9999', 1],
    ['.5KB', 500],
    // > 0 is all the contract asks: a limit under one byte lets only empty bodies through.
    ['0.5', 0],
    ['0.0001kB', 0],
  ])('%j → %d bytes', (text, bytes) => {
    expect(parseSize(text, '--max-size')).toBe(bytes);
  });

  test.each([
    '', '0', '0.0', '0B', '1B', '10B', '0kB', '-1', '-1MB', '+1', 'abc', '1 MB', ' 1', '1mb', '1Mb', '1kb', '1kib',
    '1K', '1M', '1TB', '1TiB', '1e6', 'Infinity', 'NaN', '1MBx', '9'.repeat(400),
  ])('rejects %j', (text) => {
    expectUsageError(() => parseSize(text, '--max-size'), '--max-size', text);
  });
});

describe('parseRate', () => {
  test.each([
    ['10', 10],
    ['10/s', 10],
    ['600/m', 10],
    ['3600/h', 1],
    ['1/h', 1 / 3600],
    ['0.5', 0.5],
    ['2.5/s', 2.5],
  ])('%j → %d per second', (text, perSecond) => {
    expect(parseRate(text, '--rate')).toBeCloseTo(perSecond, 12);
  });

  test.each([
    '', '0', '0/s', '0.0', '-1', '-10/s', 'abc', '10/', '/s', '10/d', '10/sec', '10 /s', '10/S', '10s', '1e3',
    'Infinity', '9'.repeat(400),
  ])('rejects %j', (text) => {
    expectUsageError(() => parseRate(text, '--rate'), '--rate', text);
  });
});

describe('parseShard', () => {
  test.each([
    ['1/1', {index: 1, count: 1}],
    ['1/4', {index: 1, count: 4}],
    ['4/4', {index: 4, count: 4}],
    ['07/10', {index: 7, count: 10}],
  ])('%j', (text, shard) => {
    expect(parseShard(text, '--shard')).toEqual(shard);
  });

  test.each(['', '0/4', '5/4', '1/0', '0/0', '-1/4', '1/-4', '1.5/4', '1/4.0', '1', '1/', '/4', '1/4/8', ' 1/4', 'a/b',
    '1 / 4', '1/99999999999999999999'])('rejects %j', (text) => {
    expectUsageError(() => parseShard(text, '--shard'), '--shard', text);
  });

  test.each([
    [1, {index: 1, count: 4}, true],
    [5, {index: 1, count: 4}, true],
    [2, {index: 1, count: 4}, false],
    [4, {index: 4, count: 4}, true],
    [8, {index: 4, count: 4}, true],
    [3, {index: 4, count: 4}, false],
    [7, {index: 1, count: 1}, true],
  ])('inShard(%d, %j) is %s', (entryIndex, shard, expected) => {
    expect(inShard(entryIndex, shard)).toBe(expected);
  });

  test('shards 1..N are disjoint and cover every entry', () => {
    const count = 3;
    for (let entryIndex = 1; entryIndex <= 30; entryIndex += 1) {
      const owners = [1, 2, 3].filter((index) => inShard(entryIndex, {index, count}));
      expect(owners).toHaveLength(1);
    }
  });
});

describe('parseSize: beyond a safe integer', () => {
  test.each(['9007199254740992', '10000000GB', '8388608GiB'])('%j is refused as too large', (text) => {
    const error = expectUsageError(() => parseSize(text, '--max-size'), '--max-size', text);
    expect(error.message).toContain('too large');
  });
});

describe('parseHeader', () => {
  test.each([
    ['X-Api-Key: abc', ['x-api-key', 'abc']],
    ['Accept:text/html', ['accept', 'text/html']],
    ['User-Agent: \t my agent \t', ['user-agent', 'my agent']],
    ['X-Empty:', ['x-empty', '']],
    ['X-Empty:   ', ['x-empty', '']],
    ['X-Url: http://a.test:80/x', ['x-url', 'http://a.test:80/x']],
    ["!#$%&'*+-.^_`|~09Az: v", ["!#$%&'*+-.^_`|~09az", 'v']],
    ['X-Utf8: café', ['x-utf8', 'caf\u00c3\u00a9']],
    ['Authorization: Bearer a b  c', ['authorization', 'Bearer a b  c']],
    // Only spaces and tabs are trimmed: other white space is part of the value.
    ['X-Nbsp: \u00a0v\u00a0', ['x-nbsp', '\u00c2\u00a0v\u00c2\u00a0']],
  ])('%j', (text, pair) => {
    expect(parseHeader(text, '-H')).toEqual(pair);
  });

  test.each([
    ['X-Api-Key abc', 'must be "Name: value"'],
    ['', 'must be "Name: value"'],
    [': value', 'header name is empty'],
    ['X Y: z', 'not a valid token'],
    [' X: z', 'not a valid token'],
    ['X : z', 'not a valid token'],
    ['X(y): z', 'not a valid token'],
    ['Ü: z', 'not a valid token'],
    ['X: a\r\nInjected: yes', 'CR, LF or NUL'],
    ['X: a\nb', 'CR, LF or NUL'],
    ['X: a\rb', 'CR, LF or NUL'],
    ['X: a\0b', 'CR, LF or NUL'],
    ['X\n: a', 'CR, LF or NUL'],
    ['X\r\n', 'CR, LF or NUL'],
    ['X: a\x01b', 'control character'],
    ['X: a\x7fb', 'control character'],
    ['X: a\x0b', 'control character'],
    ['X: \fa', 'control character'],
    ['Host: a.test', 'cannot be set'],
    ['host: a.test', 'cannot be set'],
    ['Content-Length: 5', 'cannot be set'],
    ['TRANSFER-ENCODING: chunked', 'cannot be set'],
    ['Connection: close', 'cannot be set'],
    ['Keep-Alive: 5', 'cannot be set'],
    ['Upgrade: h2c', 'cannot be set'],
    ['Expect: 100-continue', 'cannot be set'],
  ])('rejects %j (%s)', (text, reason) => {
    const error = expectUsageError(() => parseHeader(text, '--header'), '--header', text);
    expect(error.message).toContain(reason);
  });

  test('a value beyond ASCII goes out as its UTF-8 bytes, as curl sends it', () => {
    expect(parseHeader('X: café', '-H')).toEqual(['x', 'caf\u00c3\u00a9']);
    expect(parseHeader('X: 例', '-H')).toEqual(['x', Buffer.from('例').toString('latin1')]);
  });

  test('message names the flag as typed', () => {
    expect(() => parseHeader('Host: a.test', '-H')).toThrow('-H: header "Host" cannot be set (got "Host: a.test")');
  });
});

describe('validateHeaderPair', () => {
  test.each([
    ['X-Api-Key', 'abc', null],
    ['x', '', null],
    ['X', 'tab\there', null],
    ['X', 'a\r\nb', 'header "X" contains CR, LF or NUL'],
    ['X\n', 'a', 'header "X\\n" contains CR, LF or NUL'],
    ['X', 'a\0', 'header "X" contains CR, LF or NUL'],
    ['', 'a', 'header name is empty'],
    ['Bad Name', 'a', `header name "Bad Name" is not a valid token (letters, digits and !#$%&'*+-.^_\`|~ only)`],
    ['HOST', 'a', 'header "HOST" cannot be set'],
    ['X', 'a\x1bb', 'header "X" has a control character in its value'],
    ['X', '😀', null],
  ])('%j: %j → %j', (name, value, problem) => {
    expect(validateHeaderPair(name, value)).toBe(problem);
  });
});

describe('parseWholeNumber', () => {
  test.each([
    ['1', 1, 10_000, 1],
    ['8', 1, 10_000, 8],
    ['10000', 1, 10_000, 10_000],
    ['0', 0, 100, 0],
    ['007', 0, 100, 7],
    ['12345678', 0, Number.POSITIVE_INFINITY, 12_345_678],
  ])('%j in [%d, %d] → %d', (text, min, max, value) => {
    expect(parseWholeNumber(text, '--concurrency', min, max)).toBe(value);
  });

  test.each(['', 'abc', '0', '10001', '-1', '+1', '1.0', '1.5', '1e3', ' 1', '1 ', '0x10', 'Infinity', '9'.repeat(30)])(
    'rejects %j for 1..10000',
    (text) => {
      expectUsageError(() => parseWholeNumber(text, '--concurrency', 1, 10_000), '--concurrency', text);
    },
  );

  test.each([
    ['abc', 1, 10_000, '--concurrency must be a whole number from 1 to 10000 (got "abc")'],
    ['-1', 0, Number.POSITIVE_INFINITY, '--concurrency must be a whole number of at least 0 (got "-1")'],
  ])('message for %j', (text, min, max, message) => {
    expect(() => parseWholeNumber(text, '--concurrency', min, max)).toThrow(message);
  });
});

describe('parseMaxFailures', () => {
  test.each([
    ['0', {kind: 'count', value: 0}],
    ['10', {kind: 'count', value: 10}],
    ['0%', {kind: 'percent', value: 0}],
    ['5%', {kind: 'percent', value: 5}],
    ['2.5%', {kind: 'percent', value: 2.5}],
    ['.5%', {kind: 'percent', value: 0.5}],
    ['100%', {kind: 'percent', value: 100}],
  ])('%j', (text, expected) => {
    expect(parseMaxFailures(text, '--max-failures')).toEqual(expected);
  });

  test.each(['', '-1', '1.5', 'abc', '%', '101%', '100.1%', '-1%', '5 %', '5%%', '5%x', ' 5', 'Infinity%', '1e1%', '9'.repeat(20)])(
    'rejects %j',
    (text) => {
      expectUsageError(() => parseMaxFailures(text, '--max-failures'), '--max-failures', text);
    },
  );
});
