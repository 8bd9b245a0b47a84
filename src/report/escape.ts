// Terminal escaping: text from a server or the input must never move the cursor, retitle the terminal,
// reorder what is shown or forge a line, and a URL's password is never printed.

/**
 * Characters shown escaped: C0 controls (NUL…US, so ESC, CR, LF and TAB too), DEL, C1 (U+0080–U+009F,
 * which some terminals read as CSI/OSC), the bidi embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069), the bidi marks (U+061C, U+200E, U+200F) and the line/paragraph separators
 * (U+2028, U+2029).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Make text safe to print on a terminal: every unsafe character becomes a visible escape, `\xHH` for
 * code points up to U+00FF and `\uHHHH` above (hex digits in lowercase). Everything else, backslash
 * included, is left as it is: the output is for people, so `\x1b` in the output is either an escaped
 * ESC or those four characters in the original text — ambiguous to read, but never harmful.
 *
 * @example
 * escapeText('a\x1b]0;pwned\x07b\r\n') // → 'a\\x1b]0;pwned\\x07b\\x0d\\x0a'
 * escapeText('abc\u202etxt.exe')       // → 'abc\\u202etxt.exe'
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `scheme://` or a special scheme's `scheme:` and the slashes after it, tried at one position (sticky):
 * the start of a `scheme://userinfo@` anywhere in a text. The scheme is capped at 32 characters, and it
 * may start inside a word: `?dsn=%22postgres://u:p@db` has one right after the `2` of `%22`. The special
 * schemes' other spellings that the URL parser takes (`http:u:p@h`, `http:\\u:p@h`, `http:///u:p@h`) count.
 */
const SCHEME_AT = /(?:https?|wss?|ftp):[/\\\t\n\r]*|[a-z][a-z\d+.-]{0,31}:\/\//iuy;

/**
 * What ends an authority: `/`, `?`, `#`, `\` and white space, except TAB, CR and LF, which the URL parser
 * strips and so may stand inside a userinfo.
 */
const AUTHORITY_END = /[/?#\\\v\f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g;

/**
 * Replace the password of every `scheme://user:password@` in a text with `***`, keeping the user name.
 * Works on any text (an error message, a string that does not parse as a URL). The userinfo ends at the
 * authority's last `@`, as the WHATWG parser does (`http://a:b@c@d/` has the password `b@c`); a userinfo
 * with no `:`, or with an empty password, is left as it is.
 *
 * A scan rather than one regular expression: a backtracking match over the authority is quadratic on a
 * hostile text (`@` then `http:` a million times) and overflows V8's regexp stack on a 9 MB userinfo,
 * and list lines may be 16 MiB. Here each colon is tried at most 32 times, and each authority is read once.
 *
 * @example
 * redactUrl('http://u:p@h/x')           // → 'http://u:***@h/x'
 * redactUrl('https://:token@h')         // → 'https://:***@h'
 * redactUrl('redirect to ftp://a:b@c/') // → 'redirect to ftp://a:***@c/'
 */
export function redactUrl(text: string): string {
  // No `@` or no `:`, no userinfo: a long URL (megabytes) is not scanned for nothing.
  if (!text.includes('@') || !text.includes(':')) return text;
  let out = '';
  let copied = 0; // text before this is in `out`
  let from = 0; // where the next scheme may start
  // The authority last read: it runs to `end`, and its last `@` at or after `start` is `at` (-1: none).
  let authority = {start: 0, end: 0, at: -1};
  for (let colon = text.indexOf(':', from); colon >= 0; colon = text.indexOf(':', from)) {
    let found = false;
    // `https` is the longest special scheme; a longer one needs `//` after its colon.
    const longest = text.startsWith('//', colon + 1) ? 32 : 5;
    for (let start = Math.max(from, colon - longest); start < colon && !found; start++) {
      SCHEME_AT.lastIndex = start;
      if (SCHEME_AT.exec(text) === null) continue;
      // A scheme's characters hold no colon, so this match ends with the slashes after `colon`.
      const userinfo = SCHEME_AT.lastIndex;
      if (userinfo < authority.start || userinfo >= authority.end) authority = readAuthority(text, userinfo);
      if (authority.at < userinfo) continue;
      found = true;
      out += text.slice(copied, userinfo) + maskPassword(text.slice(userinfo, authority.at)) + '@';
      copied = from = authority.at + 1;
    }
    if (!found) from = colon + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** The authority that starts at `start`: where it ends, and its last `@` (-1 if none). */
function readAuthority(text: string, start: number): {start: number; end: number; at: number} {
  AUTHORITY_END.lastIndex = start;
  const end = AUTHORITY_END.exec(text)?.index ?? text.length;
  // Within the authority only: a backward search from its end could run far past its start.
  const at = text.slice(start, end).lastIndexOf('@');
  return {start, end, at: at < 0 ? -1 : start + at};
}

/** `user:password` → `user:***`; a userinfo with no `:`, or with an empty password, as it is. */
function maskPassword(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  return colon < 0 || colon === userinfo.length - 1 ? userinfo : `${userinfo.slice(0, colon)}:***`;
}

// A whole URL as given (a list's URL text, a Location): its authority runs to the first `/`, `\`, `?`
// or `#`, spaces included (a JSON entry's URL may hold one, which the parser percent-encodes); the
// scheme may be missing (`//u:p@h`, `u:p@h:3128`). What comes before the userinfo is matched once, in
// a lookahead (which does not backtrack): giving back white space or a scheme never finds an `@` the
// greedy match missed, and trying it made a text of many blanks and no `@` in its authority quadratic.
const WHOLE_URL_USERINFO = /^(?=(\s*(?:[a-z][a-z\d+.-]*:)?[/\\\t\n\r]*))\1([^/\\?#]*)@/iu;

/**
 * {@link redactUrl} for a text that is one URL as given (an entry's `url`): also a password with spaces
 * in it, which in free text would end the match. The special schemes' other spellings that the URL
 * parser takes (`http:u:p@h`, `http:\\u:p@h`, `http:///u:p@h`) are redacted by both.
 * @example redactWholeUrl('http://u:sec ret@h/') // → 'http://u:***@h/'
 */
export function redactWholeUrl(text: string): string {
  if (!text.includes('@')) return text;
  return redactUrl(text.replace(WHOLE_URL_USERINFO, (_match, scheme: string, userinfo: string) => `${scheme}${maskPassword(userinfo)}@`));
}

/**
 * Redact, then escape: the form in which any URL, message or name that came from a server or the input
 * is printed.
 *
 * @example
 * safeUrl('https://u:p@h/\x1b[2J') // → 'https://u:***@h/\\x1b[2J'
 */
export function safeUrl(text: string): string {
  return escapeText(redactUrl(text));
}
