// Content codings undone for --compressed: a decoder per layer, fed with backpressure, and what a body
// may send after its compressed stream has ended.
import {Buffer} from 'node:buffer';
import type {Transform} from 'node:stream';
import {createBrotliDecompress, createGunzip, createInflate, createInflateRaw, Gunzip} from 'node:zlib';
import {FetchallError} from '../errors.js';
import {DISCARD_BYTES, type Exchange} from './exchange.js';

/**
 * Makes the decoders for a body from its first bytes (only `deflate` needs to look at them): one per
 * coding, in the order they undo the codings (the last one applied first).
 */
export type DecoderFactory = (head: Buffer) => Transform[];

// More layers than this is no real server's answer; each would cost a zlib stream.
const MAX_CODINGS = 4;
// What a body may still send once its decoded stream has ended (gzip's NUL padding, an outer layer's
// last bytes) before it is broken (`protocol`): so many bytes in all, and not as a trickle, which would
// take hours to reach the count: a window with some bytes must have at least TRAILING_WINDOW_BYTES (a
// window with none is a stall, the idle timeout's to judge).
const TRAILING_BYTES = 64 * 1024;
const TRAILING_WINDOW_MS = 2_000;
const TRAILING_WINDOW_BYTES = 1024;

/**
 * The decoders for a Content-Encoding list (`gzip`, `gzip, br`, …; `identity` is no coding), or
 * undefined when there is nothing to decode or a coding we do not know (the body is then kept as
 * received). Throws `protocol` for more than MAX_CODINGS layers.
 */
export function decoderFor(encoding: string | string[] | undefined): DecoderFactory | undefined {
  const codings = (Array.isArray(encoding) ? encoding.join(',') : encoding ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return undefined;
  if (codings.length > MAX_CODINGS) throw new FetchallError('protocol', `more than ${MAX_CODINGS} content codings (${codings.join(', ').slice(0, 100)})`);
  const makers: ((head: Buffer) => Transform)[] = [];
  for (const coding of codings.reverse()) {
    if (coding === 'gzip' || coding === 'x-gzip') makers.push(() => createGunzip());
    else if (coding === 'deflate') makers.push((head) => (isZlibHeader(head) ? createInflate() : createInflateRaw()));
    else if (coding === 'br') makers.push(() => createBrotliDecompress());
    else return undefined;
  }
  // Only the outermost layer sees the body's first bytes; an inner deflate is taken as zlib-wrapped.
  return (head) => makers.map((make, i) => make(i === 0 ? head : Buffer.alloc(0)));
}

// A gzip member's first bytes: the magic, CM = 8 (deflate), flags with the reserved bits clear.
const GZIP_HEAD = Buffer.from([0x1f, 0x8b, 0x08, 0x00]);

function isGzipHead(head: Buffer): boolean {
  return head[0] === GZIP_HEAD[0] && head[1] === GZIP_HEAD[1] && head[2] === GZIP_HEAD[2] && (head[3]! & 0xe0) === 0;
}

// zlib's errors from a gzip header's first four bytes, the ones isGzipHead checks.
function isHeaderError(error: NodeJS.ErrnoException): boolean {
  return error.code === 'Z_DATA_ERROR' && ['incorrect header check', 'unknown compression method', 'unknown header flags set'].includes(error.message);
}

/**
 * The error a decoder's failure really is when it is about bytes after the end of its compressed
 * stream (undefined when it is not): zlib's own words there depend on how the body's writes split.
 * `gunzipHead` is the first bytes given to a gunzip (undefined for other decoders).
 */
function afterEndError(error: NodeJS.ErrnoException, decoder: Transform, gunzipHead: Buffer | undefined): FetchallError | undefined {
  // A gunzip that stopped at NUL padding, then given another member in a later write, decodes it and
  // pushes after its own end: Node's stream error, which says nothing to a user.
  if (error.code === 'ERR_STREAM_PUSH_AFTER_EOF') return new FetchallError('protocol', 'bytes after the end of the compressed body (another member after its NUL padding)');
  if (gunzipHead === undefined) return undefined;
  // Past a member's end, gunzip reads what follows as the next member's header: junk there (or after
  // NUL padding, as the writes happen to split) is a header error, but one about the bytes after the
  // end once the first member's header was good. And a gunzip that stopped at NUL padding reads a later
  // write that starts with another byte as a header too, in which the body may end: zlib's 'unexpected
  // end of file' (had the gunzip's 'end' been seen first, its unread bytes were judged as such; a
  // consumer still busy with its last chunk, or an inner layer still decoding, holds that 'end' back).
  // Not said which it was: how the writes split decides what zlib saw first.
  const afterMember = isHeaderError(error) && gunzipHead.length >= GZIP_HEAD.length && isGzipHead(gunzipHead);
  if (afterMember || stoppedEarly(decoder)) return new FetchallError('protocol', 'bytes after the end of the compressed body');
  return undefined;
}

/**
 * Whether a decoder ended its output before its input ended: zlib's streams do when they stop at the
 * end of their compressed stream (gunzip at NUL padding) with bytes left. Told by the readable side's
 * state, as 'end' waits for the output to be read.
 */
function stoppedEarly(decoder: Transform): boolean {
  return (decoder as Transform & {_readableState?: {ended?: boolean}})._readableState?.ended === true;
}

/**
 * HTTP's `deflate` is zlib-wrapped, but some servers send raw deflate under that name; curl and the
 * browsers take both, so we do: a zlib header is CM = 8 in the low nibble of the first byte, and the
 * first two bytes read as a big-endian number are a multiple of 31.
 */
function isZlibHeader(head: Buffer): boolean {
  if (head.length === 0) return true;
  if ((head[0]! & 0x0f) !== 8) return false;
  return head.length < 2 || ((head[0]! << 8) | head[1]!) % 31 === 0;
}

/**
 * Feed a body through its decoders (made from its first chunk, piped one into the next) into `take`,
 * with backpressure both ways and errors from any of them. Bytes after the end of a compressed stream
 * are a broken body (`protocol`), as curl has it, all but gzip's NUL padding (which gzip(1) allows
 * too): inflate and brotli stop reading at their end, and zlib's gunzip at NUL padding (whatever comes
 * after the NULs, junk or another member, it drops unseen), so what each left unread is judged here.
 * The verdict does not hang on how the body's writes split (an audit fed thousands of bodies in every
 * split): a broken body is `protocol` however it comes. Only the message may: a stacked body broken in
 * its outer layer fails in whichever layer complains first (gzip's check comes at a member's end, and
 * the inner layer may choke on the garbage before it), and holding that back would mean reading a
 * broken body to its end.
 */
export function decodeInto(response: Pick<Exchange, 'body' | 'abort'>, makeDecoders: DecoderFactory, take: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let decoders: Transform[] | undefined;
    let failed = false;
    // Bytes given to each decoder; whether the body has ended, the decoded output (the last decoder)
    // has, and how many decoders have (an inner one may end before the outer one has read its last
    // bytes: each is judged once all have).
    const fed: number[] = [];
    // The last bytes given to each gunzip, to tell its unread bytes NUL padding or not, and its first
    // bytes, to tell a header error in its first member from one in what came after that member.
    const tails: (InputTail | undefined)[] = [];
    const heads: Buffer[] = [];
    const feeding = (layer: number, chunk: Buffer): void => {
      fed[layer]! += chunk.length;
      const tail = tails[layer];
      if (tail === undefined) return;
      tail.add(chunk);
      if (heads[layer]!.length < GZIP_HEAD.length) heads[layer] = Buffer.concat([heads[layer]!, chunk.subarray(0, GZIP_HEAD.length)]);
    };
    let bodyEnded = false;
    let decodedEnded = false;
    let decodersEnded = 0;
    let afterEnd = 0;
    let inWindow = 0;
    let trailing: NodeJS.Timeout | undefined;
    const fail = (error: unknown): void => {
      clearInterval(trailing);
      if (failed) return;
      failed = true;
      for (const decoder of decoders ?? []) decoder.destroy();
      response.abort(error instanceof Error ? error : new Error(String(error)));
      reject(error);
    };
    const finish = (): void => {
      if (failed || !bodyEnded || decodersEnded < (decoders?.length ?? 0)) return;
      clearInterval(trailing);
      // zlib's count of the input each decoder consumed: what is left is after its end.
      for (const [i, decoder] of (decoders ?? []).entries()) {
        const unread = fed[i]! - (decoder as Transform & {bytesWritten: number}).bytesWritten;
        if (unread <= 0 || (unread <= TRAILING_BYTES && tails[i]?.allNul(unread) === true)) continue;
        fail(new FetchallError('protocol', `${unread} bytes after the end of the compressed body`));
        return;
      }
      resolve();
    };
    const start = (head: Buffer): Transform => {
      const made = makeDecoders(head);
      decoders = made;
      for (const [i, decoder] of made.entries()) {
        tails[i] = decoder instanceof Gunzip ? new InputTail() : undefined;
        heads[i] = Buffer.alloc(0);
      }
      for (let i = 0; i + 1 < made.length; i++) {
        fed[i + 1] = 0;
        made[i]!.on('data', (chunk: Buffer) => feeding(i + 1, chunk));
        made[i]!.pipe(made[i + 1]!);
      }
      for (const [i, decoder] of made.entries()) {
        decoder.on('error', (error: NodeJS.ErrnoException) => fail(afterEndError(error, decoder, tails[i] === undefined ? undefined : heads[i]!) ?? error));
        decoder.on('end', () => {
          decodersEnded++;
          finish();
        });
      }
      const last = made[made.length - 1]!;
      last.on('data', (chunk: Buffer) => {
        let pending: Promise<void> | void;
        try {
          pending = take(chunk);
        } catch (error) {
          fail(error);
          return;
        }
        if (pending !== undefined) {
          last.pause();
          pending.then(() => last.resume(), fail);
        }
      });
      last.on('end', () => {
        decodedEnded = true;
        if (bodyEnded) return;
        trailing = setInterval(() => {
          if (inWindow > 0 && inWindow < TRAILING_WINDOW_BYTES) {
            fail(new FetchallError('protocol', `the body trickles on after the end of the compressed body (${afterEnd} bytes after it)`));
          }
          inWindow = 0;
        }, TRAILING_WINDOW_MS);
      });
      return made[0]!;
    };
    let first: Transform | undefined;
    // A first chunk of one byte, held until the next: deflate tells zlib-wrapped from raw by two bytes,
    // and what it makes of the body must not hang on where the body's writes split.
    let held: Buffer | undefined;
    fed[0] = 0;
    response
      .body((chunk) => {
        if (failed) return;
        if (first === undefined) {
          if (held !== undefined) chunk = Buffer.concat([held, chunk]);
          held = chunk.length < 2 ? chunk : undefined;
          if (held !== undefined) return;
        }
        // The decoded body has ended and the body goes on. Some bytes may still be NUL padding or the
        // outer layer's own end (its last bytes after an inner layer's padding), judged when the body
        // ends; but not more than TRAILING_BYTES of them, nor a trickle (the window timer).
        if (decodedEnded) {
          inWindow += chunk.length;
          afterEnd += chunk.length;
          if (afterEnd > TRAILING_BYTES) {
            fail(new FetchallError('protocol', `more than ${TRAILING_BYTES} bytes after the end of the compressed body`));
            return;
          }
        }
        const into = (first ??= start(chunk));
        feeding(0, chunk);
        if (into.write(chunk)) return;
        return new Promise<void>((done) => into.once('drain', done));
      })
      .then(() => {
        if (held !== undefined && held.length > 0) {
          first = start(held);
          feeding(0, held);
          first.write(held);
        }
        // No byte at all (a 204, a 304, a Content-Length: 0) is an empty body whatever coding it names.
        if (first === undefined) return resolve();
        bodyEnded = true;
        clearInterval(trailing);
        first.end();
        finish();
      }, fail);
  });
}

/**
 * The last TRAILING_BYTES (or more) bytes given to a decoder, as the chunks they came in (not copied).
 * @example const tail = new InputTail(); tail.add(chunk); tail.allNul(10); // the last 10 bytes are 0
 */
export class InputTail {
  // The chunks from index #head on are held: dropping from the front moves no array element (a body
  // in 1-byte chunks holds 64K of them), and the dropped slots are cut off now and then.
  #chunks: Buffer[] = [];
  #head = 0;
  #bytes = 0;

  add(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[this.#head]!.length >= TRAILING_BYTES) this.#bytes -= this.#chunks[this.#head++]!.length;
    if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Whether the last `count` bytes are all NUL; false for more than it holds. */
  allNul(count: number): boolean {
    if (count > this.#bytes) return false;
    let left = count;
    for (let i = this.#chunks.length - 1; left > 0; i--) {
      const chunk = this.#chunks[i]!;
      const from = Math.max(0, chunk.length - left);
      for (let j = from; j < chunk.length; j++) if (chunk[j] !== 0) return false;
      left -= chunk.length - from;
    }
    return true;
  }
}

/**
 * Read an error response's body only to count it (decoded when `decode` and its coding is one we
 * know): up to DISCARD_BYTES, then the connection is let go. Never throws: a broken or undecodable
 * body counts what came before the break.
 */
export async function discardCounting(response: Exchange, decode: boolean): Promise<number> {
  let decoders: DecoderFactory | undefined;
  try {
    decoders = decode ? decoderFor(response.headers['content-encoding']) : undefined;
  } catch {
    decoders = undefined;
  }
  if (decoders === undefined) return response.discard();
  let seen = 0;
  try {
    await decodeInto(response, decoders, (chunk) => {
      seen += chunk.length;
      if (seen > DISCARD_BYTES) throw new Error('error body counted far enough');
    });
  } catch {
    // Counted as far as it went.
  }
  return Math.min(seen, DISCARD_BYTES);
}
