// Parses `-H 'Name: value'` and checks any header name/value pair (from `-H` or a JSON entry).

import {UsageError} from '../errors.js';

/** RFC 7230 `token`: the characters a header name may use. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers fetchall owns. The first four are the contract's; undici refuses the other three outright
 * (`keep-alive`, `upgrade`) or does not support them (`expect`), so they are rejected up front too.
 */
export const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
]);

const CR_LF_NUL = /[\r\n\0]/;
// What undici accepts in a value (its `headerCharRegex`): TAB, visible ASCII, space and Latin-1 bytes.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Checks one header pair. Returns a short problem description (no flag, no value quoted), or null when
 * it may be sent: the name must be an RFC 7230 token and not one of {@link FORBIDDEN_HEADERS}
 * (case-insensitively); neither may contain CR, LF or NUL; the value may hold no other control
 * character. Non-ASCII text is allowed: {@link toWire} sends it as UTF-8.
 *
 * @example
 * validateHeaderPair('X-Api-Key', 'abc');   // null
 * validateHeaderPair('X-Api-Key', 'a\r\nb'); // 'header "X-Api-Key" contains CR, LF or NUL'
 * validateHeaderPair('Host', 'a.test');     // 'header "Host" cannot be set'
 */
export function validateHeaderPair(name: string, value: string): string | null {
  if (CR_LF_NUL.test(name) || CR_LF_NUL.test(value)) {
    return `header ${JSON.stringify(name)} contains CR, LF or NUL`;
  }
  if (name === '') {
    return 'header name is empty';
  }
  if (!TOKEN.test(name)) {
    return `header name ${JSON.stringify(name)} is not a valid token (letters, digits and !#$%&'*+-.^_\`|~ only)`;
  }
  if (FORBIDDEN_HEADERS.has(name.toLowerCase())) {
    return `header ${JSON.stringify(name)} cannot be set`;
  }
  if (CONTROL.test(value)) {
    return `header ${JSON.stringify(name)} has a control character in its value`;
  }
  return null;
}

/**
 * Parses `Name: value` (split at the first colon) into a lowercased name and a value trimmed of
 * surrounding spaces and tabs. An empty value is allowed. Throws a {@link UsageError} naming `flag` and
 * quoting the text for a missing colon or any problem {@link validateHeaderPair} finds.
 *
 * @example
 * parseHeader('X-Api-Key:  abc ', '-H'); // ['x-api-key', 'abc']
 * parseHeader('Host: a.test', '-H');     // throws: -H: header "Host" cannot be set (got "Host: a.test")
 */
export function parseHeader(text: string, flag: string): [name: string, value: string] {
  const colon = text.indexOf(':');
  if (colon === -1 && !CR_LF_NUL.test(text)) {
    throw new UsageError(`${flag} must be "Name: value" (got ${JSON.stringify(text)})`);
  }
  const name = colon === -1 ? text : text.slice(0, colon);
  const value = colon === -1 ? '' : text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  const problem = validateHeaderPair(name, value);
  if (problem !== null) {
    throw new UsageError(`${flag}: ${problem} (got ${JSON.stringify(text)})`);
  }
  return [name.toLowerCase(), toWire(value)];
}

/**
 * A header value as undici must be given it: one character per byte on the wire. Text beyond ASCII
 * goes out as its UTF-8 bytes, as curl sends what was typed (undici would send `é` as the one byte
 * E9, and refuse `例` outright).
 * @example toWire('café') === 'caf\u00c3\u00a9'
 */
export function toWire(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}
