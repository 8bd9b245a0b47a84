// Retry-After parsing (seconds, HTTP date, past, garbage) and the capped, jittered exponential backoff.
import {describe, expect, test} from 'vitest';
import {backoffDelay, parseHttpDate, parseRetryAfter, retryWait} from '../../src/http/retry-policy.js';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

describe('parseRetryAfter', () => {
  test.each<[string | string[] | undefined, number | undefined]>([
    ['1', 1000],
    ['120', 120_000],
    [' 5 ', 5000],
    ['0', 0],
    [['2', '9'], 2000],
    [new Date(NOW + 30_000).toUTCString(), 30_000],
    ['Wed, 01 Jan 2025 12:01:00 GMT', 60_000],
    [new Date(NOW - 1000).toUTCString(), undefined],
    [new Date(NOW).toUTCString(), undefined],
    [undefined, undefined],
    ['', undefined],
    ['soon', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['12abc', undefined],
    ['2025-13-45', undefined],
    ['Wed Jan  1 12:00:30 2025', 30_000],
    ['Wednesday, 01-Jan-25 12:00:45 GMT', 45_000],
    ['wed, 01 jan 2025 12:00:10 utc', 10_000],
    ['Wed, 01 Jan 2025 13:00:10 +0100', 10_000],
    ['Wed, 01 Jan 2025 12:00:10', 10_000],
    // Text with a year in it is no date (Date.parse took these for dates far ahead).
    ['soon 2030', undefined],
    ['x 2099', undefined],
    ['Nov 2099', undefined],
    ['Wed, 31 Feb 2025 12:00:10 GMT', undefined],
    ['Wed, 01 Jan 2025 25:00:10 GMT', undefined],
    ['2025-01-01T12:00:10Z', undefined],
  ])('%j → %s', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  test('every HTTP date form is GMT, whatever the machine\'s time zone', () => {
    const zone = process.env['TZ'];
    try {
      for (const tz of ['America/New_York', 'Asia/Tokyo', 'UTC']) {
        process.env['TZ'] = tz;
        expect(parseRetryAfter('Wed Jan  1 12:00:30 2025', NOW)).toBe(30_000);
        expect(parseRetryAfter('Wed Jan 1 12:00:30 2025', NOW)).toBe(30_000);
        expect(parseRetryAfter('Wed, 01 Jan 2025 12:01:00 GMT', NOW)).toBe(60_000);
        expect(parseRetryAfter('Wednesday, 01-Jan-25 12:00:45 GMT', NOW)).toBe(45_000);
        // No zone at all (not a valid HTTP date, but read leniently): GMT too, never local time.
        expect(parseRetryAfter('Wed, 01 Jan 2025 12:00:20', NOW)).toBe(20_000);
      }
    } finally {
      if (zone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = zone;
    }
  });
});

describe('parseHttpDate', () => {
  // RFC 850's two-digit year is the most recent year with those digits, not more than 50 years ahead.
  const ahead50 = new Date().getUTCFullYear() + 50;
  const yy = String(ahead50 % 100).padStart(2, '0');
  const yyAfter = String((ahead50 + 1) % 100).padStart(2, '0');

  test.each<[string, number]>([
    ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    [`Sunday, 06-Nov-${yy} 08:49:37 GMT`, Date.UTC(ahead50, 10, 6, 8, 49, 37)],
    [`Sunday, 06-Nov-${yyAfter} 08:49:37 GMT`, Date.UTC(ahead50 + 1 - 100, 10, 6, 8, 49, 37)],
    ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun, 06 Nov 1994 08:49:37 UT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun, 06 Nov 1994 08:49:37 Z', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun, 06 Nov 1994 07:19:37 -01:30', Date.UTC(1994, 10, 6, 8, 49, 37)],
    // A leap second is read as the next second.
    ['Sun, 06 Nov 1994 08:49:60 GMT', Date.UTC(1994, 10, 6, 8, 50, 0)],
    // Real leap seconds come at the end of a day (of a year, even): the next second is the next day.
    ['Sat, 31 Dec 2016 23:59:60 GMT', Date.UTC(2017, 0, 1, 0, 0, 0)],
    ['Tue, 30 Jun 2015 23:59:60 GMT', Date.UTC(2015, 6, 1, 0, 0, 0)],
  ])('%s', (text, expected) => {
    expect(parseHttpDate(text)).toBe(expected);
  });

  test.each([
    'Sun, 06 Foo 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:60:37 GMT',
    'Sun, 06 Nov 1994 08:49:61 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT',
    'Sun, 00 Nov 1994 08:49:37 GMT',
    'Sun, 31 Nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 CET',
  ])('%s is no date', (text) => {
    expect(parseHttpDate(text)).toBeNaN();
  });
});

describe('backoffDelay', () => {
  test.each<[number, number]>([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [7, 30_000],
    [50, 30_000],
  ])('retry %i with random 1 waits %i ms', (retry, expected) => {
    expect(backoffDelay(retry, 500, 30_000, () => 1)).toBe(expected);
  });

  test('random 0 halves the wait; the factor stays in [0.5, 1]', () => {
    expect(backoffDelay(1, 500, 30_000, () => 0)).toBe(250);
    expect(backoffDelay(3, 500, 30_000, () => 0)).toBe(1000);
    expect(backoffDelay(10, 500, 1000, () => 0)).toBe(500);
    for (let i = 0; i < 200; i++) {
      const wait = backoffDelay(2, 100, 10_000);
      expect(wait).toBeGreaterThanOrEqual(100);
      expect(wait).toBeLessThanOrEqual(200);
    }
  });

  test('a zero delay never waits', () => {
    expect(backoffDelay(5, 0, 30_000, () => 1)).toBe(0);
  });
});

describe('retryWait', () => {
  test('a Retry-After replaces the backoff, up to the cap', () => {
    expect(retryWait(1, 5000, 500, 30_000)).toBe(5000);
    expect(retryWait(1, 3_600_000, 500, 30_000)).toBe(30_000);
    expect(retryWait(1, 0, 500, 30_000)).toBe(0);
  });

  test('without a Retry-After the backoff applies', () => {
    const wait = retryWait(2, undefined, 500, 30_000);
    expect(wait).toBeGreaterThanOrEqual(500);
    expect(wait).toBeLessThanOrEqual(1000);
  });
});
