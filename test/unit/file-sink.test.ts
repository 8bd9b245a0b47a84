// The file sink in-process: temp → rename, cleanup on every path, the temp-name pattern, containment re-checks.
import {existsSync} from 'node:fs';
import {lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {FetchallError, OutputError} from '../../src/errors.js';
import type {Entry} from '../../src/record.js';
import {FileSink, prepareOutputDir} from '../../src/sinks/file-sink.js';
import {makeFoldersSync} from '../../src/sinks/make-folders.js';
import {TEMP_SUFFIX, tempPathFor, uniqueSuffix} from '../../src/sinks/temp-file.js';
import {cleanupTemp, makeTempDir} from '../helpers/cli.js';

afterAll(cleanupTemp);

const TEMP_PATTERN = /^\..+\.[0-9a-f]{12}\.fetchall-tmp$/;
const entry: Entry = {index: 1, url: 'http://a.test/x', target: new URL('http://a.test/x')};

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, {recursive: true})).sort();
}

/** Write `bytes` in 64 KiB chunks, awaiting backpressure like the attempt does. */
async function feed(target: {write(chunk: Buffer): void | Promise<void>}, bytes: number, fill = 7): Promise<void> {
  for (let left = bytes; left > 0; left -= 65_536) {
    const pending = target.write(Buffer.alloc(Math.min(65_536, left), fill));
    if (pending !== undefined) await pending;
  }
}

describe('temporary file names', () => {
  it('are .NAME.RANDOM.fetchall-tmp beside the final file', () => {
    const path = tempPathFor('/out/sub/a.txt');
    expect(dirname(path)).toBe('/out/sub');
    expect(basename(path)).toMatch(/^\.a\.txt\.[0-9a-f]{12}\.fetchall-tmp$/);
    expect(path.endsWith(TEMP_SUFFIX)).toBe(true);
    expect(tempPathFor('/out/a.txt')).not.toBe(tempPathFor('/out/a.txt'));
  });

  it.each([
    ['ascii', 'a'.repeat(255)],
    ['4-byte characters', '😀'.repeat(63)],
    ['2-byte characters', 'é'.repeat(127)],
  ])('fit in 255 bytes and never split a character (%s)', (_kind, name) => {
    const temp = basename(tempPathFor(`/out/${name}`));
    expect(Buffer.byteLength(temp)).toBeLessThanOrEqual(255);
    expect(temp).not.toMatch(/\p{Cs}/u);
    expect(temp).toMatch(TEMP_PATTERN);
  });
});

describe('FileSink', () => {
  it('streams into a temporary file and renames it in on commit', async () => {
    const dir = await makeTempDir();
    const sink = new FileSink(join(dir, 'out'));
    const target = sink.open(entry, 'sub/a.bin');
    await feed(target, 3_000_000);
    const temps = (await tree(join(dir, 'out', 'sub'))).filter((n) => TEMP_PATTERN.test(n));
    expect(temps).toHaveLength(1);
    expect(existsSync(join(dir, 'out', 'sub', 'a.bin'))).toBe(false);
    expect(await target.commit()).toBe(join(dir, 'out', 'sub', 'a.bin'));
    expect((await readFile(join(dir, 'out', 'sub', 'a.bin'))).equals(Buffer.alloc(3_000_000, 7))).toBe(true);
    expect(await tree(join(dir, 'out'))).toEqual(['sub', 'sub/a.bin']);
    await sink.close();
  });

  it('makes a sub-folder, or DIR itself, again when it is removed during the run', async () => {
    const dir = await makeTempDir();
    const out = join(dir, 'out');
    const sink = new FileSink(out);
    const save = async (name: string, bytes: number): Promise<string | null> => {
      const target = sink.open(entry, name);
      await feed(target, bytes);
      return target.commit();
    };
    expect(await save('sub/a.bin', 10)).toBe(join(out, 'sub', 'a.bin'));
    await rm(join(out, 'sub'), {recursive: true});
    // Both ways a body is kept: held in memory, and streamed into its temporary file.
    expect(await save('sub/b.bin', 10)).toBe(join(out, 'sub', 'b.bin'));
    await rm(join(out, 'sub'), {recursive: true});
    expect(await save('sub/c.bin', 1_000_000)).toBe(join(out, 'sub', 'c.bin'));
    await rm(out, {recursive: true});
    expect(await save('d.bin', 10)).toBe(join(out, 'd.bin'));
    await rm(out, {recursive: true});
    expect(await save('sub/e.bin', 10)).toBe(join(out, 'sub', 'e.bin'));
    expect(await tree(out)).toEqual(['sub', 'sub/e.bin']);
    // DIR replaced by a file cannot be made again: fatal, as at the start.
    await rm(out, {recursive: true});
    await writeFile(out, 'not a folder');
    await expect(save('f.bin', 10)).rejects.toBeInstanceOf(OutputError);
    await sink.close();
  });

  it('DIR replaced during the run by a file, or by a symlink to elsewhere, is fatal: nothing is written there', async () => {
    for (const [name, replace] of [
      ['a.bin', 'file'], ['sub/a.bin', 'file'], ['a.bin', 'symlink'], ['sub/a.bin', 'symlink'],
    ] as const) {
      const dir = await makeTempDir();
      const out = join(dir, 'out');
      const elsewhere = join(dir, 'elsewhere');
      await mkdir(elsewhere);
      const sink = new FileSink(out);
      const save = async (file: string): Promise<string | null> => {
        const target = sink.open(entry, file);
        await feed(target, 10);
        return target.commit();
      };
      expect(await save(name)).toBe(join(out, name));
      // Removed, then something else in its place (a file may even get the folder's inode number).
      await rm(out, {recursive: true});
      if (replace === 'file') await writeFile(out, 'not a folder');
      else await symlink(elsewhere, out);
      await expect(save(name.replace('a.bin', 'b.bin'))).rejects.toBeInstanceOf(OutputError);
      expect(await tree(elsewhere)).toEqual([]);
      await sink.close();
    }
  });

  it('DIR given as a symlink and removed during the run is made again as a folder at the path given', async () => {
    const dir = await makeTempDir();
    await mkdir(join(dir, 'real'));
    const link = join(dir, 'link');
    await symlink(join(dir, 'real'), link);
    const sink = new FileSink(link);
    const save = async (file: string): Promise<string | null> => {
      const target = sink.open(entry, file);
      await feed(target, 10);
      return target.commit();
    };
    expect(await save('sub/a.bin')).toBe(join(link, 'sub', 'a.bin'));
    // The link goes: the path the user named is plain folders now, made by fetchall (it stopped with
    // exit 3 here, "it now leads to" that very path, after making it).
    await rm(link);
    expect(await save('sub/b.bin')).toBe(join(link, 'sub', 'b.bin'));
    expect((await lstat(link)).isDirectory()).toBe(true);
    expect(await tree(join(dir, 'real'))).toEqual(['sub', 'sub/a.bin']);
    await sink.close();
  });

  it('commits an empty body as an empty file', async () => {
    const dir = await makeTempDir();
    const sink = new FileSink(dir);
    expect(await sink.open(entry, 'empty').commit()).toBe(join(dir, 'empty'));
    expect(await readFile(join(dir, 'empty'), 'utf8')).toBe('');
  });

  it.each([
    ['streamed to its temporary file', 2_000_000],
    ['held in memory', 1000],
  ])('reset starts over from byte 0 (a body %s)', async (_kind, first) => {
    const dir = await makeTempDir();
    const target = new FileSink(dir).open(entry, 'r.bin');
    await feed(target, first, 1);
    await target.reset();
    expect(target.size).toBe(0);
    await feed(target, 1000, 2);
    await target.commit();
    expect((await readFile(join(dir, 'r.bin'))).equals(Buffer.alloc(1000, 2))).toBe(true);
  });

  it('discard, close and cleanupSync leave no temporary file and keep an old file', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'a.bin'), 'old');
    const sink = new FileSink(dir);
    const discarded = sink.open(entry, 'a.bin');
    await feed(discarded, 2_000_000);
    await discarded.discard();
    await discarded.discard();
    const closed = sink.open(entry, 'b.bin');
    await feed(closed, 2_000_000);
    await sink.close();
    const synced = new FileSink(dir);
    const killed = synced.open(entry, 'c.bin');
    // More than the two batches a temporary file holds before it asks to wait: the feed then waits for
    // the file itself to be open (with 2 MB it could end before a loaded machine had opened it).
    await feed(killed, 5_000_000);
    expect((await tree(dir)).filter((n) => TEMP_PATTERN.test(n))).toHaveLength(1);
    synced.cleanupSync();
    expect(await tree(dir)).toEqual(['a.bin']);
    expect(await readFile(join(dir, 'a.bin'), 'utf8')).toBe('old');
    // cleanupSync is for a process about to exit, which closes the descriptors itself; this one lives
    // on, so close the file's handle (else Node closes it on garbage collection, with a warning).
    await synced.close();
    expect(await tree(dir)).toEqual(['a.bin']);
  });

  it('fails as write when a directory stands at the final name, and removes its temporary file', async () => {
    const dir = await makeTempDir();
    await mkdir(join(dir, 'd.bin'));
    const target = new FileSink(dir).open(entry, 'd.bin');
    await feed(target, 100);
    // A held body commits synchronously, so its failure is thrown, not rejected.
    const error = await (async () => target.commit())().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FetchallError);
    expect((error as FetchallError).code).toBe('write');
    expect(await tree(dir)).toEqual(['d.bin']);
  });

  it('a held body opens its temporary file exclusively: a symlink planted at that name is not followed, nor renamed in', async () => {
    const dir = await makeTempDir();
    const victim = join(await makeTempDir(), 'victim.txt');
    await writeFile(victim, 'keep\n');
    // The next temporary name, worked out from this process's counter (the one a local attacker would guess).
    const current = uniqueSuffix();
    const next = current.slice(0, 6) + ((Number.parseInt(current.slice(6), 16) + 1) & 0xffffff).toString(16).padStart(6, '0');
    await symlink(victim, join(dir, `.a.txt.${next}${TEMP_SUFFIX}`));
    const target = new FileSink(dir).open(entry, 'a.txt');
    await feed(target, 100);
    const error = await (async () => target.commit())().catch((e: unknown) => e);
    expect((error as FetchallError).code).toBe('write');
    expect(await readFile(victim, 'utf8')).toBe('keep\n');
    expect(existsSync(join(dir, 'a.txt'))).toBe(false);
    // What held the name was not fetchall's to delete: it stays, as it was.
    expect((await lstat(join(dir, `.a.txt.${next}${TEMP_SUFFIX}`))).isSymbolicLink()).toBe(true);
  });

  it('a streamed body that cannot take its name (a directory there, or a protected file) leaves no temporary file', async () => {
    const dir = await makeTempDir();
    await mkdir(join(dir, 'd.bin'));
    await writeFile(join(dir, 'run.jsonl'), 'report\n');
    const sink = new FileSink(dir, {protect: [join(dir, 'run.jsonl')]});
    for (const name of ['d.bin', 'run.jsonl']) {
      const target = sink.open(entry, name);
      // Past the 256 KiB held in memory: this one streams into its temporary file. 3 MB fill a second
      // 1 MiB batch while the first is written, so the feed waits for the first: the file exists by then.
      await feed(target, 3_000_000);
      expect((await tree(dir)).filter((n) => TEMP_PATTERN.test(n))).toHaveLength(1);
      const error = await Promise.resolve(target.commit()).catch((e: unknown) => e);
      expect((error as FetchallError).code).toBe('write');
      expect(await tree(dir)).toEqual(['d.bin', 'run.jsonl']);
    }
    expect(await readFile(join(dir, 'run.jsonl'), 'utf8')).toBe('report\n');
  });

  /** DIR under a fresh root, a folder `outside` beside it, and a sink that already wrote `first` in DIR. */
  async function sinkWithOneFile(first: string) {
    const root = await makeTempDir();
    const dir = join(root, 'out');
    const outside = join(root, 'outside');
    await mkdir(outside);
    const sink = new FileSink(dir);
    const target = sink.open(entry, first);
    await feed(target, 10);
    await target.commit();
    return {root, dir, outside, sink};
  }

  it('fails as write, writing nothing outside, when a checked folder is later swapped for a symlink', async () => {
    const {dir, outside, sink} = await sinkWithOneFile('sub/a.bin');
    // The folder was made and checked for the first file; now it leads out of DIR.
    await rename(join(dir, 'sub'), join(dir, 'moved'));
    await symlink(outside, join(dir, 'sub'));
    for (const bytes of [10, 2_000_000]) {
      const next = sink.open(entry, `sub/b${bytes}.bin`);
      const error = await feed(next, bytes).then(() => next.commit()).catch((e: unknown) => e);
      expect((error as FetchallError).code).toBe('write');
      await next.discard();
    }
    expect(await readdir(outside)).toEqual([]);
    expect(await tree(join(dir, 'moved'))).toEqual(['a.bin']);
  });

  it('fails as write, writing nothing outside, when a checked folder is moved out of DIR and a symlink to it left in its place', async () => {
    // The same folder (same inode) reached through a symlink: its identity alone would pass. Moved
    // whole (`sub`), or one of the folders above it (`top` of `top/deep`).
    for (const [first, moved, next] of [['sub/a.bin', 'sub', 'sub'], ['top/deep/a.bin', 'top', 'top/deep']] as const) {
      const {dir, outside, sink} = await sinkWithOneFile(first);
      await rename(join(dir, moved), join(outside, moved));
      await symlink(join(outside, moved), join(dir, moved));
      for (const bytes of [10, 2_000_000]) {
        const target = sink.open(entry, `${next}/b${bytes}.bin`);
        const error = await feed(target, bytes).then(() => target.commit()).catch((e: unknown) => e);
        expect((error as FetchallError).code, `${next} ${bytes}`).toBe('write');
        await target.discard();
      }
      expect((await tree(join(outside, moved))).filter((n) => n.endsWith('.bin'))).toEqual([first.slice(moved.length + 1)]);
    }
  });

  it('a relative DIR whose working folder is moved, a symlink out left at its old path, is fatal: nothing is written there', async () => {
    const root = await makeTempDir();
    const home = process.cwd();
    await mkdir(join(root, 'r'));
    await mkdir(join(root, 'elsewhere'));
    process.chdir(join(root, 'r'));
    try {
      const sink = new FileSink('out');
      const first = sink.open(entry, 'a.bin');
      await feed(first, 10);
      await first.commit();
      // `out` read from the moved working folder is still the folder; the path files are written at
      // (the working folder as it was) now leads elsewhere.
      await rename(join(root, 'r'), join(root, 'r.moved'));
      await mkdir(join(root, 'r'));
      await symlink(join(root, 'elsewhere'), join(root, 'r', 'out'));
      const next = sink.open(entry, 'b.bin');
      const error = await feed(next, 10).then(() => next.commit()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutputError);
      expect(await readdir(join(root, 'elsewhere'))).toEqual([]);
    } finally {
      process.chdir(home);
    }
  });

  it('makes no new folder through a known folder since swapped for a symlink out of DIR', async () => {
    const {dir, outside, sink} = await sinkWithOneFile('sub/a.bin');
    await rename(join(dir, 'sub'), join(outside, 'sub'));
    await symlink(join(outside, 'sub'), join(dir, 'sub'));
    const next = sink.open(entry, 'sub/new/deeper/b.bin');
    const error = await feed(next, 10).then(() => next.commit()).catch((e: unknown) => e);
    expect((error as FetchallError).code).toBe('write');
    expect(await tree(join(outside, 'sub'))).toEqual(['a.bin']);
  });

  it('checks the folder again before a streamed body takes its name: a symlink planted meanwhile is refused', async () => {
    const {dir, outside, sink} = await sinkWithOneFile('sub/a.bin');
    const next = sink.open(entry, 'sub/big.bin');
    // Streaming: its temporary file is open in sub/ (held bodies are written only at the commit); 3 MB
    // fill a second 1 MiB batch while the first is written, so the feed waits until the file exists.
    await feed(next, 3_000_000);
    const [temp] = (await tree(join(dir, 'sub'))).filter((n) => TEMP_PATTERN.test(n));
    // While it streams, sub/ is swapped for a symlink out of DIR, to a folder holding the temporary file.
    await mkdir(join(outside, 'x'));
    await rename(join(dir, 'sub'), join(dir, 'moved'));
    await rename(join(dir, 'moved', temp!), join(outside, 'x', temp!));
    await symlink(join(outside, 'x'), join(dir, 'sub'));
    const error = await Promise.resolve(next.commit()).catch((e: unknown) => e);
    expect((error as FetchallError).code).toBe('write');
    expect(await readdir(join(outside, 'x'))).not.toContain('big.bin');
  });

  it('is fatal when DIR itself is swapped for a symlink after its first file (every file would fail)', async () => {
    const {root, dir, outside, sink} = await sinkWithOneFile('a.bin');
    // DIR was proven once (and remembered by identity); now its path leads elsewhere.
    await rename(dir, join(root, 'moved'));
    await symlink(outside, dir);
    const next = sink.open(entry, 'b.bin');
    const error = await feed(next, 10).then(() => next.commit()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputError);
    expect(await readdir(outside)).toEqual([]);
  });

  it('still refuses a swapped folder after more folders than its caches hold', async () => {
    const {dir, outside, sink} = await sinkWithOneFile('d0/a.bin');
    // Past 4,096 folders the caches start over: d0 is forgotten and must be checked again in full.
    for (let i = 1; i <= 4200; i++) {
      const target = sink.open(entry, `d${i}/a.bin`);
      await feed(target, 1);
      expect(await target.commit()).toBe(join(dir, `d${i}/a.bin`));
    }
    await rename(join(dir, 'd0'), join(dir, 'moved'));
    await symlink(outside, join(dir, 'd0'));
    const next = sink.open(entry, 'd0/b.bin');
    const error = await feed(next, 10).then(() => next.commit()).catch((e: unknown) => e);
    expect((error as FetchallError).code).toBe('write');
    expect(await readdir(outside)).toEqual([]);
  }, 30_000);

  it('refuses to start a body under a folder that is a symlink out of DIR', async () => {
    const root = await makeTempDir();
    const dir = join(root, 'out');
    await mkdir(join(root, 'outside'));
    await mkdir(dir);
    await symlink(join(root, 'outside'), join(dir, 'link'));
    const target = new FileSink(dir).open(entry, 'link/deep/a.bin');
    const error = await Promise.resolve(target.write(Buffer.from('x'))).then(() => target.commit()).catch((e: unknown) => e);
    expect((error as FetchallError).code).toBe('write');
    expect(await readdir(join(root, 'outside'))).toEqual([]);
  });
});

describe('prepareOutputDir', () => {
  it('creates DIR and leaves no probe behind', async () => {
    const dir = join(await makeTempDir(), 'a', 'b');
    prepareOutputDir(dir);
    expect(await readdir(dir)).toEqual([]);
  });

  it('throws an OutputError naming DIR when it cannot be created', async () => {
    const root = await makeTempDir();
    await writeFile(join(root, 'file'), '');
    const dir = join(root, 'file', 'sub');
    let error: unknown;
    try {
      prepareOutputDir(dir);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(OutputError);
    expect((error as OutputError).code).toBe('ENOTDIR');
    expect((error as OutputError).message).toContain(dir);
  });
});

// The /proc case (Node's own recursive mkdir loops forever there) is tested through the CLI, in a
// child process whose time is bounded: here a regression would hang the test worker.
describe('makeFoldersSync', () => {
  const codeOf = (dir: string): string | undefined => {
    try {
      makeFoldersSync(dir);
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code;
    }
  };

  it('makes every missing folder, and is a no-op on a folder that exists', async () => {
    const root = await makeTempDir();
    makeFoldersSync(join(root, 'a', 'b', 'c'));
    makeFoldersSync(join(root, 'a', 'b', 'c'));
    expect(await readdir(join(root, 'a', 'b'))).toEqual(['c']);
  });

  it('throws ENOTDIR for a file in the path and EEXIST for a file at the path itself', async () => {
    const root = await makeTempDir();
    await writeFile(join(root, 'file'), '');
    expect(codeOf(join(root, 'file', 'sub'))).toBe('ENOTDIR');
    expect(codeOf(join(root, 'file'))).toBe('EEXIST');
  });
});
