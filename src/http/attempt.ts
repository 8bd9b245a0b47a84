// One attempt at one entry: follow redirects ourselves, then stream the body into its target.
import {createHash, type Hash} from 'node:crypto';
import type {Readable} from 'node:stream';
import {createBrotliDecompress, createGunzip, createInflate} from 'node:zlib';
import type {Dispatcher} from 'undici';
import {classify, RETRYABLE_STATUSES} from '../classify.js';
import {FetchallError, OutputError} from '../errors.js';
import type {RunOptions} from '../options.js';
import type {Entry} from '../record.js';
import type {BodySink, BodyTarget} from '../sinks/types.js';
import {parseRetryAfter} from './retry-policy.js';
import {crossOriginHeaders, requestHeaders, withoutCredentials} from './headers.js';

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Run-wide things an attempt uses. */
export interface AttemptEnvironment {
  readonly options: RunOptions;
  readonly dispatcher: Dispatcher;
  readonly sink: BodySink | undefined;
  /** Waits for the start-rate limiter; every request sent (hops and retries too) passes through. */
  readonly beforeRequest: (signal: AbortSignal) => Promise<void> | void;
  /** A 429/503 with Retry-After pauses the whole host. */
  readonly pauseHost: (hostKey: string, waitMs: number) => void;
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
  /** Validator for a Range resume (strong ETag or Last-Modified), when the last 200 offered ranges. */
  resumeValidator: string | undefined;
}

/**
 * The host key the per-host limit and pauses use: host name and port, the scheme's default port
 * spelled out (`http://a.test` and `https://a.test` are two hosts; `a.test` and `a.test:80` one).
 * @example hostKey(new URL('https://a.test/x')); // 'a.test:443'
 */
export function hostKey(url: URL): string {
  return `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port}`;
}

function wantsHash(env: AttemptEnvironment, state: EntryState): boolean {
  return env.options.checksum || state.entry.sha256 !== undefined;
}

/**
 * Make one attempt. Resolves when the body is complete and verified (not yet committed);
 * throws a FetchallError (or OutputError for a fatal write) otherwise.
 */
export async function attempt(env: AttemptEnvironment, state: EntryState, signal: AbortSignal): Promise<void> {
  const {options} = env;
  const origin = state.entry.target!;
  let url = origin;
  let headers = requestHeaders(options, state.entry, origin);
  let method = options.method;
  const visited = new Set<string>([url.href]);
  for (let hop = 0; ; hop++) {
    const resumeFrom = hop === 0 ? resumeOffset(state) : 0;
    const sent = resumeFrom > 0 ? {...headers, range: `bytes=${resumeFrom}-`, 'if-range': state.resumeValidator!} : headers;
    await env.beforeRequest(signal);
    state.finalUrl = withoutCredentials(url);
    const response = await env.dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method,
      headers: sent,
      signal,
      headersTimeout: options.idleTimeout,
      bodyTimeout: options.idleTimeout,
    });
    const status = response.statusCode;
    state.status = status;
    const location = response.headers.location;
    if (REDIRECTS.has(status) && typeof location === 'string' && options.maxRedirects > 0) {
      await dump(response.body);
      const next = nextHop(url, location, visited, hop + 1, options.maxRedirects);
      if (status === 303 && method !== 'HEAD') method = 'GET';
      // The user's headers belong to the origin they named: another origin gets only the safe few.
      const home = requestHeaders(options, state.entry, origin);
      headers = next.origin === origin.origin ? home : crossOriginHeaders(home);
      visited.add(next.href);
      url = next;
      continue;
    }
    if (status >= 400) {
      await dump(response.body);
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
      if ((status === 429 || status === 503) && retryAfterMs !== undefined) {
        env.pauseHost(hostKey(url), Math.min(retryAfterMs, options.retryMaxDelay));
      }
      throw new FetchallError('http_status', `HTTP ${status}${response.statusText ? ' ' + response.statusText : ''}`, {
        status,
        retryable: RETRYABLE_STATUSES.has(status),
        retryAfterMs,
      });
    }
    await receiveBody(env, state, response, resumeFrom);
    return;
  }
}

function resumeOffset(state: EntryState): number {
  return state.target !== undefined && state.target.size > 0 && state.resumeValidator !== undefined ? state.target.size : 0;
}

function nextHop(from: URL, location: string, visited: Set<string>, hops: number, max: number): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new FetchallError('protocol', `redirect to an invalid Location "${location.slice(0, 200)}"`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new FetchallError('protocol', `redirect to unsupported scheme "${next.protocol.slice(0, -1)}"`);
  }
  next.hash = '';
  if (visited.has(next.href)) {
    throw new FetchallError('too_many_redirects', `redirect loop: ${withoutCredentials(next)} was already visited`);
  }
  if (hops > max) throw new FetchallError('too_many_redirects', `more than ${max} redirects`);
  return next;
}

async function dump(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump({limit: 64 * 1024});
  } catch {
    // A broken error page body does not change the verdict on the response.
  }
}

function decoderFor(encoding: string | string[] | undefined): NodeJS.ReadWriteStream | undefined {
  const value = (Array.isArray(encoding) ? encoding.join(',') : encoding ?? '').trim().toLowerCase();
  if (value === 'gzip' || value === 'x-gzip') return createGunzip();
  if (value === 'deflate') return createInflate();
  if (value === 'br') return createBrotliDecompress();
  return undefined;
}

async function receiveBody(env: AttemptEnvironment, state: EntryState, response: Dispatcher.ResponseData, resumeFrom: number): Promise<void> {
  const {options} = env;
  const headers = response.headers;
  const encoding = headers['content-encoding'];
  const identity = encoding === undefined || encoding === 'identity';
  const range = response.statusCode === 206 ? parseContentRange(headers['content-range']) : undefined;
  if (response.statusCode === 206 && !(resumeFrom > 0 && range?.start === resumeFrom) && !(range?.start === 0 && range.complete)) {
    // A part we did not ask for (or not where we asked) is never taken for the whole body.
    await dump(response.body);
    throw new FetchallError('protocol', `unexpected 206 Partial Content (Content-Range: ${String(headers['content-range'] ?? 'none').slice(0, 100)})`);
  }
  if (response.statusCode === 206 && resumeFrom > 0 && range?.start === resumeFrom) {
    // The server continues where the broken body stopped: keep the bytes, the hash and the count.
  } else {
    if (state.target !== undefined && state.target.size > 0) await state.target.reset();
    state.bytes = 0;
    state.hash = undefined;
    const ranges = String(headers['accept-ranges'] ?? '').toLowerCase().includes('bytes');
    const etag = typeof headers.etag === 'string' && !headers.etag.startsWith('W/') ? headers.etag : undefined;
    const lastModified = typeof headers['last-modified'] === 'string' ? headers['last-modified'] : undefined;
    state.resumeValidator = ranges && identity && response.statusCode === 200 ? etag ?? lastModified : undefined;
  }
  if (wantsHash(env, state) && state.hash === undefined) state.hash = createHash('sha256');
  if (options.method === 'HEAD') {
    await dump(response.body);
    return;
  }
  const decoder = options.compressed ? decoderFor(encoding) : undefined;
  const declared = Number(headers['content-length']);
  if (options.maxSize !== undefined && decoder === undefined && Number.isFinite(declared) && resumeFrom + declared > options.maxSize && response.statusCode !== 206) {
    response.body.destroy();
    throw new FetchallError('too_large', `body of ${declared} bytes is larger than --max-size ${options.maxSize}`);
  }
  if (env.sink !== undefined && state.target === undefined) state.target = env.sink.open(state.entry, state.name);
  const stream: Readable = decoder === undefined ? response.body : decode(response.body, decoder);
  const target = state.target;
  const maxSize = options.maxSize ?? Infinity;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      state.bytes += chunk.length;
      if (state.bytes > maxSize) {
        throw new FetchallError('too_large', `body is larger than --max-size ${options.maxSize} bytes`);
      }
      state.hash?.update(chunk);
      if (target !== undefined) {
        const pending = target.write(chunk);
        if (pending !== undefined) await pending;
      }
    }
  } catch (error) {
    stream.destroy();
    if (error instanceof FetchallError || error instanceof OutputError) throw error;
    throw classify(error);
  }
}

/** `bytes START-END/TOTAL` → start, and whether the part is the whole body. */
function parseContentRange(value: string | string[] | undefined): {start: number; complete: boolean} | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(value ?? '').trim());
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return {start, complete: match[3] !== '*' && end + 1 === Number(match[3])};
}

/** Pipe a body through a decoder, carrying errors (and destruction) both ways. */
function decode(body: Readable, decoder: NodeJS.ReadWriteStream): Readable {
  const out = decoder as unknown as Readable;
  body.on('error', (error) => out.destroy(error));
  out.on('close', () => body.destroy());
  body.pipe(decoder);
  return out;
}
