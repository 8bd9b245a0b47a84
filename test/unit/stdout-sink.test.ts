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
