// Parses a `--rate` value (`10`, `10/s`, `600/m`, `3600/h`) into requests per second.

import {UsageError} from '../errors.js';

const RATE = /^(\d+(?:\.\d+)?|\.\d+)(?:\/(s|m|h))?$/;

const PER_SECONDS: Readonly<Record<string, number>> = {s: 1, m: 60, h: 3600};

/**
 * Parses a start rate: a number > 0 per second, or per `s`, `m` or `h` after a slash.
 * Throws a {@link UsageError} naming `flag` for 0, a negative number or any other form.
 *
 * @example
 * parseRate('10', '--rate');    // 10
 * parseRate('600/m', '--rate'); // 10
 * parseRate('1/h', '--rate');   // 0.000277…
 * parseRate('0', '--rate');     // throws: --rate must be a number of requests above 0 like … (got "0")
 */
export function parseRate(text: string, flag: string): number {
  const match = RATE.exec(text);
  const amount = match?.[1];
  const perSecond = match === null || amount === undefined ? Number.NaN : Number(amount) / (PER_SECONDS[match[2] ?? 's'] ?? 1);
  if (!Number.isFinite(perSecond) || perSecond <= 0) {
    throw new UsageError(
      `${flag} must be a number of requests above 0 like 10, 10/s, 600/m or 3600/h (got ${JSON.stringify(text)})`,
    );
  }
  return perSecond;
}
