// What Linux's /proc tells of a descriptor that Node does not: where it stands in its file, how it was opened.
import {readFileSync} from 'node:fs';

/**
 * The file offset of `fd` now, or undefined where that cannot be read (not Linux, or not a file).
 * @example offsetOf(0) // 12 after `(read header; fetchall) < urls.txt` consumed a 12-byte line
 */
export function offsetOf(fd: number): number | undefined {
  const pos = fdinfoField(fd, 'pos');
  return pos === undefined ? undefined : Number(pos);
}

/**
 * Whether `fd` was opened for writing only (`fetchall - 0>file`): reading it fails with EBADF, which
 * Node's stream would report only once requests were under way. False where /proc cannot tell.
 */
export function isWriteOnly(fd: number): boolean {
  const flags = fdinfoField(fd, 'flags');
  // O_ACCMODE is the low two bits of the octal flags; O_WRONLY is 1.
  return flags !== undefined && (Number.parseInt(flags, 8) & 3) === 1;
}

function fdinfoField(fd: number, field: 'pos' | 'flags'): string | undefined {
  try {
    const match = new RegExp(`^${field}:\\s*(\\d+)$`, 'm').exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return match === null ? undefined : match[1];
  } catch {
    return undefined;
  }
}
