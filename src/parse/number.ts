// Parses whole-number flags (`--concurrency`, `--retries`, …) and `--max-failures N` or `N%`.

import {UsageError} from '../errors.js';

const WHOLE = /^\d+$/;
const PERCENT = /^(\d+(?:\.\d+)?|\.\d+)%$/;

/**
 * Parses a whole number from `min` to `max` (inclusive; `max` may be `Infinity`). Digits only: no sign,
 * no decimals, no white space. Throws a {@link UsageError} naming `flag` otherwise.
 *
 * @example
 * parseWholeNumber('8', '--concurrency', 1, 10_000);   // 8
 * parseWholeNumber('abc', '--concurrency', 1, 10_000); // throws: --concurrency must be a whole number from 1 to 10000 (got "abc")
 */
export function parseWholeNumber(text: string, flag: string, min: number, max: number): number {
  const value = WHOLE.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `of at least ${String(min)}` : `from ${String(min)} to ${String(max)}`;
    throw new UsageError(`${flag} must be a whole number ${range} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** How many failures `--max-failures` tolerates: a count of URLs, or a percentage of those finished. */
export type MaxFailures = {kind: 'count'; value: number} | {kind: 'percent'; value: number};

/**
 * Parses `--max-failures`: `N` (a whole number ≥ 0) or `N%` (a number from 0 to 100, decimals allowed).
 * Throws a {@link UsageError} naming `flag` otherwise.
 *
 * @example
 * parseMaxFailures('10', '--max-failures');   // {kind: 'count', value: 10}
 * parseMaxFailures('2.5%', '--max-failures'); // {kind: 'percent', value: 2.5}
 */
export function parseMaxFailures(text: string, flag: string): MaxFailures {
  const count = WHOLE.test(text) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(count)) {
    return {kind: 'count', value: count};
  }
  const percent = Number(PERCENT.exec(text)?.[1]);
  if (percent >= 0 && percent <= 100) {
    return {kind: 'percent', value: percent};
  }
  throw new UsageError(
    `${flag} must be a whole number like 10 or a percentage from 0 to 100 like 5% (got ${JSON.stringify(text)})`,
  );
}
