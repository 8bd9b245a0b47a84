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
 * `scheme://userinfo@` anywhere in a text. The authority runs to the first `/`, `?`, `#`, `\` or white
 * space (TAB, CR and LF are allowed inside, since the URL parser strips them), and the greedy match makes
 * the userinfo end at the authority's last `@`, as the WHATWG parser does (`http://a:b@c@d/` has the
 * password `b@c`). The scheme is capped at 32 characters so that scanning a long text stays linear. It
 * may start inside a word: `?dsn=%22postgres://u:p@db` has one right after the `2` of `%22`.
 */
const USERINFO = /((?:https?|wss?|ftp):(?:[/\\]|[\t\n\r])*|[a-z][a-z\d+.-]{0,31}:\/\/)((?:[^\s/?#\\]|[\t\n\r])*)@/giu;

/**
 * Replace the password of every `scheme://user:password@` in a text with `***`, keeping the user name.
 * Works on any text (an error message, a string that does not parse as a URL). A userinfo with no `:`,
 * or with an empty password, is left as it is.
 *
 * @example
 * redactUrl('http://u:p@h/x')           // → 'http://u:***@h/x'
 * redactUrl('https://:token@h')         // → 'https://:***@h'
 * redactUrl('redirect to ftp://a:b@c/') // → 'redirect to ftp://a:***@c/'
 */
export function redactUrl(text: string): string {
  // No `@`, no userinfo: a long URL (megabytes) is not scanned at 32 steps a character for nothing.
  if (!text.includes('@')) return text;
  return text.replace(USERINFO, (match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    if (colon < 0 || colon === userinfo.length - 1) return match;
    return `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

// A whole URL as given (a list's URL text, a Location): its authority runs to the first `/`, `\`, `?`
// or `#`, spaces included (a JSON entry's URL may hold one, which the parser percent-encodes); the
// scheme may be missing (`//u:p@h`, `u:p@h:3128`).
const WHOLE_URL_USERINFO = /^(\s*(?:[a-z][a-z\d+.-]*:)?[/\\\t\n\r]*)([^/\\?#]*)@/iu;

/**
 * {@link redactUrl} for a text that is one URL as given (an entry's `url`): also a password with spaces
 * in it, which in free text would end the match. The special schemes' other spellings that the URL
 * parser takes (`http:u:p@h`, `http:\\u:p@h`, `http:///u:p@h`) are redacted by both.
 * @example redactWholeUrl('http://u:sec ret@h/') // → 'http://u:***@h/'
 */
export function redactWholeUrl(text: string): string {
  return redactUrl(text.replace(WHOLE_URL_USERINFO, (match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    if (colon < 0 || colon === userinfo.length - 1) return match;
    return `${scheme}${userinfo.slice(0, colon)}:***@`;
  }));
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
