// A final response's body into the entry's target: whether a 206 continues what is held, --max-size,
// the digest, and the coding undone.
import {createHash} from 'node:crypto';
import type {Buffer} from 'node:buffer';
import {classify} from '../classify.js';
import {FetchallError, OutputError} from '../errors.js';
import type {AttemptEnvironment, EntryState, ResumePoint} from './attempt.js';
import {decodeInto, decoderFor} from './decode-body.js';
import type {Exchange} from './exchange.js';

/** A digest to compute: with --checksum or an expected sha256, but never for HEAD, which has no body. */
function wantsHash(env: AttemptEnvironment, state: EntryState): boolean {
  return env.options.method !== 'HEAD' && (env.options.checksum || state.entry.sha256 !== undefined);
}

/**
 * Take a final response's body into the entry's target; false when it was not taken (a 206 that does
 * not continue the body our Range asked about: the caller asks again for the whole body). `userRange`:
 * the user asked for a Range themselves (`-H 'Range: …'`): the 206 they asked for is the body, and a
 * broken one starts over rather than resuming with a Range of ours.
 */
export async function receiveBody(env: AttemptEnvironment, state: EntryState, response: Exchange, resumeFrom: number, href: string, userRange: boolean): Promise<boolean> {
  const {options} = env;
  const headers = response.headers;
  const encoding = headers['content-encoding'];
  const identity = encoding === undefined || encoding === 'identity';
  const partial = response.status === 206 && !userRange;
  const range = partial ? parseContentRange(headers['content-range']) : undefined;
  // A 206 in a content coding is a range of the coded body (RFC 9110): it continues no identity body.
  const continues = partial && resumeFrom > 0 && identity && continuesBody(state.resume!, headers, resumeFrom);
  if (partial && !continues) {
    const whole = range !== undefined && range.start === 0 && range.end + 1 === range.total && lengthMatches(range, headers['content-length']);
    // A part we did not ask for (or not the one we asked for) is never taken for the whole body; a
    // whole body sent as a 206 is, unless our Range asked for a continuation.
    if (!whole || resumeFrom > 0) {
      await response.discard();
      if (resumeFrom > 0) return false;
      throw new FetchallError('protocol', `unexpected 206 Partial Content (Content-Range: ${String(headers['content-range'] ?? 'none').slice(0, 100)})`);
    }
  }
  const declared = Number(headers['content-length']);
  if (continues) {
    // The server continues where the broken body stopped: keep the bytes, the hash and the count.
    state.bytes = resumeFrom;
  } else {
    if (state.target !== undefined && state.target.size > 0) await state.target.reset();
    state.bytes = 0;
    state.discarded = 0;
    state.hash = undefined;
    const ranges = String(headers['accept-ranges'] ?? '').toLowerCase().includes('bytes');
    const etag = typeof headers.etag === 'string' && !headers.etag.startsWith('W/') ? headers.etag : undefined;
    const lastModified = typeof headers['last-modified'] === 'string' ? headers['last-modified'] : undefined;
    const validator = ranges && identity && response.status === 200 && !userRange ? etag ?? lastModified : undefined;
    state.resume = validator === undefined ? undefined : {url: href, validator, total: Number.isSafeInteger(declared) ? declared : undefined};
  }
  if (response.status === 304) {
    // Not Modified (an answer to the user's own If-None-Match or If-Modified-Since): no body, so like
    // HEAD no file, and the copy the user holds stays as it is; its Content-Length is the other body's.
    await state.target?.discard();
    state.target = undefined;
    await response.discard();
    return true;
  }
  if (wantsHash(env, state) && state.hash === undefined) state.hash = createHash('sha256');
  if (options.method === 'HEAD') {
    await response.discard();
    return true;
  }
  const decoder = options.compressed ? decoderFor(encoding) : undefined;
  // The whole body's size: what is kept plus what comes, when this answer continues it. A 204 has no
  // body whatever its Content-Length says.
  const size = (continues ? resumeFrom : 0) + declared;
  if (options.maxSize !== undefined && decoder === undefined && Number.isFinite(size) && size > options.maxSize && response.status !== 204) {
    response.abort(new Error('body too large'));
    throw new FetchallError('too_large', `body of ${size} bytes is larger than --max-size ${options.maxSize}`);
  }
  if (env.sink !== undefined && state.target === undefined) state.target = env.sink.open(state.entry, state.name);
  const target = state.target;
  const maxSize = options.maxSize ?? Infinity;
  const onBodyBytes = env.onBodyBytes;
  const take = (chunk: Buffer): Promise<void> | void => {
    state.bytes += chunk.length;
    onBodyBytes?.(chunk.length);
    if (state.bytes > maxSize) throw new FetchallError('too_large', `body is larger than --max-size ${options.maxSize} bytes`);
    state.hash?.update(chunk);
    if (target === undefined) {
      state.discarded += chunk.length;
      return;
    }
    return target.write(chunk);
  };
  try {
    await (decoder === undefined ? response.body(take) : decodeInto(response, decoder, take));
  } catch (error) {
    if (error instanceof FetchallError || error instanceof OutputError) throw error;
    throw classify(error);
  }
  // A 206 without a Content-Length (chunked) can still end short of, or run past, what its
  // Content-Range promised: a part of a body is never kept as the whole of it.
  if (partial && decoder === undefined && range?.total !== undefined && state.bytes !== range.total) {
    if (!continues) throw new FetchallError('protocol', `206 Partial Content of ${state.bytes} bytes, where its Content-Range (${String(headers['content-range']).slice(0, 100)}) makes ${range.total}`);
    // Our resume went wrong: drop what it added and ask again for the whole body.
    await state.target?.reset();
    state.bytes = 0;
    state.discarded = 0;
    state.hash = undefined;
    return false;
  }
  return true;
}

/**
 * Whether a 206 answering our `Range: bytes=FROM-` continues the body held: it starts at FROM and runs
 * to the end of a body as long as the first one said, and names no other version of it (a server
 * that answers a stale `If-Range` with the new version's bytes must not get the two joined).
 */
function continuesBody(resume: ResumePoint, headers: Exchange['headers'], from: number): boolean {
  const range = parseContentRange(headers['content-range']);
  if (range === undefined || range.start !== from || range.total === undefined || range.end + 1 !== range.total) return false;
  if (resume.total !== undefined && range.total !== resume.total) return false;
  if (!lengthMatches(range, headers['content-length'])) return false;
  const etag = headers.etag;
  const lastModified = headers['last-modified'];
  if (resume.validator.startsWith('"')) return etag === undefined || etag === resume.validator;
  return lastModified === undefined || lastModified === resume.validator;
}

/**
 * Whether a 206's range is one (first byte not past the last) and its Content-Length, if it has one,
 * is that range's length: a part whose own headers disagree is no part of anything.
 */
function lengthMatches(range: {start: number; end: number}, contentLength: string | string[] | undefined): boolean {
  if (range.start > range.end) return false;
  return contentLength === undefined || Number(contentLength) === range.end - range.start + 1;
}

/** `bytes START-END/TOTAL` → start, and whether the part is the whole body. */
function parseContentRange(value: string | string[] | undefined): {start: number; end: number; total: number | undefined} | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(value ?? '').trim());
  if (match === null) return undefined;
  return {start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? undefined : Number(match[3])};
}
