// Parses a duration flag value (`500ms`, `1.5s`, `2m`, `1h`, bare seconds) into milliseconds.

import {UsageError} from '../errors.js';

/**
 * The longest duration accepted, in milliseconds: Node's timers fire at once (with a warning) for
 * anything above 2^31 − 1 ms (about 24.8 days), so a longer value would silently mean "now".
 */
export const MAX_DURATION_MS = 2_147_483_647;

const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/;

const UNIT_MS: Readonly<Record<string, number>> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000};

/**
 * Parses a `DUR` value: a number ≥ 0 (decimals allowed) with `ms`, `s`, `m` or `h`, or bare seconds.
 * `0` is allowed (it disables a timeout). Throws a {@link UsageError} naming `flag` for anything else,
 * including a sign, white space, an exponent or a value beyond {@link MAX_DURATION_MS}.
 *
 * @example
 * parseDuration('1.5s', '--timeout'); // 1500
 * parseDuration('10', '--timeout');   // 10000 (bare seconds)
 * parseDuration('abc', '--timeout');  // throws: --timeout must be a duration like 500ms, 10s, 2m or 1h (got "abc")
 */
export function parseDuration(text: string, flag: string): number {
  const match = DURATION.exec(text);
  const amount = match?.[1];
  if (match === null || amount === undefined) {
    throw new UsageError(`${flag} must be a duration like 500ms, 10s, 2m or 1h (got ${JSON.stringify(text)})`);
  }
  const ms = Number(amount) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`${flag} must be a duration of at most 596h (about 24.8 days) (got ${JSON.stringify(text)})`);
  }
  return ms;
}
