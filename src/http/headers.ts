// Which headers a request carries: ours, the user's, the entry's, and the few that cross origins.
import type {RunOptions} from '../options.js';
import type {Entry} from '../record.js';

/** Headers that may follow a redirect to another origin; everything else the user gave stays home. */
const CROSS_ORIGIN_SAFE: ReadonlySet<string> = new Set(['accept', 'accept-language', 'user-agent']);

/** What --compressed asks for, unless the user set Accept-Encoding themselves. */
const COMPRESSED = 'gzip, deflate, br';

/**
 * The URL as sent: without user name or password (they travel as Authorization instead), and without
 * a fragment (never sent; a redirect's is dropped too, so `final_url` is the same either way).
 */
export function withoutCredentials(url: URL): string {
  // An empty fragment (`/y#`) has an empty `hash` too, but its `#` is in `href`.
  if (url.username === '' && url.password === '' && url.hash === '' && !url.href.endsWith('#')) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.hash = '';
  return copy.href;
}

/**
 * The request target: path and query. An empty query keeps its `?` (`/x?` and `/x` are two URLs, and
 * curl sends the `?`); the URL's `search` is empty for both.
 * @example requestTarget(new URL('http://h/x?')) // → '/x?'
 */
export function requestTarget(url: URL): string {
  if (url.search !== '') return url.pathname + url.search;
  return withoutFragment(url).endsWith('?') ? `${url.pathname}?` : url.pathname;
}

/**
 * `href` up to its fragment, an empty one (`#` alone, whose `hash` is empty) included.
 * @example withoutFragment(new URL('http://h/x?#')) // → 'http://h/x?'
 */
export function withoutFragment(url: URL): string {
  const fragment = url.href.indexOf('#');
  return fragment < 0 ? url.href : url.href.slice(0, fragment);
}

/**
 * The headers for a request to the entry's own origin: defaults, `-H`, then the entry's headers,
 * plus Basic credentials from the URL and Accept-Encoding with --compressed.
 */
export function requestHeaders(options: RunOptions, entry: Entry, origin: URL): Readonly<Record<string, string>> {
  const plain = entry.headers === undefined && origin.username === '' && origin.password === '';
  if (plain) {
    // Most entries send exactly the run's headers: one shared object, not a copy per request.
    let shared = runHeaders.get(options);
    if (shared === undefined) {
      shared = Object.freeze(build(options, entry, origin));
      runHeaders.set(options, shared);
    }
    return shared;
  }
  return build(options, entry, origin);
}

const runHeaders = new WeakMap<RunOptions, Readonly<Record<string, string>>>();

function build(options: RunOptions, entry: Entry, origin: URL): Record<string, string> {
  // No prototype (so `__proto__` is a header name like any other, not a prototype to set).
  const headers = Object.assign(Object.create(null) as Record<string, string>, options.headers);
  if (entry.headers !== undefined) Object.assign(headers, entry.headers);
  // The user's own Accept-Encoding (or its removal) wins over --compressed, as with curl.
  if (options.compressed && headers['accept-encoding'] === undefined) headers['accept-encoding'] = COMPRESSED;
  if ((origin.username !== '' || origin.password !== '') && headers['authorization'] === undefined) {
    headers['authorization'] = 'Basic ' + Buffer.from(`${lenientlyDecoded(origin.username)}:${lenientlyDecoded(origin.password)}`).toString('base64');
  }
  // An empty value removes the header, a default one too (`-H 'Accept:'`), as curl does.
  for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
  return headers;
}

/** Percent-decoded, or as written where an escape is not valid UTF-8 (`%ZZ`, `%E0%A4`): sent as typed. */
function lenientlyDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * What crosses to another origin: Accept, Accept-Language, User-Agent, and the Accept-Encoding of
 * --compressed when it is fetchall's own (the user's own value stays home with their other headers).
 */
export function crossOriginHeaders(headers: Readonly<Record<string, string>>, options: RunOptions, entry: Entry): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) if (CROSS_ORIGIN_SAFE.has(name)) out[name] = value;
  if (options.compressed && options.headers['accept-encoding'] === undefined && entry.headers?.['accept-encoding'] === undefined) {
    out['accept-encoding'] = COMPRESSED;
  }
  return out;
}
