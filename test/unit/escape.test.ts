// Terminal escaping and password masking: nothing printed can steer the terminal or leak a password.
import {describe, expect, test} from 'vitest';
import {escapeText, redactUrl, redactWholeUrl, safeUrl} from '../../src/report/escape.js';

describe('escapeText', () => {
  test.each([
    ['plain text', 'https://a.test/x?y=1', 'https://a.test/x?y=1'],
    ['CSI clear screen', 'a\x1b[2Jb', 'a\\x1b[2Jb'],
    ['CSI cursor up', '\x1b[1A\x1b[2K', '\\x1b[1A\\x1b[2K'],
    ['OSC retitle (BEL)', '\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
    ['OSC 8 hyperlink (ST)', '\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\', '\\x1b]8;;http://evil\\x1b\\x\\x1b]8;;\\x1b\\'],
    ['CR forging a line', 'https://a.test/x\r  OK https://b.test/', 'https://a.test/x\\x0d  OK https://b.test/'],
    ['LF forging a line', 'x\nfetchall: 0 failed', 'x\\x0afetchall: 0 failed'],
    ['TAB and NUL', 'a\tb\0c', 'a\\x09b\\x00c'],
    ['DEL and backspace', 'ab\x7f\x08', 'ab\\x7f\\x08'],
    ['C1 CSI and NEL', 'a\u009b31mb\u0085', 'a\\x9b31mb\\x85'],
    ['C1 boundaries', '\u0080\u009f\u00a0', '\\x80\\x9f\u00a0'],
    ['bidi override', 'invoice\u202egpj.exe', 'invoice\\u202egpj.exe'],
    ['bidi embeddings', '\u202a\u202b\u202c\u202d', '\\u202a\\u202b\\u202c\\u202d'],
    ['bidi isolates', '\u2066a\u2067b\u2068c\u2069', '\\u2066a\\u2067b\\u2068c\\u2069'],
    ['bidi marks and separators', '\u200e\u200f\u061c\u2028\u2029', '\\u200e\\u200f\\u061c\\u2028\\u2029'],
    ['non-ASCII text is kept', 'https://例子.测试/路径 ü 😀', 'https://例子.测试/路径 ü 😀'],
    ['backslash is kept as is', 'a\\b', 'a\\b'],
  ])('%s', (_name, input, expected) => {
    expect(escapeText(input)).toBe(expected);
  });

  test('no control character survives', () => {
    const all = Array.from({length: 0xa0}, (_, i) => String.fromCharCode(i)).join('');
    const escaped = escapeText(all);
    expect(escaped).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/u);
  });
});

describe('redactUrl', () => {
  test.each([
    ['user and password', 'http://u:p@h/', 'http://u:***@h/'],
    ['empty user', 'https://:p@h', 'https://:***@h'],
    ['no password', 'https://u@h/x', 'https://u@h/x'],
    // A connection string in a query, right after a percent escape or a digit: the scheme starts inside a word.
    ['after %22', 'http://h/x?dsn=%22postgres://admin:s2@db:5432/x%22', 'http://h/x?dsn=%22postgres://admin:***@db:5432/x%22'],
    ['after %20', 'http://h/x?q=%20redis://u:s1@db', 'http://h/x?q=%20redis://u:***@db'],
    ['after a dash', 'http://h/x?x=-amqp://u:s4@mq', 'http://h/x?x=-amqp://u:***@mq'],
    ['a scheme whose last letter is 5 characters before its colon', 'x1234://u:s6@h/', 'x1234://u:***@h/'],
    ['empty password', 'https://u:@h/x', 'https://u:@h/x'],
    ['no userinfo', 'https://h:8080/a:b@c', 'https://h:8080/a:b@c'],
    ['@ in the password (last @ ends the userinfo)', 'http://a:b@c@d/x', 'http://a:***@d/x'],
    ['colon in the password', 'http://a:b:c@d/', 'http://a:***@d/'],
    ['@ only in the query', 'https://h/?x=a:b@c', 'https://h/?x=a:b@c'],
    ['@ only in the fragment', 'https://h#a:b@c', 'https://h#a:b@c'],
    ['upper-case scheme', 'HTTPS://U:P@H/', 'HTTPS://U:***@H/'],
    ['port kept', 'http://u:secret@h:8080/p', 'http://u:***@h:8080/p'],
    ['inside a message', 'redirect to http://a:b@c/ refused', 'redirect to http://a:***@c/ refused'],
    ['two URLs', 'http://a:1@x/ -> https://b:2@y/', 'http://a:***@x/ -> https://b:***@y/'],
    ['not a parsable URL', 'http://u:p@[bad/', 'http://u:***@[bad/'],
    ['newline inside the userinfo', 'http://u:p\n@h/', 'http://u:***@h/'],
    ['space ends the authority', 'http://h and u:p@x', 'http://h and u:p@x'],
    ['other scheme', 'ftp://u:p@h/', 'ftp://u:***@h/'],
    ['special scheme without slashes', 'http:user:secret3@h/x', 'http:user:***@h/x'],
    ['special scheme with backslashes', 'http:\\\\user:secret4@h/x', 'http:\\\\user:***@h/x'],
    ['special scheme with three slashes', 'https:///user:secret5@h/x', 'https:///user:***@h/x'],
    ['a time in prose is no userinfo', 'at 10:30@noon', 'at 10:30@noon'],
  ])('%s', (_name, input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactWholeUrl', () => {
  test.each([
    ['a space in the password', 'http://user:sec ret@h/x', 'http://user:***@h/x'],
    ['leading space and upper case', ' HTTP://U:P Q@H/', ' HTTP://U:***@H/'],
    ['special scheme without slashes', 'http:u:p w@h', 'http:u:***@h'],
    ['no password', 'http://u@h/a:b@c', 'http://u@h/a:b@c'],
    ['an embedded URL is redacted too', 'http://h/?next=http://a:b@c/', 'http://h/?next=http://a:***@c/'],
    ['scheme-relative', '//u:p@h/x', '//u:***@h/x'],
    ['no userinfo, no change', 'localhost:8080/x@y', 'localhost:8080/x@y'],
  ])('%s', (_name, input, expected) => {
    expect(redactWholeUrl(input)).toBe(expected);
  });
});

describe('redaction of hostile, long texts (list lines may be 16 MiB)', () => {
  // The single regular expression these replaced, kept as the oracle for short texts.
  const USERINFO = /((?:https?|wss?|ftp):(?:[/\\]|[\t\n\r])*|[a-z][a-z\d+.-]{0,31}:\/\/)((?:[^\s/?#\\]|[\t\n\r])*)@/giu;
  const WHOLE = /^(\s*(?:[a-z][a-z\d+.-]*:)?[/\\\t\n\r]*)([^/\\?#]*)@/iu;
  const mask = (re: RegExp, text: string): string =>
    text.replace(re, (match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon < 0 || colon === userinfo.length - 1 ? match : `${scheme}${userinfo.slice(0, colon)}:***@`;
    });

  test('a 10 MB userinfo is redacted (the regular expression overflowed its stack: exit 70)', () => {
    expect(redactUrl(`http://u:${'a'.repeat(10_000_000)}@h/`)).toBe('http://u:***@h/');
    expect(redactUrl(`notaurl://u:pw@${'y'.repeat(10_000_000)}`)).toBe(`notaurl://u:***@${'y'.repeat(10_000_000)}`);
  });

  test('`@` then `http:` 200,000 times takes one pass (it was quadratic: minutes)', {timeout: 20_000}, () => {
    const text = `@${'http:'.repeat(200_000)}`;
    expect(redactUrl(text)).toBe(text);
    expect(redactWholeUrl(text)).toBe(text);
  });

  test('many blanks before an authority with no `@` take one pass (quadratic before)', {timeout: 20_000}, () => {
    for (const text of [`${' '.repeat(40_000)}${'a'.repeat(400_000)}/@`, `${' '.repeat(40_000)}${'a'.repeat(400_000)}`]) {
      expect(redactWholeUrl(text)).toBe(text);
    }
  });

  test('the same result as the single regular expression on 200,000 random short texts', () => {
    const pieces = ['a', 'h', 't', 'p', 's', 'w', 'f', ':', ':', '/', '\\', '@', '@', '?', '#', ' ', '\t', '\n', '\r', '\v', 'x', '1',
      '+', '.', '-', 'H', 'P', '\u00a0', '\u017f', '\u212a', '\u2028', 'é', '😀', 'http:', 'https://', 'ftp:', 'u:p@', '://'];
    let seed = 17;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    for (let i = 0; i < 200_000; i++) {
      let text = random(4) === 0 ? 'http://' : '';
      for (let j = random(40); j >= 0; j--) text += pieces[random(pieces.length)];
      expect(redactUrl(text), JSON.stringify(text)).toBe(mask(USERINFO, text));
      expect(redactWholeUrl(text), JSON.stringify(text)).toBe(mask(USERINFO, mask(WHOLE, text)));
    }
  });
});

describe('safeUrl', () => {
  test('redacts, then escapes', () => {
    expect(safeUrl('https://u:p@h/\x1b[2J\r')).toBe('https://u:***@h/\\x1b[2J\\x0d');
  });

  test('a control character cannot hide the password from redaction', () => {
    expect(safeUrl('http://u:p\t@h/')).toBe('http://u:***@h/');
  });
});
