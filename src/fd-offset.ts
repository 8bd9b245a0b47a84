// Where a descriptor stands in its file, read from Linux's /proc (nothing else tells Node).
import {readFileSync} from 'node:fs';

/**
 * The file offset of `fd` now, or undefined where that cannot be read (not Linux, or not a file).
 * @example offsetOf(0) // 12 after `(read header; fetchall) < urls.txt` consumed a 12-byte line
 */
export function offsetOf(fd: number): number | undefined {
  try {
    const match = /^pos:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}
