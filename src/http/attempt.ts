// One attempt at one entry: follow redirects ourselves, then stream the body into its target.
import type {Hash} from 'node:crypto';
import type {Dispatcher} from 'undici';
import {Exchange, failedUnanswered} from './exchange.js';
import {classify, codeOf, proxyAuthRefusal, RETRYABLE_STATUSES, tunnelRefusal} from '../classify.js';
import {FetchallError, OutputError} from '../errors.js';
import type {RunOptions} from '../options.js';
import type {Entry} from '../record.js';
import type {BodySink, BodyTarget} from '../sinks/types.js';
import {parseRetryAfter} from './retry-policy.js';
import {crossOriginHeaders, requestHeaders, requestTarget, withoutCredentials} from './headers.js';
import {discardCounting} from './decode-body.js';
import {receiveBody} from './receive-body.js';
import {locationOf, nextHop, REDIRECTS} from './redirect.js';

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
