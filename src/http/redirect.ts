// Redirects as fetchall follows them itself: which answers are hops, and where the next hop goes.
import {Buffer, isUtf8} from 'node:buffer';
import {FetchallError} from '../errors.js';
import {redactWholeUrl} from '../report/escape.js';
import {withoutCredentials} from './headers.js';

/** The statuses followed when they carry a `Location` (303 becomes GET; the others keep the method). */
export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * The redirect target: a `Location` sent twice comes as an array, and counts as one, the first that is
 * not empty (curl and wget follow it too).
 */
export function locationOf(value: string | string[] | undefined): string | undefined {
  if (!Array.isArray(value)) return value;
  return value.find((v) => v.trim() !== '') ?? value[0];
}

/**
 * The next hop's URL from a `Location` (resolved against the URL that sent it, fragment dropped), or
 * `protocol` (a Location that does not parse, holds a tab, or names another scheme) or
 * `too_many_redirects` (a URL already in `visited`, compared without credentials, or `hops` over `max`).
 * @example nextHop(new URL('http://a.test/x'), '/y', new Set(), 1, 10).href === 'http://a.test/y'
 */
export function nextHop(from: URL, location: string, visited: Set<string>, hops: number, max: number): URL {
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
  if (hops > max) throw new FetchallError('too_many_redirects', `more than ${max} ${max === 1 ? 'redirect' : 'redirects'}`);
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
