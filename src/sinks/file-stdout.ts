// stdout redirected to a file or a device: every byte written, or an error. Node's own stream for that
// case (SyncWriteStream) ignores a short write: on a disk that filled mid-body the rest of the body was
// dropped without an error, the body counted as written, and the run could exit 0 with a cut file.
import {fstatSync, ftruncateSync, writeSync} from 'node:fs';
import {isatty} from 'node:tty';
import {Writable} from 'node:stream';
import {offsetOf} from '../fd-info.js';

/** Whether `fd` is a regular file or a device other than a terminal: what Node writes with SyncWriteStream. */
export function isFileLike(fd: number): boolean {
  try {
    const stats = fstatSync(fd);
    return stats.isFile() || stats.isBlockDevice() || (stats.isCharacterDevice() && !isatty(fd));
  } catch {
    return false;
  }
}

/**
 * A Writable over `fd` that writes each chunk whole with writeSync, looping over short writes (the
 * next write then names the error: ENOSPC, EFBIG, EIO). A chunk that fails part-way is taken back
 * when the file ends where this descriptor stands, so the output never ends in a torn record.
 * @example const stdout = isFileLike(1) ? fileWritable(1) : process.stdout;
 */
export function fileWritable(fd: number): Writable & {isTTY: false} {
  const stream = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      let written = 0;
      try {
        while (written < chunk.length) written += writeSync(fd, chunk, written);
      } catch (error) {
        if (written > 0) takeBack(fd, written);
        callback(error as Error);
        return;
      }
      callback();
    },
  });
  return Object.assign(stream, {isTTY: false as const});
}

function takeBack(fd: number, bytes: number): void {
  try {
    const stats = fstatSync(fd);
    // Only at the file's end: a descriptor writing in the middle of a longer file (`1<>file`) would
    // cut someone else's bytes.
    if (stats.isFile() && offsetOf(fd) === stats.size) ftruncateSync(fd, stats.size - bytes);
  } catch {
    // the run fails with the write's own error either way
  }
}
