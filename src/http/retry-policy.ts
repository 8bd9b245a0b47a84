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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * An HTTP date (RFC 9110 §5.6.7) as milliseconds since the epoch, or NaN. Every form is GMT:
 * `Date.parse` reads the asctime form (`Sun Nov  6 08:49:37 1994`), which names no zone, and any
 * other date without one, in the machine's local time zone instead.
 * @example parseHttpDate('Sun Nov  6 08:49:37 1994') === Date.UTC(1994, 10, 6, 8, 49, 37)
 */
export function parseHttpDate(text: string): number {
  const asctime = ASCTIME.exec(text);
  if (asctime !== null) {
    const [, month, day, hours, minutes, seconds, year] = asctime;
    const index = MONTHS.indexOf(month!);
    return index < 0 ? Number.NaN : Date.UTC(Number(year), index, Number(day), Number(hours), Number(minutes), Number(seconds));
  }
  const zoned = /(?:\b(?:GMT|UTC|UT|Z)|[+-]\d{2}:?\d{2})$/i.test(text);
  return Date.parse(zoned ? text : `${text} GMT`);
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
