// The end-of-run summary, the -q failure lines and the -v per-URL lines, plus the number formats they share.
import type {ChalkInstance} from 'chalk';
import type {FetchRecord} from '../record.js';
import {escapeText, redactWholeUrl, safeUrl} from './escape.js';
import type {FailureInfo, RunStats} from './stats.js';

const BYTE_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB'] as const;

/**
 * Bytes for people: `B` below 1000, else kB/MB/GB/TB/PB (powers of 1000) with one decimal.
 *
 * @example
 * formatBytes(999)        // → '999 B'
 * formatBytes(12_400_000) // → '12.4 MB'
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1000) return `${Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0} B`;
  let value = n / 1000;
  let unit = 0;
  // Compare the rounded value, so 999_960 bytes reads "1.0 MB", not "1000.0 kB".
  while (unit < BYTE_UNITS.length - 1 && Math.round(value * 10) >= 10_000) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${BYTE_UNITS[unit] ?? 'PB'}`;
}

/**
 * A duration for people: `350ms`, `3.2s`, `2m05s`, `1h02m`.
 *
 * @example
 * formatDuration(3210)    // → '3.2s'
 * formatDuration(125_000) // → '2m05s'
 */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) ? Math.max(0, ms) : 0;
  if (Math.round(safe) < 1000) return `${Math.round(safe)}ms`;
  if (Math.round(safe / 100) < 600) return `${(safe / 1000).toFixed(1)}s`;
  const seconds = Math.round(safe / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * A whole number with `,` every three digits, the same in every locale.
 *
 * @example formatCount(1234567) // → '1,234,567'
 */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A per-second rate: one decimal below 100, whole (with `,`) from 100 on.
 *
 * @example
 * formatRate(37.52) // → '37.5'
 * formatRate(2450)  // → '2,450'
 */
export function formatRate(perSecond: number): string {
  const safe = Number.isFinite(perSecond) ? Math.max(0, perSecond) : 0;
  return safe < 99.95 ? safe.toFixed(1) : formatCount(safe);
}

/** `count` per second over `elapsedMs`, 0 before any time has passed. */
export function ratePerSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
}

/** The part after the URL in a failure line: `404 Not Found (http_status)`, `timeout: no byte …`. */
function failureDetail(failure: Pick<FailureInfo, 'code' | 'status' | 'message'>): string {
  const message = safeUrl(failure.message);
  if (failure.code === 'http_status') {
    return `${message === '' ? String(failure.status ?? '') : message} (http_status)`.trimStart();
  }
  if (failure.code === null) return message === '' ? 'failed' : message;
  return message === '' ? failure.code : `${failure.code}: ${message}`;
}

function failureText(failure: Pick<FailureInfo, 'url' | 'code' | 'status' | 'message'>, chalk: ChalkInstance): string {
  return `${chalk.red('FAIL')} ${shownUrl(failure.url)} — ${failureDetail(failure)}`;
}

/**
 * One failed URL as a single safe line (no indent, no newline): what `-q` prints, and what the summary
 * lists (indented). URL and message are redacted and escaped.
 *
 * @example
 * formatFailureLine(record, chalk) // → 'FAIL https://x/y — 404 Not Found (http_status)'
 */
export function formatFailureLine(record: FetchRecord, chalk: ChalkInstance): string {
  return failureText(
    {url: record.url, code: record.error?.code ?? null, status: record.status, message: record.error?.message ?? ''},
    chalk,
  );
}

/**
 * One line per completed URL for `-v`: outcome, status, bytes, duration, URL, and the file or the error.
 *
 * @example
 * formatVerboseLine(record, chalk)
 * // → 'OK   200    1.2 kB   35ms https://a.test/x → out/x'
 * // → 'FAIL 404     162 B   12ms https://a.test/y — 404 Not Found (http_status)'
 * // → 'SKIP   -       0 B    0ms https://a.test/z → out/z'
 */
export function formatVerboseLine(record: FetchRecord, chalk: ChalkInstance): string {
  const tag = record.skipped ? chalk.yellow('SKIP') : record.ok ? chalk.green('OK  ') : chalk.red('FAIL');
  const status = (record.status === null ? '-' : String(record.status)).padStart(3);
  const bytes = formatBytes(record.bytes).padStart(9);
  const duration = formatDuration(record.duration_ms).padStart(6);
  let line = `${tag} ${status} ${bytes} ${duration} ${shownUrl(record.url)}`;
  if (!record.ok) {
    line += ` — ${failureDetail({code: record.error?.code ?? null, status: record.status, message: record.error?.message ?? ''})}`;
  } else if (record.file !== null) {
    line += ` → ${escapeText(record.file)}`;
  }
  return line;
}

/**
 * The failure groups as `404 ×30, timeout ×4`, most frequent first (ties by key).
 *
 * @example formatFailureGroups(stats) // → '404 ×2, timeout ×1'
 */
export function formatFailureGroups(stats: RunStats): string {
  return [...stats.failureGroups]
    .sort(([keyA, a], [keyB, b]) => b - a || (keyA < keyB ? -1 : keyA > keyB ? 1 : 0))
    .map(([key, count]) => `${escapeText(key)} ×${formatCount(count)}`)
    .join(', ');
}

/**
 * The summary printed at the end unless `-q`, as lines without newlines:
 * the counts line; then, when anything failed, the grouped line, one line per listed failure (the first
 * 20) and `… and N more`. When the total was known and some entries never got a record (the run
 * stopped), the counts line says how many were not started; `stopped` (what stopped the run) ends it.
 *
 * @example
 * formatSummary(stats, chalk, performance.now())
 * // → ['fetchall: 120 URLs in 3.2s — 117 ok, 3 failed, 0 skipped · 12.4 MB · 37.5 URLs/s',
 * //    'failures: 404 ×2, timeout ×1',
 * //    '  FAIL https://x/y — 404 Not Found (http_status)', …]
 */
export function formatSummary(stats: RunStats, chalk: ChalkInstance, now: number, stopped?: string): string[] {
  const elapsed = stats.elapsedMs(now);
  const counts = [
    chalk.green(`${formatCount(stats.ok)} ok`),
    stats.failed > 0 ? chalk.red(`${formatCount(stats.failed)} failed`) : `${formatCount(stats.failed)} failed`,
    stats.skipped > 0 ? chalk.yellow(`${formatCount(stats.skipped)} skipped`) : `${formatCount(stats.skipped)} skipped`,
  ];
  if (stats.total !== null && stats.done < stats.total) {
    counts.push(chalk.yellow(`${formatCount(stats.total - stats.done)} not started`));
  }
  const urls = `${formatCount(stats.done)} ${stats.done === 1 ? 'URL' : 'URLs'}`;
  const lines = [
    `${chalk.bold('fetchall:')} ${urls} in ${formatDuration(elapsed)} — ${counts.join(', ')}` +
      ` · ${formatBytes(stats.bytes)} · ${formatRate(ratePerSecond(stats.done, elapsed))} URLs/s` +
      (stopped === undefined ? '' : ` · ${chalk.yellow(stopped)}`),
  ];
  if (stats.failed === 0) return lines;
  lines.push(`${chalk.red('failures:')} ${formatFailureGroups(stats)}`);
  for (const failure of stats.failures) lines.push(`  ${failureText(failure, chalk)}`);
  const more = stats.failedCount - stats.failures.length;
  if (more > 0) lines.push(`  … and ${formatCount(more)} more`);
  return lines;
}

// A URL of 100 kB (a hostile or generated list) would flood the terminal: show its head and tail.
const SHOWN_URL_CHARS = 300;

/** A URL as shown on stderr: escaped, password masked, and cut in the middle past 300 characters. */
export function shownUrl(url: string): string {
  const redacted = redactWholeUrl(url);
  if (redacted.length <= SHOWN_URL_CHARS) {
    const safe = escapeText(redacted);
    if (safe.length <= SHOWN_URL_CHARS) return safe;
  }
  // Cut between whole characters, each escaped on its own: never half a surrogate pair (a U+FFFD on
  // screen) nor half of an escape like `\u202e`. Only the ends can be shown, and an escape only makes
  // a character longer: split and escape SHOWN_URL_CHARS at each end, not the megabytes between (a
  // 16 MiB URL took 9 s and 500 MB per line on stderr).
  const head = fitChars(Array.from(redacted.slice(0, SHOWN_URL_CHARS), (char) => escapeText(char)), SHOWN_URL_CHARS - 60);
  const tail = fitChars(Array.from(redacted.slice(-SHOWN_URL_CHARS), (char) => escapeText(char)).reverse(), 59);
  return `${head.join('')}…${tail.reverse().join('')}`;
}

/** The leading pieces whose lengths add up to at most `width`. */
function fitChars(pieces: string[], width: number): string[] {
  let used = 0;
  let count = 0;
  while (count < pieces.length && used + pieces[count]!.length <= width) used += pieces[count++]!.length;
  return pieces.slice(0, count);
}
