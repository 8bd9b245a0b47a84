// The progress line and the ticker: fixed inputs render fixed lines; the ticker throttles, clears and stays quiet when off.
import {afterEach, beforeEach, describe, expect, test, vi} from 'vitest';
import type {FetchRecord} from '../../src/record.js';
import {makeChalk} from '../../src/report/color.js';
import {ProgressTicker, renderPlainStatus, renderProgress, type ProgressStream} from '../../src/report/progress.js';
import {RunStats} from '../../src/report/stats.js';

const plain = makeChalk(0);

function record(index: number, overrides: Partial<FetchRecord> = {}): FetchRecord {
  const url = `https://a.test/${index}`;
  return {
    index, url, ok: true, status: 200, final_url: url, bytes: 0, duration_ms: 1, attempts: 1,
    file: null, skipped: false, sha256: null, error: null, ...overrides,
  };
}

/** 1,234 done of `total` after 5 s: 1,200 ok, 30 failed, 4 skipped, 1,225 requests, 12.3 MB. */
function fixedStats(total: number | null): RunStats {
  const stats = new RunStats({total, startedAt: 1000});
  for (let i = 1; i <= 1200; i++) stats.add(record(i, {bytes: i === 1 ? 12_300_000 : 0}));
  for (let i = 1201; i <= 1230; i++) stats.add(record(i, {ok: false, status: 404, error: {code: 'http_status', message: '404'}}));
  for (let i = 1231; i <= 1234; i++) stats.add(record(i, {skipped: true, status: null, attempts: 0}));
  stats.requestsStarted = 1225;
  return stats;
}
const NOW = 6000;

describe('renderProgress', () => {
  test('known total: counts, rate, bytes and ETA', () => {
    // 3,766 left at 1,234 per 5 s → 15.26 s → 16s (rounded up).
    expect(renderProgress(fixedStats(5000), NOW, 200, plain)).toBe(
      '[ 1,234/5,000 ] 1,200 ok · 30 failed · 4 skipped · 245 req/s · 12.3 MB (2.5 MB/s) · ETA 16s',
    );
  });

  test('unknown total: ? and no ETA', () => {
    expect(renderProgress(fixedStats(null), NOW, 200, plain)).toBe(
      '[ 1,234/? ] 1,200 ok · 30 failed · 4 skipped · 245 req/s · 12.3 MB (2.5 MB/s)',
    );
  });

  test('done count is padded to the width of the total', () => {
    const stats = new RunStats({total: 5000, startedAt: 0});
    stats.add(record(1));
    expect(renderProgress(stats, 1000, 200, plain)).toMatch(/^\[     1\/5,000 \] 1 ok /u);
  });

  test('nothing done yet: no ETA, no division by zero', () => {
    const stats = new RunStats({total: 10, startedAt: 0});
    expect(renderProgress(stats, 0, 200, plain)).toBe('[  0/10 ] 0 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s)');
  });

  test('ETA edges: 59 s is still seconds; an hour and a second rounds up to the next minute', () => {
    const stats = new RunStats({total: 2, startedAt: 0});
    stats.add(record(1));
    // One of two done after 59 s: 59 s to go.
    expect(renderProgress(stats, 59_000, 200, plain)).toMatch(/ · ETA 59s$/u);
    // After 3,601 s: 3,601 s to go, shown as whole minutes rounded up.
    expect(renderProgress(stats, 3_601_000, 200, plain)).toMatch(/ · ETA 1h01m$/u);
  });

  test('every entry done: no ETA (not "ETA 0s")', () => {
    const stats = new RunStats({total: 1, startedAt: 0});
    stats.add(record(1));
    expect(renderProgress(stats, 1000, 200, plain)).toBe('[ 1/1 ] 1 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s)');
  });

  test('a clock reading before the start counts as no time elapsed', () => {
    const stats = new RunStats({total: null, startedAt: 1000});
    expect(stats.elapsedMs(500)).toBe(0);
    expect(stats.elapsedMs(1500)).toBe(500);
  });

  test('ETA in minutes', () => {
    const stats = new RunStats({total: 100, startedAt: 0});
    stats.add(record(1));
    expect(renderProgress(stats, 1500, 200, plain)).toContain('ETA 2m29s');
  });

  test.each([
    [40, '[ 1,234/5,000 ] 1,200 ok · 30 failed · …'],
    [16, '[ 1,234/5,000 ] '],
    [10, '[ 1,234/5…'],
    [1, '…'],
    [0, ''],
  ])('cut to width %d', (width, expected) => {
    const line = renderProgress(fixedStats(5000), NOW, width, plain);
    expect(line).toBe(expected);
    expect(line.length).toBeLessThanOrEqual(width);
  });

  test.each([
    // The whole line is 91 columns; narrower, whole fields go, least useful first: the byte rate, the
    // request rate, the skipped count, the bytes. The counts and the ETA stay.
    [90, '[ 1,234/5,000 ] 1,200 ok · 30 failed · 4 skipped · 245 req/s · 12.3 MB · ETA 16s'],
    [77, '[ 1,234/5,000 ] 1,200 ok · 30 failed · 4 skipped · 12.3 MB · ETA 16s'],
    [60, '[ 1,234/5,000 ] 1,200 ok · 30 failed · 12.3 MB · ETA 16s'],
    [50, '[ 1,234/5,000 ] 1,200 ok · 30 failed · ETA 16s'],
  ])('narrower than the line (%d columns): fields are dropped before anything is cut', (width, expected) => {
    const line = renderProgress(fixedStats(5000), NOW, width, plain);
    expect(line).toBe(expected);
    expect(line.length).toBeLessThanOrEqual(width);
  });

  test('a zero skipped count is the first field to go', () => {
    const stats = new RunStats({total: 50, startedAt: 0});
    for (let i = 1; i <= 30; i++) stats.add(record(i, {bytes: 60_000}));
    stats.requestsStarted = 31;
    const full = renderProgress(stats, 4000, 200, plain);
    expect(full).toBe('[ 30/50 ] 30 ok · 0 failed · 0 skipped · 7.8 req/s · 1.8 MB (450.0 kB/s) · ETA 3s');
    expect(renderProgress(stats, 4000, full.length - 1, plain)).toBe('[ 30/50 ] 30 ok · 0 failed · 7.8 req/s · 1.8 MB (450.0 kB/s) · ETA 3s');
  });

  test('bytes still arriving count on the live line, not only finished records\' bytes', () => {
    const stats = new RunStats({total: 1, startedAt: 0});
    expect(renderProgress(stats, 2000, 200, plain)).toContain(' · 0 B (0 B/s)');
    stats.received = 4_000_000;
    expect(renderProgress(stats, 2000, 200, plain)).toContain(' · 4.0 MB (2.0 MB/s)');
    expect(renderPlainStatus(stats, 2000)).toContain(' · 4.0 MB (2.0 MB/s)');
    // The summary's count is the records'; where nobody counts live, the line shows that one.
    stats.add(record(1, {bytes: 5_000_000}));
    stats.received = 0;
    expect(renderProgress(stats, 2000, 200, plain)).toContain(' · 5.0 MB (2.5 MB/s)');
  });

  test('colour codes do not count towards the width', () => {
    const coloured = renderProgress(fixedStats(5000), NOW, 40, makeChalk(1));
    expect(coloured).toContain('\x1b[');
    expect(coloured.replace(/\x1b\[[\d;]*m/gu, '')).toBe(renderProgress(fixedStats(5000), NOW, 40, plain));
  });
});

describe('renderPlainStatus', () => {
  test.each([
    [5000, 'fetchall: progress 1,234/5,000 · 1,200 ok · 30 failed · 4 skipped · 245 req/s · 12.3 MB (2.5 MB/s) · ETA 16s'],
    [null, 'fetchall: progress 1,234/? · 1,200 ok · 30 failed · 4 skipped · 245 req/s · 12.3 MB (2.5 MB/s)'],
  ])('total %s', (total, expected) => {
    expect(renderPlainStatus(fixedStats(total), NOW)).toBe(expected);
  });
});

describe('ProgressTicker', () => {
  let writes: string[];
  let stream: ProgressStream;
  let clock: number;
  const now = (): number => clock;

  beforeEach(() => {
    vi.useFakeTimers();
    writes = [];
    clock = 0;
    stream = {
      isTTY: true,
      columns: 100,
      write: (chunk: string | Uint8Array) => {
        writes.push(String(chunk));
        return true;
      },
    } as unknown as ProgressStream;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  test('tty: draws at start, then at most once per 100 ms, only when the line changed', () => {
    const stats = new RunStats({total: 100, startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now});
    ticker.start();
    expect(writes).toEqual(['\r[   0/100 ] 0 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s)\x1b[K']);
    for (let i = 1; i <= 50; i++) {
      stats.add(record(i)); // many records between ticks…
      clock += 5;
      vi.advanceTimersByTime(5);
    }
    // …but only one redraw per 100 ms: 250 ms passed → ticks at 100 and 200 ms (40 done then).
    expect(writes).toHaveLength(3);
    expect(writes[2]).toMatch(/^\r\[  40\/100 \] 40 ok .*ETA 1s\x1b\[K$/u);
    for (const w of writes) expect(w.replace(/\x1b\[K$/u, '').length - 1).toBeLessThanOrEqual(99);
    // The next tick shows the last 10 records; after that nothing changes (same clock, same counts): no write.
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(4);
    expect(writes[3]).toMatch(/^\r\[  50\/100 \] 50 ok /u);
    vi.advanceTimersByTime(300);
    expect(writes).toHaveLength(4);
    ticker.stop();
  });

  test('tty: stop clears the line and stops the timer', () => {
    const stats = new RunStats({startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now});
    ticker.start();
    ticker.stop();
    expect(writes.at(-1)).toBe('\r\x1b[2K');
    expect(ticker.running).toBe(false);
    const count = writes.length;
    stats.add(record(1));
    clock += 1000;
    vi.advanceTimersByTime(1000);
    ticker.stop(); // twice is fine, and clears nothing more
    expect(writes).toHaveLength(count);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('tty: printAbove clears the bar, prints the line and redraws, in one write', () => {
    const stats = new RunStats({startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now});
    ticker.start();
    stats.add(record(1));
    ticker.printAbove('OK   200 https://a.test/1');
    expect(writes.at(-1)).toBe('\r\x1b[2KOK   200 https://a.test/1\n[ 1/? ] 1 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s)');
    ticker.stop();
    ticker.printAbove('after');
    expect(writes.slice(-2)).toEqual(['\r\x1b[2K', 'after\n']);
  });

  test('tty on TERM=dumb: no control sequence, a line is erased by spaces over it', () => {
    const stats = new RunStats({total: 100, startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now, dumb: true});
    ticker.start();
    const first = '[   0/100 ] 0 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s)';
    expect(writes).toEqual([`\r${first}`]);
    stats.add(record(1));
    ticker.printAbove('OK   200 https://a.test/1');
    const bar = writes.at(-1)!.split('\n')[1]!;
    expect(writes.at(-1)).toBe(`\r${' '.repeat(first.length)}\rOK   200 https://a.test/1\n${bar}`);
    ticker.stop();
    expect(writes.at(-1)).toBe(`\r${' '.repeat(bar.length)}\r`);
    for (const w of writes) expect(w).not.toMatch(/\x1b/);
  });

  test('tty: the line fits the stream\'s columns, with room left for an echoed ^C', () => {
    // Drawn to the last column but one, the `^C` a terminal echoes on Ctrl-C wrapped to a new row, and
    // the clear before the summary left the line above it on screen.
    stream.columns = 20;
    const ticker = new ProgressTicker({stream, stats: fixedStats(5000), chalk: plain, mode: 'tty', now});
    ticker.start();
    expect(writes[0]).toBe('\r[ 1,234/5,000 ] …\x1b[K');
    ticker.stop();
  });

  test.each([0, undefined])('tty: a terminal that reports %s columns is taken as 80 wide (77 drawn)', (columns) => {
    if (columns === undefined) delete stream.columns;
    else stream.columns = columns;
    const stats = fixedStats(5000);
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now});
    clock = NOW;
    ticker.start();
    const expected = renderProgress(stats, NOW, 77, plain);
    expect(expected.length).toBeLessThanOrEqual(77);
    expect(expected).not.toBe(renderProgress(stats, NOW, 200, plain));
    expect(writes[0]).toBe(`\r${expected}\x1b[K`);
    ticker.stop();
  });

  test('tty on TERM=dumb with colour: the erase covers the visible width only, not the colour codes', () => {
    const colour = makeChalk(1);
    const stats = new RunStats({total: 100, startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: colour, mode: 'tty', now, dumb: true});
    ticker.start();
    const drawn = writes[0]!.slice(1);
    expect(drawn).toMatch(/\x1b\[/u);
    const visible = drawn.replace(/\x1b\[[0-9;]*m/gu, '').length;
    ticker.stop();
    expect(writes.at(-1)).toBe(`\r${' '.repeat(visible)}\r`);
  });

  test('tty on TERM=dumb: a shorter line is padded with spaces over what the longer one left', () => {
    const stats = new RunStats({total: 2, startedAt: 0});
    stats.add(record(1));
    clock = 1000;
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'tty', now, dumb: true});
    ticker.start();
    const first = renderProgress(stats, 1000, 97, plain);
    expect(first).toContain('ETA');
    expect(writes).toEqual([`\r${first}`]);
    // The last entry done: the ETA goes, and the line gets shorter.
    stats.add(record(2));
    clock = 1100;
    vi.advanceTimersByTime(100);
    const second = renderProgress(stats, 1100, 97, plain);
    expect(second.length).toBeLessThan(first.length);
    expect(writes.at(-1)).toBe(`\r${second}${' '.repeat(first.length - second.length)}`);
    ticker.stop();
  });

  test('timers are unref\'d', () => {
    const unref = vi.fn();
    const spy = vi.spyOn(globalThis, 'setInterval').mockImplementation(
      () => ({unref, ref: vi.fn(), hasRef: () => false, refresh: vi.fn(), [Symbol.toPrimitive]: () => 1}) as unknown as NodeJS.Timeout,
    );
    const ticker = new ProgressTicker({stream, stats: new RunStats(), chalk: plain, mode: 'plain', now});
    ticker.start();
    expect(unref).toHaveBeenCalledOnce();
    spy.mockRestore();
  });

  test('plain: a status line every interval, nothing at start or stop', () => {
    const stats = new RunStats({total: 10, startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: makeChalk(1), mode: 'plain', now});
    ticker.start();
    expect(writes).toEqual([]);
    clock = 9999;
    vi.advanceTimersByTime(9999);
    expect(writes).toEqual([]);
    stats.add(record(1));
    clock = 10_000;
    vi.advanceTimersByTime(1);
    expect(writes).toEqual(['fetchall: progress 1/10 · 1 ok · 0 failed · 0 skipped · 0.0 req/s · 0 B (0 B/s) · ETA 1m30s\n']);
    clock = 20_000;
    vi.advanceTimersByTime(10_000);
    expect(writes).toHaveLength(2);
    ticker.printAbove('line');
    expect(writes.at(-1)).toBe('line\n');
    ticker.stop();
    vi.advanceTimersByTime(60_000);
    expect(writes).toHaveLength(3);
  });

  test('plain: intervalMs overrides the 10 s default', () => {
    const ticker = new ProgressTicker({stream, stats: new RunStats({startedAt: 0}), chalk: plain, mode: 'plain', intervalMs: 50, now});
    ticker.start();
    vi.advanceTimersByTime(120);
    expect(writes).toHaveLength(2);
    ticker.stop();
  });

  test('off: never writes, starts no timer', () => {
    const stats = new RunStats({startedAt: 0});
    const ticker = new ProgressTicker({stream, stats, chalk: plain, mode: 'off', now});
    ticker.start();
    expect(vi.getTimerCount()).toBe(0);
    stats.add(record(1));
    vi.advanceTimersByTime(60_000);
    ticker.redraw();
    ticker.clear();
    ticker.stop();
    expect(writes).toEqual([]);
    ticker.printAbove('v line');
    expect(writes).toEqual(['v line\n']);
  });
});
