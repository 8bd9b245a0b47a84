// The stdout writer: small writes gathered into one, backpressure, flush, delivery, and a failure told once.
import {Writable} from 'node:stream';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import {describe, expect, it} from 'vitest';
import {OutputError} from '../../src/errors.js';
import {StreamWriter} from '../../src/sinks/stream-writer.js';

/** A Writable that records each write; `hold` keeps its callbacks until `release`, `fail` fails the next. */
function recorder(options: {highWaterMark?: number} = {}) {
  const chunks: Buffer[] = [];
  const held: ((error?: Error | null) => void)[] = [];
  let hold = false;
  let failWith: NodeJS.ErrnoException | undefined;
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (failWith !== undefined) {
        callback(failWith);
        return;
      }
      chunks.push(Buffer.from(chunk));
      if (hold) held.push(callback);
      else callback();
    },
  });
  return {
    stream,
    chunks,
    hold: () => (hold = true),
    release: () => {
      hold = false;
      for (const callback of held.splice(0)) callback();
    },
    failNext: (code: string) => (failWith = Object.assign(new Error(code), {code})),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StreamWriter', () => {
  it('gathers small writes made in one turn into a single write of the stream', async () => {
    const r = recorder();
    const out = new StreamWriter(r.stream, 'standard output');
    for (let i = 0; i < 100; i++) expect(out.write(`line ${i}\n`)).toBeUndefined();
    expect(r.chunks).toHaveLength(0);
    await turn();
    expect(r.chunks).toHaveLength(1);
    expect(r.chunks[0]!.toString()).toBe(Array.from({length: 100}, (_, i) => `line ${i}\n`).join(''));
  });

  it('flush writes what was gathered at once, and resolves once the stream has taken it', async () => {
    const r = recorder();
    const out = new StreamWriter(r.stream, 'standard output');
    out.write('a\n');
    out.write('b\n');
    await out.flush();
    expect(Buffer.concat(r.chunks).toString()).toBe('a\nb\n');
  });

  it('a full stream: later writes return a promise that resolves on drain', async () => {
    const r = recorder({highWaterMark: 1024});
    r.hold();
    const out = new StreamWriter(r.stream, 'standard output');
    // 64 KiB and over goes out at once; past the high-water mark the stream is full.
    const first = out.write(Buffer.alloc(64 * 1024, 0x61));
    expect(first).toBeInstanceOf(Promise);
    const second = out.write('x');
    expect(second).toBeInstanceOf(Promise);
    let resolved = false;
    void second!.then(() => (resolved = true));
    await turn();
    expect(resolved).toBe(false);
    r.release();
    await first;
    await second;
    expect(resolved).toBe(true);
  });

  it('endsMidLine follows the last byte written', () => {
    const out = new StreamWriter(recorder().stream, 'standard output');
    expect(out.endsMidLine).toBe(false);
    out.write('body without newline');
    expect(out.endsMidLine).toBe(true);
    out.write('');
    expect(out.endsMidLine).toBe(true);
    out.write('end\n');
    expect(out.endsMidLine).toBe(false);
  });

  it('delivered() resolves once the stream confirmed the bytes; a failed write is no delivery', async () => {
    const r = recorder();
    const out = new StreamWriter(r.stream, 'standard output');
    out.write('one\n');
    await out.delivered();
    expect(Buffer.concat(r.chunks).toString()).toBe('one\n');

    const failing = recorder();
    const broken = new StreamWriter(failing.stream, 'standard output');
    const told: OutputError[] = [];
    broken.onFailure = (failure) => told.push(failure);
    failing.failNext('EPIPE');
    broken.write('lost\n');
    const delivery = broken.delivered();
    await expect(delivery).rejects.toBeInstanceOf(OutputError);
    expect(told).toHaveLength(1);
    expect(told[0]!.code).toBe('EPIPE');
    expect(broken.failure).toBe(told[0]);
    await expect(broken.write('more')).rejects.toBe(told[0]);
  });

  it('delivered() waits for the very last byte: a one-byte write still unconfirmed after a large one is not delivered yet', async () => {
    const callbacks: (() => void)[] = [];
    const stream = new Writable({highWaterMark: 4 * 1024 * 1024, write: (_chunk, _encoding, callback) => void callbacks.push(callback)});
    const out = new StreamWriter(stream, 'standard output');
    // 64 KiB goes to the stream at once; the one byte after it is gathered and sent a turn later.
    out.write(Buffer.alloc(64 * 1024, 1));
    out.write('x');
    let delivered = false;
    const delivery = out.delivered().then(() => {
      delivered = true;
    });
    await turn();
    expect(callbacks).toHaveLength(1);
    callbacks[0]!();
    await turn();
    // The 64 KiB are confirmed, the last byte is not: no delivery yet.
    expect(callbacks).toHaveLength(2);
    expect(delivered).toBe(false);
    callbacks[1]!();
    await delivery;
    expect(delivered).toBe(true);
  });

  it('keeps no written chunk alive until the stream calls back: a body replayed to a file or /dev/null is not held whole', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // A stream that has the bytes but has not called back yet (stdout to a file calls back on a later
    // tick, after the whole replay of a spooled body when nothing lets the event loop turn).
    const callbacks: (() => void)[] = [];
    const stream = new Writable({highWaterMark: 4 * 1024 * 1024, write: (_chunk, _encoding, callback) => void callbacks.push(callback)});
    const out = new StreamWriter(stream, 'standard output');
    const written = ((): WeakRef<Buffer> => {
      const chunk = Buffer.alloc(1024 * 1024, 1);
      expect(out.write(chunk)).toBeUndefined();
      return new WeakRef(chunk);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(written.deref()).toBeUndefined();
    expect(callbacks).toHaveLength(1);
    callbacks[0]!();
    await out.delivered();
    expect(out.accepted).toBe(1024 * 1024);
  });
});
