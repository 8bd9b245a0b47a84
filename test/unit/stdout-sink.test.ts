// The stdout sink's spool files: whatever stage a body's removal is at, a synchronous cleanup deletes them.
import {readdirSync} from 'node:fs';
import {mkdtemp, readdir, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {OutputError} from '../../src/errors.js';
import type {Entry} from '../../src/record.js';
import {StdoutSink} from '../../src/sinks/stdout-sink.js';

const ENTRY = {index: 1, url: 'http://127.0.0.1/x'} as Entry;
let dir: string | undefined;

afterEach(async () => {
  if (dir !== undefined) await rm(dir, {recursive: true, force: true});
  dir = undefined;
});

describe('StdoutSink spool files', () => {
  it('cleanupSync deletes a spool file whose removal has begun but not finished (a second signal then)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    const sink = new StdoutSink({write: () => {}}, {memoryBudget: 1, spillDir: dir});
    const target = sink.open(ENTRY, undefined);
    await target.write(Buffer.alloc(64 * 1024, 1));
    await target.commit();
    expect(await readdir(dir)).toHaveLength(1);
    // The removal waits on its own steps; the process exits before they run.
    const discarding = target.discard();
    sink.cleanupSync();
    // Looked at at once, as the exit that follows would: no await lets the removal go on meanwhile.
    expect(readdirSync(dir)).toEqual([]);
    await discarding;
    expect(await readdir(dir)).toEqual([]);
  });

  it('a spool folder that is missing or refused stops the run (every spooled body would fail), naming the folder', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    for (const spillDir of [join(dir, 'missing'), join(dir, 'file')]) {
      if (spillDir.endsWith('file')) await writeFile(spillDir, 'x');
      const sink = new StdoutSink({write: () => {}}, {memoryBudget: 1, spillDir});
      const target = sink.open(ENTRY, undefined);
      // The file opens in the background: its failure comes at a later write or at the commit.
      const failure = await (async () => {
        await target.write(Buffer.alloc(1024, 1));
        await target.commit();
      })().then(() => undefined, (error: unknown) => error);
      expect(failure, spillDir).toBeInstanceOf(OutputError);
      expect((failure as Error).message).toContain(`a temporary spool file in ${spillDir}:`);
      await sink.close();
    }
  });

  it('a reset (the body starts over, as on a retry) removes the spool file it had: nothing is left in the spool folder', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    const sink = new StdoutSink({write: () => {}}, {memoryBudget: 1, spillDir: dir});
    const target = sink.open(ENTRY, undefined);
    // Mid-body: the first full 1 MiB batch is being written to the spool file; the next waits for it.
    await target.write(Buffer.alloc(1024 * 1024, 1));
    await target.write(Buffer.alloc(1024 * 1024, 1));
    expect(await readdir(dir)).toHaveLength(1);
    await target.reset();
    expect(await readdir(dir)).toEqual([]);
    // Written again, it spools afresh, and goes once published.
    await target.write(Buffer.alloc(1024, 2));
    await target.commit();
    expect(await readdir(dir)).toHaveLength(1);
    await target.publish?.();
    expect(await readdir(dir)).toEqual([]);
    await sink.close();
  });

  it('a spool folder missing mid-body stops the run at the next write too, not only at the commit', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    const spillDir = join(dir, 'missing');
    const sink = new StdoutSink({write: () => {}}, {memoryBudget: 1, spillDir});
    const target = sink.open(ENTRY, undefined);
    // A full 1 MiB batch starts writing (its file fails to open in the background); the next full
    // batch waits for it; the write after that meets the failure.
    await target.write(Buffer.alloc(1024 * 1024, 1));
    await target.write(Buffer.alloc(1024 * 1024, 2));
    const failure = await Promise.resolve(target.write(Buffer.alloc(1024, 3))).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(OutputError);
    expect((failure as Error).message).toContain(`a temporary spool file in ${spillDir}:`);
    await sink.close();
  });

  it('a spool file in the shared temp folder is readable by its owner only, whatever the umask, under a name not guessed from the last', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    const sink = new StdoutSink({write: () => {}}, {memoryBudget: 1, spillDir: dir});
    const targets = [sink.open(ENTRY, undefined), sink.open(ENTRY, undefined)];
    for (const target of targets) {
      await target.write(Buffer.alloc(1024, 1));
      await target.commit();
    }
    const names = (await readdir(dir)).sort();
    expect(names).toHaveLength(2);
    for (const name of names) expect(((await stat(join(dir, name))).mode & 0o777).toString(8)).toBe('600');
    // Not a counter: the two names differ before their last few digits.
    const randoms = names.map((name) => /^\.fetchall-\d+-([0-9a-f]{12})\.fetchall-tmp$/.exec(name)![1]!);
    expect(randoms[0]!.slice(0, 8)).not.toBe(randoms[1]!.slice(0, 8));
    await sink.close();
  });
});

describe('StdoutSink memory budget', () => {
  it('holds bodies in memory up to the run\'s budget (all bodies together), spools the one that would pass it, and frees what was published', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-spool-'));
    const written: Buffer[] = [];
    const sink = new StdoutSink({write: (chunk) => void written.push(chunk)}, {memoryBudget: 1000, spillDir: dir});
    const first = sink.open(ENTRY, undefined);
    const second = sink.open(ENTRY, undefined);
    await first.write(Buffer.alloc(600, 1));
    await second.write(Buffer.alloc(400, 2));
    // Exactly the budget: still all in memory.
    expect(await readdir(dir)).toEqual([]);
    await second.write(Buffer.alloc(1, 3));
    await second.commit();
    expect(await readdir(dir)).toHaveLength(1);
    await first.commit();
    await first.publish!();
    await second.publish!();
    expect(Buffer.concat(written).equals(Buffer.concat([Buffer.alloc(600, 1), Buffer.alloc(400, 2), Buffer.alloc(1, 3)]))).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    // Both bodies are out: the whole budget is free again.
    const third = sink.open(ENTRY, undefined);
    await third.write(Buffer.alloc(1000, 4));
    await third.commit();
    expect(await readdir(dir)).toEqual([]);
    await sink.close();
  });
  it('publishes one body after another, never interleaved, even when the output makes each write wait', async () => {
    const written: string[] = [];
    // Every write is taken at once but asks the writer to wait a turn, as a full pipe does.
    const sink = new StdoutSink({write: (chunk) => {
      written.push(chunk.toString());
      return new Promise<void>((resolve) => setImmediate(resolve));
    }});
    const targets = ['a', 'b', 'c'].map((id) => {
      const target = sink.open(ENTRY, undefined);
      for (let i = 0; i < 3; i++) void target.write(Buffer.from(`${id}${i}`));
      return target;
    });
    await Promise.all(targets.map((target) => target.publish!()));
    expect(written).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']);
    await sink.close();
  });
});
