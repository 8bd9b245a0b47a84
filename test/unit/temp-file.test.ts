// TempFile directly: a failed batch write fails the flush (no partial file takes a final name),
// at most two batches are held, and the file is opened exclusively (never through a planted symlink).
import {existsSync} from 'node:fs';
import {readdir, readFile, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {afterAll, afterEach, describe, expect, it, vi} from 'vitest';
import type {Entry} from '../../src/record.js';
import {FileSink} from '../../src/sinks/file-sink.js';
import {StdoutSink} from '../../src/sinks/stdout-sink.js';
import {TempFile} from '../../src/sinks/temp-file.js';
import {cleanupTemp, makeTempDir} from '../helpers/cli.js';

// Every FileHandle that TempFile opens writes through this switch: set, each writev fails with it (a full disk).
// `shortOnce`: the next writev writes only the first half of its bytes (a short write, as a nearly full disk or a signal may cause).
// `shortSyncOnce`: the same for the next writevSync (a held body's write at commit).
// `emfileSyncOnce`: the next openSync of a temporary file fails with EMFILE (no descriptor left right now).
const disk = vi.hoisted(() => ({failure: undefined as NodeJS.ErrnoException | undefined, shortOnce: false, shortSyncOnce: false, emfileSyncOnce: false}));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const writevSync = (fd: number, buffers: readonly NodeJS.ArrayBufferView[], position?: number | null): number => {
    if (!disk.shortSyncOnce) return actual.writevSync(fd, buffers, position ?? undefined);
    disk.shortSyncOnce = false;
    const bytes = Buffer.concat(buffers as Buffer[]);
    return actual.writeSync(fd, bytes, 0, Math.floor(bytes.length / 2), position);
  };
  const openSync = (...args: Parameters<typeof actual.openSync>): number => {
    if (disk.emfileSyncOnce && String(args[0]).endsWith('.fetchall-tmp')) {
      disk.emfileSyncOnce = false;
      throw Object.assign(new Error('EMFILE: too many open files, open'), {code: 'EMFILE'});
    }
    return actual.openSync(...args);
  };
  return {...actual, writevSync, openSync, default: {...actual, writevSync, openSync}};
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof actual.open>) => {
    const handle = await actual.open(...args);
    return new Proxy(handle, {
      get(target, key) {
        if (key === 'writev' && disk.failure !== undefined) {
          const failure = disk.failure;
          return () => Promise.reject(failure);
        }
        if (key === 'writev' && disk.shortOnce) {
          disk.shortOnce = false;
          return async (buffers: Buffer[], position: number) => {
            const bytes = Buffer.concat(buffers);
            const half = Math.floor(bytes.length / 2);
            await target.write(bytes, 0, half, position);
            return {bytesWritten: half, buffers};
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return {...actual, open, default: {...actual, open}};
});

afterAll(cleanupTemp);
afterEach(() => {
  disk.failure = undefined;
  disk.shortOnce = false;
  disk.shortSyncOnce = false;
  disk.emfileSyncOnce = false;
});

const entry: Entry = {index: 1, url: 'http://a.test/x', target: new URL('http://a.test/x')};
const MIB = 1024 * 1024;

function noSpace(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'});
}

describe('TempFile', () => {
  it('a batch that fails to write fails the flush, even with nothing left pending', async () => {
    const dir = await makeTempDir();
    const file = new TempFile(join(dir, '.a.tmp'));
    disk.failure = noSpace();
    // A full batch starts writing in the background at once; its failure must not be lost.
    expect(file.write(Buffer.alloc(MIB, 1))).toBeUndefined();
    await expect(file.flush()).rejects.toMatchObject({code: 'ENOSPC'});
    await file.remove();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a streamed body whose last batch fails to write never takes its final name, and leaves no temporary file', async () => {
    const dir = await makeTempDir();
    const target = new FileSink(dir).open(entry, 'big.bin');
    // 2,000,000 bytes: past the 256 KiB held in memory, so one 1 MiB batch is written while streaming
    // and the rest waits for the commit's flush, which is where the disk fills up.
    for (let left = 2_000_000; left > 0; left -= 65_536) {
      const pending = target.write(Buffer.alloc(Math.min(65_536, left), 7));
      if (pending !== undefined) await pending;
    }
    disk.failure = noSpace();
    const error = await Promise.resolve(target.commit()).catch((e: unknown) => e);
    expect(error).toMatchObject({code: 'ENOSPC'});
    expect(await readdir(dir)).toEqual([]);
  });

  it('a short write is completed at the right position: the file holds every byte, in order', async () => {
    const dir = await makeTempDir();
    const path = join(dir, '.d.tmp');
    const file = new TempFile(path);
    const body = Buffer.from(Array.from({length: 3 * 1024 + 7}, (_, i) => i % 251));
    // Several small chunks, one writev: its first half is written, the rest must follow at its offset.
    for (let at = 0; at < body.length; at += 1024) file.write(body.subarray(at, at + 1024));
    disk.shortOnce = true;
    await file.close();
    expect(disk.shortOnce).toBe(false);
    expect((await readFile(path)).equals(body)).toBe(true);
  });

  it.each([
    ['written short at commit is completed', 'shortSyncOnce'],
    ['that finds no descriptor free at commit is saved whole the streaming way, which waits for one', 'emfileSyncOnce'],
  ] as const)('a held body %s: the final file holds every byte, in order, and nothing else is left', async (_what, fault) => {
    const dir = await makeTempDir();
    const target = new FileSink(dir).open(entry, 'held.bin');
    const body = Buffer.from(Array.from({length: 10_007}, (_, i) => i % 251));
    for (let at = 0; at < body.length; at += 1000) target.write(body.subarray(at, at + 1000));
    disk[fault] = true;
    expect(await target.commit()).toBe(join(dir, 'held.bin'));
    expect(disk[fault]).toBe(false);
    expect((await readFile(join(dir, 'held.bin'))).equals(body)).toBe(true);
    expect(await readdir(dir)).toEqual(['held.bin']);
  });

  it('a spooled stdout body that finds no descriptor free to be read back synchronously is replayed whole the waiting way', async () => {
    const dir = await makeTempDir();
    const written: Buffer[] = [];
    const sink = new StdoutSink({write: (chunk) => void written.push(Buffer.from(chunk))}, {memoryBudget: 1, spillDir: dir});
    const target = sink.open(entry, undefined);
    const body = Buffer.from(Array.from({length: 300_007}, (_, i) => i % 251));
    for (let at = 0; at < body.length; at += 65_536) {
      const pending = target.write(body.subarray(at, at + 65_536));
      if (pending !== undefined) await pending;
    }
    await target.commit();
    disk.emfileSyncOnce = true;
    await target.publish?.();
    expect(disk.emfileSyncOnce).toBe(false);
    expect(Buffer.concat(written).equals(body)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('holds at most two batches: a write while one batch is still being written asks the caller to wait', async () => {
    const dir = await makeTempDir();
    const path = join(dir, '.b.tmp');
    const file = new TempFile(path);
    // The first full batch starts writing; the second fills while it is in flight, and must not start a third write.
    expect(file.write(Buffer.alloc(MIB, 1))).toBeUndefined();
    const second = file.write(Buffer.alloc(MIB, 2));
    expect(second).toBeInstanceOf(Promise);
    await second;
    await file.close();
    const bytes = await readFile(path);
    expect(bytes.length).toBe(2 * MIB);
    expect(bytes[0]).toBe(1);
    expect(bytes[MIB - 1]).toBe(1);
    expect(bytes[MIB]).toBe(2);
    expect(bytes[2 * MIB - 1]).toBe(2);
  });

  it('is opened exclusively: a symlink planted at its name is not followed, and what it leads to is untouched', async () => {
    const dir = await makeTempDir();
    const outside = join(await makeTempDir(), 'victim.txt');
    await writeFile(outside, 'keep\n');
    const path = join(dir, '.c.tmp');
    await symlink(outside, path);
    const file = new TempFile(path);
    file.write(Buffer.from('planted\n'));
    await expect(file.flush()).rejects.toMatchObject({code: 'EEXIST'});
    expect(await readFile(outside, 'utf8')).toBe('keep\n');
  });

  it('an open that failed made nothing: removing leaves the file that held the name (someone else\'s) where it is', async () => {
    const dir = await makeTempDir();
    const path = join(dir, '.d.tmp');
    await writeFile(path, 'another process\n');
    const file = new TempFile(path);
    file.write(Buffer.from('mine\n'));
    await expect(file.flush()).rejects.toMatchObject({code: 'EEXIST'});
    await file.remove();
    file.removeSync();
    expect(await readFile(path, 'utf8')).toBe('another process\n');
    // A file this one made is removed, by either way.
    for (const how of ['remove', 'removeSync'] as const) {
      const mine = new TempFile(join(dir, `.${how}.tmp`));
      mine.write(Buffer.from('mine\n'));
      await mine.flush();
      if (how === 'remove') await mine.remove();
      else mine.removeSync();
      expect(existsSync(mine.path)).toBe(false);
    }
  });
});
