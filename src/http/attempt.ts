// One attempt at one entry: follow redirects ourselves, then stream the body into its target.
import {createHash, type Hash} from 'node:crypto';
import {Buffer, isUtf8} from 'node:buffer';
import type {Transform} from 'node:stream';
import {createBrotliDecompress, createGunzip, createInflate, createInflateRaw, Gunzip} from 'node:zlib';
import type {Dispatcher} from 'undici';
import {DISCARD_BYTES, Exchange, failedUnanswered} from './exchange.js';
import {classify, codeOf, proxyAuthRefusal, RETRYABLE_STATUSES, tunnelRefusal} from '../classify.js';
import {FetchallError, OutputError} from '../errors.js';
import type {RunOptions} from '../options.js';
import type {Entry} from '../record.js';
import type {BodySink, BodyTarget} from '../sinks/types.js';
import {parseRetryAfter} from './retry-policy.js';
import {crossOriginHeaders, requestHeaders, requestTarget, withoutCredentials} from './headers.js';
import {redactWholeUrl} from '../report/escape.js';

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

// As curl: how many times one request is sent again after kept-alive connections closed under it.
const MAX_UNANSWERED_RESENDS = 5;

/** Run-wide things an attempt uses. */
export interface AttemptEnvironment {
  readonly options: RunOptions;
  readonly dispatcher: Dispatcher;
  readonly sink: BodySink | undefined;
  /** Waits for the start-rate limiter; every request sent (hops and retries too) passes through. */
  readonly beforeRequest: (signal: AbortSignal) => Promise<void> | void;
  /** Told when a request actually reaches its connection (the rate limiter keys its spacing on it). */
  readonly onSent?: (() => void) | undefined;
  /** Told of body bytes as they arrive (the progress line's live count). */
  readonly onBodyBytes?: ((bytes: number) => void) | undefined;
  /** A 429/503 with Retry-After pauses the whole host. */
  readonly pauseHost: (hostKey: string, waitMs: number) => void;
  /**
   * A redirect leads to another host: trade the attempt's host permit for that host's (waiting out its
   * pause and its --per-host bound, holding no slot while it waits). Without it, hops are not gated.
   */
  readonly enterHost?: ((state: EntryState, hostKey: string, signal: AbortSignal) => Promise<void> | void) | undefined;
  /**
   * Just before a request goes: when its host is paused (a Retry-After that came while this request
   * waited for its start slot, or during its previous hop), give back the attempt's permits and wait
   * out the pause, then resolve true (the start slot is then taken again). Nothing when not paused.
   */
  readonly waitOutPause?: ((state: EntryState, url: URL, signal: AbortSignal) => Promise<boolean> | undefined) | undefined;
}

/** The permits an attempt holds, and the host they are for: a redirect to another host swaps them. */
export interface HeldPermits {
  hostKey: string;
  host: (() => void) | undefined;
  global: (() => void) | undefined;
}

/** A body that may be continued with `Range`: what its 200 said about itself. */
export interface ResumePoint {
  /** The URL that answered the 200 (the last hop of its chain): only a request to it asks for a Range. */
  readonly url: string;
  /** Sent as `If-Range`: a strong ETag, else the Last-Modified date. */
  readonly validator: string;
  /** The whole body's length (its Content-Length), when it gave one. */
  readonly total: number | undefined;
}

/** What one entry carries from attempt to attempt. */
export interface EntryState {
  readonly entry: Entry;
  readonly name: string | undefined;
  target: BodyTarget | undefined;
  hash: Hash | undefined;
  bytes: number;
  status: number | null;
  finalUrl: string | null;
  /** Attempts started so far (kept here too, so a fatal output error still reports them). */
  attempts: number;
  /** Where a broken body can be continued with a Range, when the last 200 offered ranges. */
  resume: ResumePoint | undefined;
  /** Without a target (bodies read and discarded), the bytes of the body read so far: a resume skips them. */
  discarded: number;
  /** The running attempt's permits. */
  permits: HeldPermits | undefined;
  /**
   * When the first attempt started its first request (`performance.now()`): the record's duration counts
   * from here, so waits before it (a per-host permit, a host pause, --rate) are not the URL's time.
   */
  startedAt: number | undefined;
}

/**
 * The host key the per-host limit and pauses use: host name and port, the scheme's default port
 * spelled out (`http://a.test` and `https://a.test` are two hosts; `a.test` and `a.test:80` one).
 * @example hostKey(new URL('https://a.test/x')); // 'a.test:443'
 */
export function hostKey(url: URL): string {
  return `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port}`;
}

/** A digest to compute: with --checksum or an expected sha256, but never for HEAD, which has no body. */
function wantsHash(env: AttemptEnvironment, state: EntryState): boolean {
  return env.options.method !== 'HEAD' && (env.options.checksum || state.entry.sha256 !== undefined);
}

/**
 * --timeout's clock for one attempt: it runs while the attempt works, and is held while the attempt
 * waits at a gate (its --rate start slot, a host's pause, another host's permit on a redirect), as an
 * entry waiting at the gates before its attempt is not timed either.
 * @example const clock = new AttemptClock(5000, () => controller.abort()); clock.run(); … clock.hold();
 */
export class AttemptClock {
  #left: number;
  #since: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #expire: () => void;

  constructor(ms: number, expire: () => void) {
    this.#left = ms;
    this.#expire = expire;
  }

  /** Count from now (no-op while running). */
  run(): void {
    if (this.#since !== undefined) return;
    this.#since = performance.now();
    this.#timer = setTimeout(this.#expire, Math.max(0, this.#left));
  }

  /** Stop counting, keeping what is left (no-op while held). */
  hold(): void {
    if (this.#since === undefined) return;
    clearTimeout(this.#timer);
    this.#left -= performance.now() - this.#since;
    this.#since = undefined;
  }
}

/**
 * Make one attempt. Resolves when the body is complete and verified (not yet committed);
 * throws a FetchallError (or OutputError for a fatal write) otherwise. With `clock` (--timeout), the
 * attempt runs it while it works.
 */
export async function attempt(env: AttemptEnvironment, state: EntryState, signal: AbortSignal, clock?: AttemptClock): Promise<void> {
  const {options} = env;
  const origin = state.entry.target!;
  let url = origin;
  let headers = requestHeaders(options, state.entry, origin);
  let method = options.method;
  // Made at the first redirect: most attempts have none.
  let visited: Set<string> | undefined;
  for (let hop = 0; ; hop++) {
    // A broken body resumes at the URL that sent it, wherever in the chain that is: the Range and its
    // validator belong to that resource, not to a redirector before it.
    const resumeFrom = url.href === state.resume?.url ? resumeOffset(state) : 0;
    const sent = resumeFrom > 0 ? {...headers, range: `bytes=${resumeFrom}-`, 'if-range': state.resume!.validator} : headers;
    // final_url names the last request actually sent: set once the request has its connection (a
    // refused or timed-out connection sends nothing, and leaves the previous value, or null).
    const shown = withoutCredentials(url);
    const onSent = env.onSent;
    const onConnected = (): void => {
      state.finalUrl = shown;
      onSent?.();
    };
    let response: Exchange | undefined;
    for (let resent = 0; response === undefined; resent++) {
      // Every request passes the gates, one sent again after a dropped connection too: a pause of its
      // host known now is waited out before a --rate start slot is taken (a slot is not given back);
      // one that began while this waited for its slot, after. --timeout's clock is held meanwhile.
      // Inline, awaiting only what waits: most requests pass every gate without a promise.
      clock?.hold();
      for (;;) {
        const pausedBefore = env.waitOutPause?.(state, url, signal);
        if (pausedBefore !== undefined) await pausedBefore;
        const waiting = env.beforeRequest(signal);
        if (waiting !== undefined) await waiting;
        const paused = env.waitOutPause?.(state, url, signal);
        if (paused === undefined || !(await paused)) break;
      }
      clock?.run();
      state.startedAt ??= performance.now();
      try {
        response = await Exchange.send(env.dispatcher, {
          origin: url.origin,
          path: requestTarget(url),
          method,
          headers: sent,
          // undici's headers timeout bounds the whole head, however steadily its bytes come: the
          // exchange's own idle timer guards the head instead (it sees header bytes trickle in). Its
          // body timeout is per chunk, like ours but coarser (a half-second tick): kept as a backstop
          // only, at twice the idle time, so ours fires first and the message is always fetchall's own.
          headersTimeout: 0,
          bodyTimeout: options.idleTimeout * 2,
          idleTimeout: options.idleTimeout,
        }, signal, onConnected);
      } catch (error) {
        // A kept-alive connection the server closed before a byte of answer (its idle timeout racing
        // ours): the request goes again on another connection, as curl does; no attempt is spent.
        if (resent >= MAX_UNANSWERED_RESENDS || signal.aborted || !failedUnanswered(error)) throw sendFailure(error, state, url, hop);
      }
    }
    const status = response.status;
    // status and bytes describe the same, last response: nothing of an earlier attempt's body (a 503's
    // page, a broken 200) stays counted when this one is a redirect or an error of its own.
    state.status = status;
    state.bytes = 0;
    const location = locationOf(response.headers.location);
    if (REDIRECTS.has(status) && location !== undefined && options.maxRedirects > 0) {
      await response.discard();
      // Keyed as hops are sent (no fragment, no credentials): a redirect back to the entry's own URL is
      // a loop at once.
      visited ??= new Set<string>([withoutCredentials(url)]);
      const next = nextHop(url, location, visited, hop + 1, options.maxRedirects);
      if (status === 303 && method !== 'HEAD') method = 'GET';
      // The user's headers belong to the origin they named: another origin gets only the safe few.
      const home = requestHeaders(options, state.entry, origin);
      headers = next.origin === origin.origin ? home : crossOriginHeaders(home, options, state.entry);
      visited.add(withoutCredentials(next));
      if (env.enterHost !== undefined && hostKey(next) !== hostKey(url)) {
        clock?.hold();
        await env.enterHost(state, hostKey(next), signal);
      }
      url = next;
      continue;
    }
    if (status === 416 && resumeFrom > 0) {
      // Our own Range refused (the resource shrank, or the server counts its ranges otherwise): the
      // resume point is forgotten and the whole body asked for again, in this same attempt.
      await response.discard();
      state.resume = undefined;
      hop--;
      continue;
    }
    if (status >= 400) {
      // The record's bytes are the body bytes received, an error page's too (read up to 64 KiB, then
      // the connection is closed rather than drained), decoded with --compressed like any body.
      // The wait counts from the answer's head, not from the end of its page (which a throttled server
      // may send slowly): the host is paused at once, and this URL's own wait is what is left of it.
      const answeredAt = Date.now();
      const named = parseRetryAfter(response.headers['retry-after'], answeredAt);
      const waitMs = named === undefined ? undefined : Math.min(named, options.retryMaxDelay);
      if ((status === 429 || status === 503) && waitMs !== undefined) env.pauseHost(hostKey(url), waitMs);
      state.bytes = await discardCounting(response, options.compressed);
      env.onBodyBytes?.(state.bytes);
      const retryAfterMs = waitMs === undefined ? undefined : Math.max(0, waitMs - (Date.now() - answeredAt));
      // A reason phrase is the server's to choose, and to make as long as it likes: cut, like the
      // other texts a server puts in a message.
      const reason = response.statusText.length > 100 ? `${response.statusText.slice(0, 100)}…` : response.statusText;
      throw new FetchallError('http_status', `HTTP ${status}${reason ? ' ' + reason : ''}`, {
        status,
        retryable: RETRYABLE_STATUSES.has(status),
        retryAfterMs,
      });
    }
    const coding = untakenTransferCoding(method, status, response.headers['transfer-encoding']);
    if (coding !== undefined) {
      // Framing undici did not undo: its bytes are no body (a gzip transfer coding, or the chunks of
      // `chunked,` read to the close as they came). Refused, never kept as if whole; an error's or a
      // redirect's body, never kept, is let be.
      const error = new FetchallError('protocol', `unsupported Transfer-Encoding "${coding.slice(0, 100)}" (only chunked is decoded)`);
      response.abort(error);
      throw error;
    }
    let taken: boolean;
    try {
      taken = await receiveBody(env, state, response, resumeFrom, url.href, sent['range'] !== undefined && resumeFrom === 0);
    } catch (error) {
      // Whatever failed between the headers and the end of the body, the connection is let go.
      response.abort(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    if (taken) return;
    // Our Range got a part that does not continue the body held (another version of the file, another
    // offset or length): ask again for the whole body, in this same attempt. Not a redirect hop; at
    // most once, since the resume point is forgotten.
    state.resume = undefined;
    hop--;
  }
}

/**
 * A `Transfer-Encoding` whose body undici did not decode. llhttp takes chunked framing only from a
 * value whose last element is the word (`chunked,` is read to the close, chunk sizes and all) and
 * undoes no other coding; `identity` (an old name for none) changes nothing. So a value is taken when
 * its elements are `identity` but for a last `chunked`, or all `identity`. Responses without a body
 * (HEAD, 204, 304) carry none.
 */
export function untakenTransferCoding(method: string, status: number, value: string | string[] | undefined): string | undefined {
  if (value === undefined || method === 'HEAD' || status === 204 || status === 304) return undefined;
  if (Array.isArray(value)) return value.join(', ');
  const elements = value.split(',').map((element) => element.trim().toLowerCase());
  const framed = elements.at(-1) === 'chunked' ? elements.slice(0, -1) : elements;
  return framed.every((element) => element === '' || element === 'identity') ? undefined : value;
}

/**
 * A request that got no answer, named for where it failed when that is not plain from the entry's URL:
 * a proxy that refused the tunnel (its status is the record's, retried as that status would be), a
 * proxy silent after CONNECT (only a tunnel has a headers timeout: a request's own is off), a
 * certificate at a redirect's target rather than at the URL the record names.
 */
function sendFailure(error: unknown, state: EntryState, url: URL, hop: number): unknown {
  if (proxyAuthRefusal(error)) {
    state.status = 407;
    return new FetchallError('http_status', `HTTP 407 Proxy Authentication Required from the proxy, for ${url.host}`, {status: 407, retryable: false, cause: error});
  }
  const refused = tunnelRefusal(error);
  if (refused !== undefined) {
    state.status = refused;
    return new FetchallError('http_status', `HTTP ${refused} from the proxy: it refused the tunnel to ${url.host}`, {
      status: refused,
      retryable: RETRYABLE_STATUSES.has(refused),
      cause: error,
    });
  }
  if (codeOf(error) === 'UND_ERR_HEADERS_TIMEOUT') {
    return new FetchallError('timeout', `timed out: the proxy did not answer CONNECT to ${url.host} within --connect-timeout`, {retryable: true, cause: error});
  }
  if (hop === 0) return error;
  const failure = classify(error);
  if (failure.code !== 'tls') return failure;
  return new FetchallError('tls', `${failure.message} (at ${url.host}, a redirect's target)`, {retryable: false, cause: error});
}

function resumeOffset(state: EntryState): number {
  if (state.resume === undefined) return 0;
  return state.target === undefined ? state.discarded : state.target.size;
}

/**
 * The redirect target: a `Location` sent twice comes as an array, and counts as one, the first that is
 * not empty (curl and wget follow it too).
 */
function locationOf(value: string | string[] | undefined): string | undefined {
  if (!Array.isArray(value)) return value;
  return value.find((v) => v.trim() !== '') ?? value[0];
}

function nextHop(from: URL, location: string, visited: Set<string>, hops: number, max: number): URL {
  // The URL parser deletes a tab inside a URL: the hop would go to a URL the server never named.
  // curl refuses it too (one at either end is trimmed, by both).
  if (location.replace(/^[ \t]+|[ \t]+$/g, '').includes('\t')) {
    throw new FetchallError('protocol', `redirect to an invalid Location "${redactWholeUrl(readableLocation(location)).slice(0, 200)}": it holds a tab`);
  }
  let next: URL;
  try {
    next = new URL(escapeRawBytes(location), from);
  } catch {
    throw new FetchallError('protocol', `redirect to an invalid Location "${redactWholeUrl(readableLocation(location)).slice(0, 200)}"`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new FetchallError('protocol', `redirect to unsupported scheme "${next.protocol.slice(0, -1)}"`);
  }
  next.hash = '';
  // Compared as sent: credentials in a Location are never used (the origin's own are sent again when
  // the chain comes back to it), so `http://u:p@h/a` after `http://h/a` is the same request again.
  const sent = withoutCredentials(next);
  if (visited.has(sent)) throw new FetchallError('too_many_redirects', `redirect loop: ${sent} was already visited`);
  if (hops > max) throw new FetchallError('too_many_redirects', `more than ${max} redirects`);
  return next;
}

/**
 * A header value arrives as Latin-1: each raw byte one character. A Location with raw UTF-8 (`/é` as
 * C3 A9) would be percent-encoded character by character into mojibake (`%C3%83%C2%A9`); escaping
 * each byte above 0x7F first sends the server its own bytes back (`%C3%A9`), as curl does.
 * @example escapeRawBytes('/\u00c3\u00a9') === '/%C3%A9'
 */
function escapeRawBytes(value: string): string {
  return value.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A Location as the server wrote it, for a message: its raw bytes read as UTF-8 when they are that. */
function readableLocation(value: string): string {
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : escapeRawBytes(value);
}

/**
 * Makes the decoders for a body from its first bytes (only `deflate` needs to look at them): one per
 * coding, in the order they undo the codings (the last one applied first).
 */
type DecoderFactory = (head: Buffer) => Transform[];

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
function decoderFor(encoding: string | string[] | undefined): DecoderFactory | undefined {
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

/**
 * Take a final response's body into the entry's target; false when it was not taken (a 206 that does
 * not continue the body our Range asked about: the caller asks again for the whole body). `userRange`:
 * the user asked for a Range themselves (`-H 'Range: …'`): the 206 they asked for is the body, and a
 * broken one starts over rather than resuming with a Range of ours.
 */
async function receiveBody(env: AttemptEnvironment, state: EntryState, response: Exchange, resumeFrom: number, href: string, userRange: boolean): Promise<boolean> {
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
 * Feed a body through its decoders (made from its first chunk, piped one into the next) into `take`,
 * with backpressure both ways and errors from any of them. Bytes after the end of a compressed stream
 * are a broken body (`protocol`), as curl has it: zlib's gunzip refuses them itself (all but NUL
 * padding, which gzip(1) allows too), while inflate and brotli stop reading and would drop them unseen.
 */
function decodeInto(response: Exchange, makeDecoders: DecoderFactory, take: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let decoders: Transform[] | undefined;
    let failed = false;
    // Bytes given to each decoder; whether the body has ended, the decoded output (the last decoder)
    // has, and how many decoders have (an inner one may end before the outer one has read its last
    // bytes: each is judged once all have).
    const fed: number[] = [];
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
      // zlib's count of the input each decoder consumed; gunzip judges what follows its members itself.
      const unread = (decoders ?? []).map((decoder, i) => (decoder instanceof Gunzip ? 0 : fed[i]! - (decoder as Transform & {bytesWritten: number}).bytesWritten));
      const extra = unread.find((bytes) => bytes > 0);
      if (extra !== undefined) {
        fail(new FetchallError('protocol', `${extra} bytes after the end of the compressed body`));
        return;
      }
      resolve();
    };
    const start = (head: Buffer): Transform => {
      const made = makeDecoders(head);
      decoders = made;
      for (let i = 0; i + 1 < made.length; i++) {
        fed[i + 1] = 0;
        made[i]!.on('data', (chunk: Buffer) => (fed[i + 1]! += chunk.length));
        made[i]!.pipe(made[i + 1]!);
      }
      for (const decoder of made) {
        decoder.on('error', fail);
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
    fed[0] = 0;
    response
      .body((chunk) => {
        if (failed) return;
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
        fed[0]! += chunk.length;
        if (into.write(chunk)) return;
        return new Promise<void>((done) => into.once('drain', done));
      })
      .then(() => {
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
 * Read an error response's body only to count it (decoded when `decode` and its coding is one we
 * know): up to DISCARD_BYTES, then the connection is let go. Never throws: a broken or undecodable
 * body counts what came before the break.
 */
async function discardCounting(response: Exchange, decode: boolean): Promise<number> {
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

/** `bytes START-END/TOTAL` → start, and whether the part is the whole body. */
function parseContentRange(value: string | string[] | undefined): {start: number; end: number; total: number | undefined} | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(value ?? '').trim());
  if (match === null) return undefined;
  return {start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? undefined : Number(match[3])};
}
