// The summary, the -q failure line and the -v line: counts, grouping, the 20 cap, and escaping.
import {describe, expect, test} from 'vitest';
import type {FetchRecord} from '../../src/record.js';
import {makeChalk} from '../../src/report/color.js';
import {RunStats} from '../../src/report/stats.js';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatFailureLine,
  formatRate,
  formatSummary,
  formatVerboseLine,
} from '../../src/report/summary.js';

const plain = makeChalk(0);

function okRecord(index: number, overrides: Partial<FetchRecord> = {}): FetchRecord {
  const url = `https://a.test/${index}`;
  return {
    index, url, ok: true, status: 200, final_url: url, bytes: 1000, duration_ms: 35, attempts: 1,
    file: null, skipped: false, sha256: null, error: null, ...overrides,
  };
}

function failRecord(index: number, code: NonNullable<FetchRecord['error']>['code'], message: string,
  status: number | null = null, url = `https://a.test/f${index}`): FetchRecord {
  return okRecord(index, {url, ok: false, status, bytes: 0, error: {code, message}});
}

describe('formatBytes', () => {
  test.each([
    [0, '0 B'], [999, '999 B'], [1000, '1.0 kB'], [1234, '1.2 kB'], [999_949, '999.9 kB'],
    [999_960, '1.0 MB'], [12_400_000, '12.4 MB'], [3_000_000_000, '3.0 GB'], [5e12, '5.0 TB'],
  ])('%d → %s', (n, expected) => {
    expect(formatBytes(n)).toBe(expected);
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0ms'], [12.4, '12ms'], [999, '999ms'], [999.7, '1.0s'], [3210, '3.2s'], [59_940, '59.9s'],
    [59_960, '1m00s'], [125_000, '2m05s'], [3_599_000, '59m59s'], [3_599_500, '1h00m'], [3_600_000, '1h00m'], [3_720_000, '1h02m'],
  ])('%d → %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('formatCount and formatRate', () => {
  test.each([[0, '0'], [999, '999'], [1234, '1,234'], [1_234_567, '1,234,567']])('count %d', (n, s) => {
    expect(formatCount(n)).toBe(s);
  });
  test.each([[0, '0.0'], [37.52, '37.5'], [99.9, '99.9'], [99.96, '100'], [245.4, '245'], [2450, '2,450']])('rate %d', (n, s) => {
    expect(formatRate(n)).toBe(s);
  });
});

describe('formatSummary', () => {
  test('all ok: one line with counts, bytes, time and rate', () => {
    const stats = new RunStats({total: 4, startedAt: 0});
    for (let i = 1; i <= 3; i++) stats.add(okRecord(i, {bytes: 4_133_333}));
    stats.add(okRecord(4, {skipped: true, status: null, bytes: 0, attempts: 0}));
    expect(formatSummary(stats, plain, 3200)).toEqual([
      'fetchall: 4 URLs in 3.2s — 3 ok, 0 failed, 1 skipped · 12.4 MB · 1.3 URLs/s',
    ]);
  });

  test('singular URL, nothing failed, no failure lines', () => {
    const stats = new RunStats({startedAt: 0});
    stats.add(okRecord(1, {bytes: 10}));
    expect(formatSummary(stats, plain, 500)).toEqual(['fetchall: 1 URL in 500ms — 1 ok, 0 failed, 0 skipped · 10 B · 2.0 URLs/s']);
    // What stopped the run ends the line.
    expect(formatSummary(stats, plain, 500, 'stopped by SIGINT')).toEqual(['fetchall: 1 URL in 500ms — 1 ok, 0 failed, 0 skipped · 10 B · 2.0 URLs/s · stopped by SIGINT']);
  });

  test('entries never started are counted when the total is known', () => {
    const stats = new RunStats({total: 10, startedAt: 0});
    stats.add(okRecord(1));
    expect(formatSummary(stats, plain, 1000)[0]).toContain('1 ok, 0 failed, 0 skipped, 9 not started');
  });

  test('failures: grouped by status for http_status, by code otherwise, then listed', () => {
    const stats = new RunStats({total: 120, startedAt: 0});
    for (let i = 1; i <= 117; i++) stats.add(okRecord(i));
    stats.add(failRecord(118, 'http_status', '404 Not Found', 404, 'https://x/y'));
    stats.add(failRecord(119, 'timeout', 'no byte received for 30s', null, 'https://x/z'));
    stats.add(failRecord(120, 'http_status', '404 Not Found', 404, 'https://x/w'));
    expect(formatSummary(stats, plain, 3200)).toEqual([
      'fetchall: 120 URLs in 3.2s — 117 ok, 3 failed, 0 skipped · 117.0 kB · 37.5 URLs/s',
      'failures: 404 ×2, timeout ×1',
      '  FAIL https://x/y — 404 Not Found (http_status)',
      '  FAIL https://x/z — timeout: no byte received for 30s',
      '  FAIL https://x/w — 404 Not Found (http_status)',
    ]);
  });

  test('distinct statuses are distinct groups; most frequent first', () => {
    const stats = new RunStats({startedAt: 0});
    stats.add(failRecord(1, 'http_status', '500 Internal Server Error', 500));
    stats.add(failRecord(2, 'dns', 'getaddrinfo ENOTFOUND a.test'));
    stats.add(failRecord(3, 'dns', 'getaddrinfo ENOTFOUND a.test'));
    stats.add(failRecord(4, 'http_status', '404 Not Found', 404));
    expect(formatSummary(stats, plain, 1000)[1]).toBe('failures: dns ×2, 404 ×1, 500 ×1');
  });

  test('lists the first 20 failures, then "… and N more"; memory stays at 20', () => {
    const stats = new RunStats({startedAt: 0});
    for (let i = 1; i <= 34; i++) stats.add(failRecord(i, 'http_status', '404 Not Found', 404));
    for (let i = 35; i <= 38; i++) stats.add(failRecord(i, 'timeout', 'no byte received for 30s'));
    expect(stats.failures).toHaveLength(20);
    expect(stats.failedCount).toBe(38);
    const lines = formatSummary(stats, plain, 1000);
    expect(lines[1]).toBe('failures: 404 ×34, timeout ×4');
    expect(lines.filter((line) => line.startsWith('  FAIL '))).toHaveLength(20);
    expect(lines[2]).toBe('  FAIL https://a.test/f1 — 404 Not Found (http_status)');
    expect(lines[21]).toBe('  FAIL https://a.test/f20 — 404 Not Found (http_status)');
    expect(lines.at(-1)).toBe('  … and 18 more');
    expect(lines).toHaveLength(23);
  });

  test('exactly 20 failures: no "and more" line', () => {
    const stats = new RunStats({startedAt: 0});
    for (let i = 1; i <= 20; i++) stats.add(failRecord(i, 'reset', 'socket hang up'));
    const lines = formatSummary(stats, plain, 1000);
    expect(lines).toHaveLength(22);
    expect(lines.some((line) => line.includes('more'))).toBe(false);
  });

  test('a hostile URL and message are redacted and escaped', () => {
    const stats = new RunStats({startedAt: 0});
    stats.add(failRecord(1, 'http_status', '404 \x1b]0;owned\x07Not Found\r  OK fake', 404,
      'https://user:hunter2@a.test/\x1b[2J\u202etxt.exe'));
    stats.add(failRecord(2, 'too_many_redirects', 'redirect to http://x:secret@b.test/\n'));
    const text = formatSummary(stats, plain, 1000).join('\n');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('secret');
    expect(text).toContain('  FAIL https://user:***@a.test/\\x1b[2J\\u202etxt.exe — 404 \\x1b]0;owned\\x07Not Found\\x0d  OK fake (http_status)');
    expect(text).toContain('  FAIL https://a.test/f2 — too_many_redirects: redirect to http://x:***@b.test/\\x0a');
  });

  test('colour is applied only when the level asks for it', () => {
    const stats = new RunStats({startedAt: 0});
    stats.add(failRecord(1, 'reset', 'socket hang up'));
    const coloured = formatSummary(stats, makeChalk(1), 1000);
    expect(coloured[0]).toContain('\x1b[31m1 failed\x1b[39m');
    expect(coloured[2]).toBe('  \x1b[31mFAIL\x1b[39m https://a.test/f1 — reset: socket hang up');
  });
});

describe('formatFailureLine (-q)', () => {
  test.each<[string, FetchRecord, string]>([
    ['http_status', failRecord(1, 'http_status', '404 Not Found', 404, 'https://x/y'), 'FAIL https://x/y — 404 Not Found (http_status)'],
    ['http_status without a message', failRecord(1, 'http_status', '', 503, 'https://x/y'), 'FAIL https://x/y — 503 (http_status)'],
    ['other code', failRecord(1, 'timeout', 'no byte received for 30s', null, 'https://x/z'), 'FAIL https://x/z — timeout: no byte received for 30s'],
    ['other code without a message', failRecord(1, 'aborted', '', null, 'https://x/z'), 'FAIL https://x/z — aborted'],
    ['invalid input line', failRecord(3, 'invalid_url', 'urls.txt:3: not a URL', null, 'ht\x1btp://u:p@x'), 'FAIL ht\\x1btp://u:***@x — invalid_url: urls.txt:3: not a URL'],
  ])('%s', (_name, record, expected) => {
    expect(formatFailureLine(record, plain)).toBe(expected);
  });
});

describe('formatVerboseLine (-v)', () => {
  test.each<[string, FetchRecord, string]>([
    ['ok with a file', okRecord(1, {bytes: 1234, file: 'out/1'}), 'OK   200    1.2 kB   35ms https://a.test/1 → out/1'],
    ['ok to stdout', okRecord(2, {bytes: 12}), 'OK   200      12 B   35ms https://a.test/2'],
    ['failed', failRecord(3, 'http_status', '404 Not Found', 404, 'https://x/y'), 'FAIL 404       0 B   35ms https://x/y — 404 Not Found (http_status)'],
    ['failed without status', failRecord(4, 'dns', 'ENOTFOUND', null, 'https://x/z'), 'FAIL   -       0 B   35ms https://x/z — dns: ENOTFOUND'],
    ['skipped', okRecord(5, {skipped: true, status: null, bytes: 0, duration_ms: 0, attempts: 0, file: 'out/5'}), 'SKIP   -       0 B    0ms https://a.test/5 → out/5'],
    ['hostile url and file', okRecord(6, {url: 'https://u:p@h/\r\x1b[A', file: 'out/\x1b[A'}), 'OK   200    1.0 kB   35ms https://u:***@h/\\x0d\\x1b[A → out/\\x1b[A'],
  ])('%s', (_name, record, expected) => {
    expect(formatVerboseLine(record, plain)).toBe(expected);
  });
});

describe('shownUrl', () => {
  test('cuts a very long URL in the middle, keeping its head and tail', async () => {
    const {shownUrl} = await import('../../src/report/summary.js');
    const url = `http://a.test/${'a'.repeat(100_000)}/end`;
    const shown = shownUrl(url);
    expect(shown.length).toBe(300);
    expect(shown.startsWith('http://a.test/aaa')).toBe(true);
    expect(shown.endsWith('/end')).toBe(true);
    expect(shown).toContain('…');
    expect(shownUrl('http://a.test/x')).toBe('http://a.test/x');
  });

  test('a URL short enough whose escapes make it longer than 300 characters is cut too', async () => {
    const {shownUrl} = await import('../../src/report/summary.js');
    const url = `http://a.test/${'\x1b'.repeat(100)}/end`;
    expect(url.length).toBeLessThan(300);
    const shown = shownUrl(url);
    expect(shown.length).toBeLessThanOrEqual(300);
    expect(shown).toContain('…');
    expect(shown.endsWith('/end')).toBe(true);
  });

  test('cuts between whole characters: no half surrogate pair, no half escape', async () => {
    const {shownUrl} = await import('../../src/report/summary.js');
    for (const filler of ['😀', '\u202e', 'a\x1b', 'é😀\u0007']) {
      for (let lead = 0; lead < 6; lead++) {
        const url = `http://a.test/${'x'.repeat(lead)}${filler.repeat(400)}`;
        const shown = shownUrl(url);
        expect(shown.length).toBeLessThanOrEqual(300);
        // Every UTF-16 unit pairs up: a lone surrogate would print as U+FFFD.
        expect(shown).not.toMatch(/\p{Cs}/u);
        const [head, tail] = shown.split('…') as [string, string];
        // What is shown is the escaped URL's own start and end, cut at a boundary between escapes.
        const whole = Array.from(url, (c) => (/[\u0000-\u001f\u202e]/u.test(c) ? `\\${c.codePointAt(0)! > 0xff ? 'u' + c.codePointAt(0)!.toString(16).padStart(4, '0') : 'x' + c.codePointAt(0)!.toString(16).padStart(2, '0')}` : c));
        const prefixes = new Set<string>();
        let acc = '';
        for (const unit of whole) prefixes.add((acc += unit));
        expect(prefixes.has(head)).toBe(true);
        const suffixes = new Set<string>();
        acc = '';
        for (const unit of whole.reverse()) suffixes.add((acc = unit + acc));
        expect(suffixes.has(tail)).toBe(true);
      }
    }
  });
});
