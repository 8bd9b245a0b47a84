// The first bytes of a response, looked at before undici's parser reads them (see connector.ts).

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const VERSION = 'HTTP/1.';
// A status line, or an interim head, longer than this is handed over as it is, for undici to judge.
const MAX_STATUS_LINE_BYTES = 8 * 1024;
const MAX_INTERIM_BYTES = 64 * 1024;

/**
 * What to do with the bytes that start a response, before undici's parser sees them:
 * - a number above 0: drop that many, then look again: empty lines before the status line, or a
 *   whole interim head (any 1xx but 101: undici refuses a `100 Continue` it did not ask for, and
 *   after a 102 or 103 it stopped looking, so a 100 there failed the response);
 * - 0: hand the bytes over as they are: a final status line that is whole (undici keeps only the last
 *   piece of a reason phrase that arrives in pieces: `HTTP 404 ound`), or bytes that cannot become a
 *   valid status line or head (a bare CR or LF, a letter in the code), which undici refuses at once;
 * - -1: wait for more bytes.
 * Lenient only where undici is strict against RFC 9110; everything else is undici's to judge.
 * @example responseStart(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n')) === 25
 */
export function responseStart(data: Buffer): number {
  const n = data.length;
  if (n === 0) return -1;
  let i = 0;
  while (i < n && (data[i] === CR || data[i] === LF)) i++;
  if (i > 0) return i;
  // HTTP/1.x SP 3DIGIT
  for (; i < Math.min(n, 12); i++) {
    const byte = data[i]!;
    const ok = i < 7 ? byte === VERSION.charCodeAt(i) : i === 7 ? byte === 0x30 || byte === 0x31 : i === 8 ? byte === SP : byte >= 0x30 && byte <= 0x39;
    if (!ok) return 0;
  }
  if (n < 12) return -1;
  // [SP reason-phrase] CRLF; the phrase is HTAB, SP, visible ASCII and bytes above it.
  let end = -1;
  for (i = 12; i < n; i++) {
    const byte = data[i]!;
    if (byte === CR) {
      end = i;
      break;
    }
    const ok = i === 12 ? byte === SP : byte === HTAB || (byte >= SP && byte !== 0x7f);
    if (!ok || i > MAX_STATUS_LINE_BYTES) return 0;
  }
  if (end < 0 || end + 1 >= n) return -1;
  if (data[end + 1] !== LF) return 0;
  const status = (data[9]! - 0x30) * 100 + (data[10]! - 0x30) * 10 + (data[11]! - 0x30);
  if (status < 100 || status > 199 || status === 101) return 0;
  // An interim head: header lines up to an empty one, each ending in CRLF, each `name:` first. One that
  // is not goes to undici, which refuses it as it would in a final head.
  let lineStart = end + 2;
  for (i = lineStart; i < n; i++) {
    const byte = data[i]!;
    if (byte === LF || i > MAX_INTERIM_BYTES) return 0;
    if (byte !== CR) continue;
    if (i + 1 >= n) return -1;
    if (data[i + 1] !== LF) return 0;
    if (i === lineStart) return i + 2;
    if (!isHeaderLine(data, lineStart, i)) return 0;
    lineStart = i + 2;
    i++;
  }
  return -1;
}

// RFC 9110's tchar: the bytes a header name is made of.
const TOKEN = new Uint8Array(128);
for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[char.charCodeAt(0)] = 1;

/** `data[from, to)` starts with a header name and a colon (no obs-fold, no space before the colon). */
function isHeaderLine(data: Buffer, from: number, to: number): boolean {
  let i = from;
  while (i < to && data[i]! < 128 && TOKEN[data[i]!] === 1) i++;
  return i > from && i < to && data[i] === 0x3a;
}
