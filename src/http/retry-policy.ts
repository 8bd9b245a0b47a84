// Retry policy as data and pure functions: Retry-After parsing and the capped, jittered backoff.

/**
 * Milliseconds a `Retry-After` value asks for: delta-seconds or an HTTP date.
 * Returns undefined for a missing, past or unparsable value, so the caller falls back to backoff.
 * @example parseRetryAfter('120', Date.now()) === 120000
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = parseHttpDate(trimmed);
  if (Number.isNaN(at)) return undefined;
  const wait = at - nowMs;
  return wait > 0 ? wait : undefined;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAME = '(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6}';
const TIME = '(\\d{1,2}):(\\d{2}):(\\d{2})';
// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`), read
// leniently: the day name and its comma may be missing, spaces vary, and the zone may be missing
// (GMT), another name of GMT, or a numeric offset.
const DAY_MONTH_YEAR = new RegExp(`^(?:${DAY_NAME},?\\s*)?(\\d{1,2})[\\s-]+([a-z]{3})[\\s-]+(\\d{4}|\\d{2})\\s+${TIME}(?:\\s*(?:gmt|utc|ut|z|([+-])(\\d{2}):?(\\d{2})))?$`, 'i');
// asctime (`Sun Nov  6 08:49:37 1994`), which names no zone: GMT.
const ASCTIME = new RegExp(`^${DAY_NAME}\\s+([a-z]{3})\\s+(\\d{1,2})\\s+${TIME}\\s+(\\d{4})$`, 'i');

/**
 * An HTTP date (RFC 9110 §5.6.7) as milliseconds since the epoch, or NaN. Only its three forms are
 * dates, all GMT: `Date.parse` took any text with a year in it (`soon 2030`) for a date, and read a
 * date without a zone (the asctime form) in the machine's local time zone.
 * @example parseHttpDate('Sun Nov  6 08:49:37 1994') === Date.UTC(1994, 10, 6, 8, 49, 37)
 */
export function parseHttpDate(text: string): number {
  const fixed = DAY_MONTH_YEAR.exec(text);
  if (fixed !== null) {
    const [, day, month, year, hours, minutes, seconds, sign, offsetHours, offsetMinutes] = fixed;
    const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
    return utc(year!, month!, day!, hours!, minutes!, seconds!) - offset;
  }
  const asctime = ASCTIME.exec(text);
  if (asctime === null) return Number.NaN;
  const [, month, day, hours, minutes, seconds, year] = asctime;
  return utc(year!, month!, day!, hours!, minutes!, seconds!);
}

/** The moment named by these fields (GMT), or NaN when they name none (31 Feb, 25:00). */
function utc(yearText: string, monthName: string, dayText: string, hoursText: string, minutesText: string, secondsText: string): number {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  const [day, hours, minutes, seconds] = [dayText, hoursText, minutesText, secondsText].map(Number) as [number, number, number, number];
  let year = Number(yearText);
  // RFC 850's two-digit year: the most recent year with those digits, not more than 50 years ahead.
  if (yearText.length === 2) year += 2000 + year > new Date().getUTCFullYear() + 50 ? 1900 : 2000;
  if (month < 0 || day < 1 || hours > 23 || minutes > 59 || seconds > 60) return Number.NaN;
  // The day is checked before the time is added: a leap second (23:59:60) is the next day's first.
  const dayStart = Date.UTC(year, month, day);
  if (new Date(dayStart).getUTCDate() !== day) return Number.NaN;
  return dayStart + ((hours * 60 + minutes) * 60 + seconds) * 1000;
}

/**
 * The wait before retry `k` (1-based): min(cap, base × 2^(k−1)) × a factor in [0.5, 1].
 * @example backoffDelay(1, 500, 30000, () => 1) === 500
 */
export function backoffDelay(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const raw = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return raw * (0.5 + 0.5 * random());
}

/** The wait the server asked for, capped; or the backoff when it asked for none. */
export function retryWait(retry: number, retryAfterMs: number | undefined, baseMs: number, capMs: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, capMs);
  return backoffDelay(retry, baseMs, capMs);
}
