// Bodies to stdout: each held whole (memory, then a temporary file) until complete, then written in one piece.
import {randomBytes} from 'node:crypto';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Entry} from '../record.js';
import {TempFile, TEMP_SUFFIX, writeFailing} from './temp-file.js';
import type {BodySink, BodyTarget} from './types.js';

/** Where bodies go: the CLI passes its one StreamWriter over stdout. */
export interface ByteWriter {
  write(chunk: Buffer): Promise<void> | void;
  /** Resolves once every byte written so far is really out (rejects if the output failed first). */
  delivered?(): Promise<void>;
}

/** Bodies held in memory across the whole run before they spill to temporary files. */
export const DEFAULT_MEMORY_BUDGET = 32 * 1024 * 1024;

/**
 * Never writes a partial body and never interleaves two: a body is published only when complete,
 * and publishes run one after another.
 * @example const sink = new StdoutSink(new StreamWriter(process.stdout, 'standard output'));
 */
export class StdoutSink implements BodySink {
  readonly #out: ByteWriter;
  readonly #budget: number;
  readonly #spillDir: string;
  /** @internal How a spool file is named in errors: the folder is what a user can fix (TMPDIR). */
  readonly spoolWhat: string;
  readonly #live = new Set<SpoolTarget>();
  #used = 0;
  #chain: Promise<void> = Promise.resolve();
  #busy = 0;

  constructor(out: ByteWriter, options: {memoryBudget?: number; spillDir?: string} = {}) {
    this.#out = out;
    this.#budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
    this.#spillDir = options.spillDir ?? tmpdir();
    this.spoolWhat = `a temporary spool file in ${this.#spillDir}${options.spillDir === undefined ? ' (TMPDIR)' : ''}`;
  }

  open(_entry: Entry, _name: string | undefined): BodyTarget {
    const target = new SpoolTarget(this);
    this.#live.add(target);
    return target;
  }

  /** @internal Reserve memory for a chunk; false means spill to disk. */
  reserve(bytes: number): boolean {
    if (this.#used + bytes > this.#budget) return false;
    this.#used += bytes;
    return true;
  }

  /** @internal */ unreserve(bytes: number): void {
    this.#used -= bytes;
  }

  /**
   * @internal In a folder other users share: a name nobody can guess ahead (the run's counter names
   * would let one plant the next file, failing that body), asked of the kernel per spool file, which
   * only large bodies need.
   */
  spillPath(): string {
    return join(this.#spillDir, `.fetchall-${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  }

  /** @internal Serialise publishes: one body at a time on stdout. */
  enqueue(job: (out: ByteWriter) => Promise<void>): Promise<void> {
    this.#busy++;
    const run = this.#chain.then(() => job(this.#out)).finally(() => {
      this.#busy--;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** @internal True when no publish is queued or running: a body may be written right now. */
  get idle(): boolean {
    return this.#busy === 0;
  }

  /** @internal */ get out(): ByteWriter {
    return this.#out;
  }

  /** @internal */ forget(target: SpoolTarget): void {
    this.#live.delete(target);
  }

  cleanupSync(): void {
    for (const target of this.#live) target.removeSync();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#live].map((t) => t.discard()));
  }
}

class SpoolTarget implements BodyTarget {
  readonly #sink: StdoutSink;
  #chunks: Buffer[] = [];
  #memory = 0;
  #spill: TempFile | undefined;
  // A spool file being removed (its writes drained, then closed and unlinked).
  #removing: TempFile | undefined;

  constructor(sink: StdoutSink) {
    this.#sink = sink;
  }

  get size(): number {
    return this.#memory + (this.#spill?.size ?? 0);
  }

  write(chunk: Buffer): Promise<void> | void {
    if (this.#spill === undefined) {
      if (this.#sink.reserve(chunk.length)) {
        this.#chunks.push(chunk);
        this.#memory += chunk.length;
        return;
      }
      return this.#startSpill(chunk);
    }
    // Spooling: a promise only when the file asks to wait, like a file under -o.
    return this.#guard(this.#spill.write(chunk));
  }

  async #startSpill(chunk: Buffer): Promise<void> {
    // Readable by this user only: the body may be one only a token could fetch.
    const spill = new TempFile(this.#sink.spillPath(), {mode: 0o600});
    this.#spill = spill;
    for (const held of this.#chunks) await this.#guard(spill.write(held));
    this.#release();
    await this.#guard(spill.write(chunk));
  }

  #guard(pending: Promise<void> | void): Promise<void> | void {
    // Every spool file goes to one folder: one that is missing or refused would fail them all (fatal).
    return writeFailing(pending, this.#sink.spoolWhat, true);
  }

  async reset(): Promise<void> {
    this.#release();
    await this.#spill?.remove();
    this.#spill = undefined;
  }

  commit(stop?: AbortSignal): Promise<string | null> | null {
    if (this.#spill === undefined) return null;
    this.#spill.stopWaitingOn(stop);
    return writeFailing(this.#spill.close(), this.#sink.spoolWhat, true).then(() => null);
  }

  /** After publish: resolves once this body's bytes are really written to stdout (not only gathered). */
  delivered(): Promise<void> | undefined {
    return this.#sink.out.delivered?.();
  }

  publish(): Promise<void> | void {
    if (this.#spill === undefined && this.#sink.idle) {
      // The common case, a small body held in memory and nothing queued: write it now, no promise.
      const chunks = this.#chunks;
      const out = this.#sink.out;
      for (let i = 0; i < chunks.length; i++) {
        const pending = out.write(chunks[i]!);
        if (pending !== undefined) {
          const rest = chunks.slice(i + 1);
          return this.#sink.enqueue(async (writer) => {
            try {
              await pending;
              for (const chunk of rest) {
                const more = writer.write(chunk);
                if (more !== undefined) await more;
              }
            } finally {
              await this.discard();
            }
          });
        }
      }
      this.#release();
      this.#sink.forget(this);
      return;
    }
    return this.#sink.enqueue(async (out) => {
      try {
        for (const chunk of this.#chunks) {
          const pending = out.write(chunk);
          if (pending !== undefined) await pending;
        }
        if (this.#spill !== undefined) {
          for await (const chunk of this.#spill.readSync() ?? this.#spill.read()) {
            const pending = out.write(chunk);
            if (pending !== undefined) await pending;
          }
        }
      } finally {
        await this.discard();
      }
    });
  }

  async discard(): Promise<void> {
    this.#release();
    const spill = this.#spill;
    this.#spill = undefined;
    // Known until it is gone: a second signal during the removal's awaits must still delete it.
    this.#removing = spill;
    await spill?.remove();
    this.#removing = undefined;
    this.#sink.forget(this);
  }

  removeSync(): void {
    this.#spill?.removeSync();
    this.#removing?.removeSync();
  }

  #release(): void {
    this.#sink.unreserve(this.#memory);
    this.#chunks = [];
    this.#memory = 0;
  }
}
