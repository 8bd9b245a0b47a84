// InputTail: the last bytes given to a gunzip, to tell what it left unread NUL padding or not; and
// decodeInto's verdict on what follows a gzip member, for each way the body can be split.
import {gzipSync} from 'node:zlib';
import {describe, expect, test} from 'vitest';
import {decodeInto, decoderFor, InputTail} from '../../src/http/decode-body.js';

describe('InputTail', () => {
  test('looks at the last bytes across chunk boundaries', () => {
    const tail = new InputTail();
    tail.add(Buffer.from('abc'));
    tail.add(Buffer.alloc(2));
    tail.add(Buffer.concat([Buffer.alloc(1), Buffer.from('x'), Buffer.alloc(3)]));
    expect(tail.allNul(3)).toBe(true);
    expect(tail.allNul(4)).toBe(false);
    expect(tail.allNul(0)).toBe(true);
    // More than it was given: not known to be padding.
    expect(tail.allNul(11)).toBe(false);
  });

  test('keeps at least 64 KiB however small the chunks (a body in 1-byte chunks), and lets older bytes go', () => {
    const tail = new InputTail();
    tail.add(Buffer.from('junk'));
    for (let i = 0; i < 200_000; i++) tail.add(Buffer.alloc(1));
    expect(tail.allNul(64 * 1024)).toBe(true);
    // The junk is 200,000 bytes back: no longer held, so a count reaching it is not judged padding.
    expect(tail.allNul(200_004)).toBe(false);
    tail.add(Buffer.from('J'));
    for (let i = 0; i < 65_535; i++) tail.add(Buffer.alloc(1));
    expect(tail.allNul(65_535)).toBe(true);
    expect(tail.allNul(65_536)).toBe(false);
  });
});

// A body given in exactly these chunks, each after the last was taken: TCP decides how a real body's
// writes coalesce, so where the chunks split is set here.
function bodyOf(chunks: Buffer[]): Parameters<typeof decodeInto>[0] {
  const exchange = {
    aborted: undefined as Error | undefined,
    async body(take: (chunk: Buffer) => Promise<void> | void): Promise<void> {
      for (const chunk of chunks) {
        if (exchange.aborted !== undefined) throw exchange.aborted;
        await take(chunk);
        await new Promise<void>((done) => setImmediate(done));
      }
    },
    abort(error: Error): void {
      exchange.aborted = error;
    },
  };
  return exchange;
}

async function decodeChunks(chunks: Buffer[], coding = 'gzip'): Promise<{bytes: number; error?: string}> {
  let bytes = 0;
  try {
    await decodeInto(bodyOf(chunks), decoderFor(coding)!, (chunk) => void (bytes += chunk.length));
    return {bytes};
  } catch (error) {
    return {bytes, error: (error as Error).message};
  }
}

describe('decodeInto: what follows a gzip member, however the body is split', () => {
  const member = gzipSync(Buffer.alloc(5000, 0x61));
  const extra = gzipSync(Buffer.from('EXTRA'));
  const afterEnd = /^(\d+ )?bytes after the end of the compressed body/;

  test.each([
    ['junk in the same chunk', [Buffer.concat([member, Buffer.from('JUNK')])]],
    ['junk in a chunk of its own', [member, Buffer.from('JUNK')]],
    ['a NUL and a magic byte, the rest of the member later', [Buffer.concat([member, Buffer.from([0, 0x1f])]), extra.subarray(1)]],
    ['a NUL, then another member', [Buffer.concat([member, Buffer.from([0])]), extra]],
    ['the end, then a NUL and another member', [member, Buffer.concat([Buffer.from([0]), extra])]],
    ['a magic byte, then junk', [Buffer.concat([member, Buffer.from([0x1f])]), Buffer.from('JUNK')]],
    ['another member, then junk', [Buffer.concat([member, extra, Buffer.from('JUNK')])]],
    ['the member in 2-byte chunks, a NUL and another member', chunked(Buffer.concat([member, Buffer.alloc(1), extra]), 2)],
    ['the same, one byte on', [member.subarray(0, 1), ...chunked(Buffer.concat([member.subarray(1), Buffer.alloc(1), extra]), 2)]],
  ])('%s: protocol, named as bytes after the end', async (_name, chunks) => {
    const result = await decodeChunks(chunks);
    expect(result.error).toMatch(afterEnd);
  });

  test('junk after NUL padding, its last byte in a write of its own, while the consumer is still busy', async () => {
    // The gunzip stops at the NULs and takes the lone 'K' for the next member's header; the body ends
    // inside that header. With the consumer quick, the gunzip's end comes first and its unread bytes
    // are judged; with the consumer still holding the decoded chunk, that end waits and zlib's
    // 'unexpected end of file' came first: the verdict hung on the consumer's speed.
    const wire = Buffer.concat([member, Buffer.alloc(8), Buffer.from('JUNK')]);
    const chunks = [wire.subarray(0, wire.length - 1), wire.subarray(wire.length - 1)];
    let release = (): void => undefined;
    const busy = new Promise<void>((done) => (release = done));
    const verdict = decodeInto(bodyOf(chunks), decoderFor('gzip')!, () => busy);
    await expect(verdict).rejects.toThrow(afterEnd);
    release();
    expect(await decodeChunks(chunks)).toEqual({bytes: 5000, error: expect.stringMatching(afterEnd)});
  });

  test('a body cut short keeps zlib\'s word for it, with the consumer quick or busy, however split', async () => {
    const short = member.subarray(0, member.length - 3);
    // A second member cut after its first byte is a short body too, not bytes after the end.
    const second = Buffer.concat([member, Buffer.from([0x1f])]);
    for (const chunks of [[short], chunked(short.subarray(0, 3), 1), [member, Buffer.from([0x1f])], [second]]) {
      expect((await decodeChunks(chunks)).error).toBe('unexpected end of file');
      let release = (): void => undefined;
      const busy = new Promise<void>((done) => (release = done));
      await expect(decodeInto(bodyOf(chunks), decoderFor('gzip')!, () => busy)).rejects.toThrow('unexpected end of file');
      release();
    }
  });

  test('a body that is not gzip at all keeps zlib\'s own word for it', async () => {
    expect((await decodeChunks([Buffer.from('plain text, not gzip')])).error).toBe('incorrect header check');
    expect((await decodeChunks([Buffer.from([0x1f]), Buffer.from('x not gzip')])).error).toBe('incorrect header check');
    expect((await decodeChunks([Buffer.from([0x1f, 0x8b, 0x07, 0x00, 0, 0, 0, 0, 0, 0])])).error).toBe('unknown compression method');
  });

  test('members one after another are one gzip body (RFC 1952), decoded whole wherever the chunks split', async () => {
    const wire = Buffer.concat([member, extra]);
    for (let at = 1; at < wire.length; at++) {
      expect(await decodeChunks([wire.subarray(0, at), wire.subarray(at)]), `split at ${at}`).toEqual({bytes: 5005});
    }
  });

  test('NUL padding alone is no error, in one chunk or many', async () => {
    expect(await decodeChunks([Buffer.concat([member, Buffer.alloc(8)])])).toEqual({bytes: 5000});
    expect(await decodeChunks(chunked(Buffer.concat([member, Buffer.alloc(9)]), 2))).toEqual({bytes: 5000});
  });
});

describe('decodeInto: deflate, zlib-wrapped or raw, however the body is split', () => {
  // Raw deflate: a stored block that is not the last, its padding bits not all 0 (inflate ignores
  // them), so the first byte (0x08) has a zlib CM of 8 and only the second byte tells it raw
  // (0x0805 is no multiple of 31); then 'hello' and an empty last block.
  const raw = Buffer.from([0x08, 0x05, 0x00, 0xfa, 0xff, ...Buffer.from('hello'), 0x03, 0x00]);

  test('a raw stream whose first byte could start a zlib header decodes whole at every split', async () => {
    for (let at = 0; at < raw.length; at++) {
      const chunks = at === 0 ? [raw] : [raw.subarray(0, at), raw.subarray(at)];
      expect(await decodeChunks(chunks, 'deflate'), `split at ${at}`).toEqual({bytes: 5});
    }
    expect(await decodeChunks(chunked(raw, 1), 'deflate')).toEqual({bytes: 5});
  });

  test('a body of one byte is still judged (not taken for an empty body)', async () => {
    expect((await decodeChunks([Buffer.from([0x78])], 'deflate')).error).toBe('unexpected end of file');
    expect((await decodeChunks([Buffer.from([0x1f])])).error).toBe('unexpected end of file');
  });
});

function chunked(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}
