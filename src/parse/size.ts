// Parses a size flag value (`500000`, `10MB`, `1.5GiB`) into a whole number of bytes.

import {UsageError} from '../errors.js';

const SIZE = /^(\d+(?:\.\d+)?|\.\d+)(kB|KB|MB|GB|KiB|MiB|GiB)?$/;

const UNIT_BYTES: Readonly<Record<string, number>> = {
  kB: 1000,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/**
 * Parses a `SIZE` value: a number > 0 of bytes, or with `kB`/`KB`, `MB`, `GB` (powers of 1000) or `KiB`,
 * `MiB`, `GiB` (powers of 1024), exactly the contract's grammar. Units are case-sensitive. The result is
 * floored to whole bytes: a body "larger than 0.5 bytes" is one of 1 byte or more, as it is for 0.
 * Throws a {@link UsageError} naming `flag` for anything else.
 *
 * @example
 * parseSize('10MB', '--max-size');   // 10000000
 * parseSize('1.5KiB', '--max-size'); // 1536
 * parseSize('0.5', '--max-size');    // 0: only empty bodies pass
 * parseSize('0', '--max-size');      // throws: --max-size must be a size above 0 like … (got "0")
 */
export function parseSize(text: string, flag: string): number {
  const match = SIZE.exec(text);
  const amount = match === null ? Number.NaN : Number(match[1]) * (UNIT_BYTES[match[2] ?? ''] ?? 1);
  const bytes = Math.floor(amount);
  if (amount > 0 && bytes > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(`${flag} is too large: at most ${Number.MAX_SAFE_INTEGER} bytes, about 8 PiB (got ${JSON.stringify(text)})`);
  }
  if (!(amount > 0) || !Number.isSafeInteger(bytes)) {
    throw new UsageError(
      `${flag} must be a size above 0 like 500000, 64kB, 10MB or 1.5GiB (got ${JSON.stringify(text)})`,
    );
  }
  return bytes;
}
