// Parses a size flag value (`500000`, `10MB`, `1.5GiB`) into a whole number of bytes.

import {UsageError} from '../errors.js';

const SIZE = /^(\d+(?:\.\d+)?|\.\d+)(B|kB|KB|MB|GB|KiB|MiB|GiB)?$/;

const UNIT_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1000,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/**
 * Parses a `SIZE` value: a number > 0 of bytes, or with `B`, `kB`/`KB`, `MB`, `GB` (powers of 1000) or
 * `KiB`, `MiB`, `GiB` (powers of 1024). Units are case-sensitive. The result is floored to whole bytes
 * and must be at least 1. Throws a {@link UsageError} naming `flag` for anything else.
 *
 * @example
 * parseSize('10MB', '--max-size');   // 10000000
 * parseSize('1.5KiB', '--max-size'); // 1536
 * parseSize('0', '--max-size');      // throws: --max-size must be a size above 0 like … (got "0")
 */
export function parseSize(text: string, flag: string): number {
  const match = SIZE.exec(text);
  const amount = match?.[1];
  const bytes = match === null || amount === undefined ? Number.NaN : Math.floor(Number(amount) * (UNIT_BYTES[match[2] ?? 'B'] ?? 1));
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `${flag} must be a size of at least 1 byte like 500000, 64kB, 10MB or 1.5GiB (got ${JSON.stringify(text)})`,
    );
  }
  return bytes;
}
