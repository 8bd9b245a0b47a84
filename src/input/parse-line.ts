// One list line → an Entry (valid or invalid_url), or null for a blank or comment line. Pure.
import type {Entry} from '../record.js';
import {toWire, validateHeaderPair} from '../parse/header.js';

// The WHATWG parser silently drops TAB/CR/LF and trims C0; we refuse them instead of guessing.
const CONTROL = /[\u0000-\u001f\u007f]/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const ENTRY_KEYS = new Set(['url', 'name', 'sha256', 'headers']);
// Under the u flag a well-formed pair is one code point: only a lone half is \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u;

/** Where a line came from, for messages such as `urls.txt:12: …`. */
export interface LineOrigin {
  readonly list: string;
  readonly line: number;
  /** The line's bytes were not valid UTF-8 (decoded with U+FFFD in their place). */
  readonly notUtf8?: boolean | undefined;
  /** The line was longer than MAX_LINE_BYTES: `raw` is only its head. */
  readonly overlong?: boolean | undefined;
}

/**
 * Parse and validate a URL text: http(s) only, no control characters.
 * @returns the URL, or a problem description.
 */
export function parseTargetUrl(text: string): URL | string {
  if (CONTROL.test(text)) return 'the URL contains a control character';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // `localhost:8080/x` parses with the scheme "localhost": say what is missing instead.
    if (/^[^:/]+:\d/.test(text) || /^[^:/]*\.[^:/]*:/.test(text)) return 'not a valid URL: it needs http:// or https:// in front';
    return `unsupported scheme "${url.protocol.slice(0, -1)}" (only http and https)`;
  }
  if (url.hostname === '') return 'the URL has no host';
  return url;
}

/**
 * Whether a line's text (an overlong line's head) is an entry rather than blank or a comment: the
 * reader's rule, which the count ahead shares so that the two cannot drift apart. An overlong line is
 * one invalid entry whatever follows its head, even a head of Unicode white space only (no-break
 * spaces), since what came after it is unknown; the head starts after any ASCII white space, so an
 * empty one is a line of nothing else, blank.
 * @example isEntryText(' # note', false) === false
 */
export function isEntryText(raw: string, overlong: boolean): boolean {
  const line = raw.trim();
  if (line.startsWith('#')) return false;
  return overlong ? raw !== '' : line !== '';
}

/**
 * Turn one line into an entry numbered `index`, or null when the line is blank or a comment.
 * @example parseLine('https://a.test/x  x.txt', 1, {list: 'urls.txt', line: 1})
 */
export function parseLine(raw: string, index: number, origin: LineOrigin): Entry | null {
  const line = raw.trim();
  const where = `${origin.list}:${origin.line}`;
  if (!isEntryText(raw, origin.overlong === true)) return null;
  if (origin.overlong === true) return invalid(index, `${line.slice(0, 100)}…`, `${where}: the line is longer than 16 MiB`);
  // Fetching the text with U+FFFD in place of the bytes would fetch another URL: refuse the line.
  if (origin.notUtf8 === true) {
    return invalid(index, line.startsWith('{') ? line : line.split(/[ \t]/, 1)[0]!, `${where}: the line is not valid UTF-8 text`);
  }
  if (line.startsWith('{')) return parseJsonEntry(line, index, where);
  // A blank is a space or a tab. Other white space (a no-break space pasted from a web page, a lone CR)
  // is part of the URL: encoded as curl encodes it, or refused as a control character.
  const gap = line.search(/[ \t]/);
  const url = gap === -1 ? line : line.slice(0, gap);
  const name = gap === -1 ? undefined : line.slice(gap).trim() || undefined;
  const target = parseTargetUrl(url);
  if (typeof target === 'string') return invalid(index, url, `${where}: ${target}`);
  // Only LF and CRLF end a line: a CR (or VT, FF) left in a NAME is a list saved with old Mac line
  // ends, whose lines all ran into this one's NAME (one URL fetched, the rest lost in a file name).
  const breaker = name === undefined ? null : /[\r\v\f]/.exec(name);
  if (breaker !== null) {
    const what = breaker[0] === '\r' ? 'a carriage return' : breaker[0] === '\v' ? 'a vertical tab' : 'a form feed';
    return invalid(index, url, `${where}: the line holds ${what} inside it (${breaker[0] === '\r' ? 'a list with CR line ends? ' : ''}only LF or CRLF end a line)`);
  }
  return {index, url, target, name};
}

function invalid(index: number, url: string, message: string): Entry {
  return {index, url, target: undefined, invalid: message};
}

function parseJsonEntry(line: string, index: number, where: string): Entry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return invalid(index, line, `${where}: not valid JSON`);
  }
  return entryFromValue(value, index, where, line);
}

/**
 * Validate an entry object (`{url, name, sha256, headers}`) as a JSON line or the library gives it.
 * `raw` is what the record's `url` shows when there is no usable `url`.
 */
/**
 * An object literal (or JSON's, or one made with a null prototype), not an instance of a class: a
 * `Headers`, a `Map` or a `Request` has no own enumerable keys, so its headers or URL would be lost
 * without a word.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return true;
  // Another realm's Object.prototype (a `node:vm` context's, a test runner's sandbox): the last link of
  // its chain, with that realm's Object as its own constructor. A prototype made with
  // Object.create(null) has none: its keys would be inherited, and only own keys are read.
  if (Object.getPrototypeOf(proto) !== null || !Object.hasOwn(proto as object, 'constructor')) return false;
  const constructor: unknown = (proto as {constructor: unknown}).constructor;
  return typeof constructor === 'function' && constructor.name === 'Object';
}

/** What an object is, for a message: `Headers`, `Map`, `an array`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return typeof value;
  if (isPlainObject(value)) return 'an object';
  const name: unknown = (Object.getPrototypeOf(value) as {constructor?: {name?: unknown}} | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'an object';
}

export function entryFromValue(value: unknown, index: number, where: string, raw: string): Entry {
  const line = raw;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(index, line, `${where}: a JSON entry must be an object`);
  }
  if (!isPlainObject(value)) return invalid(index, line, `${where}: an entry must be a plain object like {url, name} (got ${kindOf(value)})`);
  const object = value as Record<string, unknown>;
  const url = object['url'];
  if (typeof url !== 'string') return invalid(index, line, `${where}: "url" must be a string`);
  // JSON can spell half a UTF-16 pair (`\ud800`): sent, it would become U+FFFD, another URL or value.
  for (const text of [url, ...(isPlainObject(object['headers']) ? Object.entries(object['headers']).flat() : [])]) {
    if (typeof text === 'string' && LONE_SURROGATE.test(text)) return invalid(index, url, `${where}: a lone UTF-16 surrogate (\\u${text.codePointAt(text.search(LONE_SURROGATE))!.toString(16)}) is not text`);
  }
  for (const key of Object.keys(object)) {
    if (!ENTRY_KEYS.has(key)) return invalid(index, url, `${where}: unknown key "${key}"`);
  }
  const {name, sha256, headers} = object;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    return invalid(index, url, `${where}: "name" must be a non-empty string`);
  }
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !SHA256.test(sha256))) {
    return invalid(index, url, `${where}: "sha256" must be 64 hex digits`);
  }
  let entryHeaders: Record<string, string> | undefined;
  if (headers !== undefined) {
    if (!isPlainObject(headers)) {
      return invalid(index, url, `${where}: "headers" must be a plain object of strings (got ${kindOf(headers)})`);
    }
    // No prototype: a header named `__proto__` is a header like any other.
    entryHeaders = Object.create(null) as Record<string, string>;
    for (const [key, v] of Object.entries(headers as Record<string, unknown>)) {
      if (typeof v !== 'string') return invalid(index, url, `${where}: header "${key}" must be a string`);
      const problem = validateHeaderPair(key, v);
      if (problem !== null) return invalid(index, url, `${where}: ${problem}`);
      // Trimmed as -H trims: HTTP's optional white space (space, tab), not U+00A0 and the like.
      entryHeaders[key.toLowerCase()] = toWire(v.replace(/^[ \t]+|[ \t]+$/g, ''));
    }
  }
  const target = parseTargetUrl(url);
  if (typeof target === 'string') return invalid(index, url, `${where}: ${target}`);
  return {
    index,
    url,
    target,
    name: typeof name === 'string' ? name.trim() : undefined,
    sha256: typeof sha256 === 'string' ? sha256.toLowerCase() : undefined,
    headers: entryHeaders,
  };
}
