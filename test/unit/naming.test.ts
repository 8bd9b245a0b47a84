// Table-driven tests for output file naming: templates, sanitising, collisions, containment.

import {createHash} from 'node:crypto';
import path from 'node:path';
import {Buffer} from 'node:buffer';
import {describe, expect, test} from 'vitest';
import {UsageError} from '../../src/errors.js';
import {
  decodeUrlSegment,
  NameAssigner,
  renderTemplate,
  liesWithin,
  resolveInside,
  sanitizeName,
  validateTemplate,
} from '../../src/sinks/naming.js';

function render(template: string, urlText: string, index = 1): string {
  return renderTemplate(template, {url: new URL(urlText), urlText, index});
}

/** Feeds URLs (or [url, name] pairs) to a fresh assigner and returns the names in order. */
function assignAll(template: string, entries: readonly (string | readonly [string, string])[]): (string | null)[] {
  const names = new NameAssigner(template);
  return entries.map((item, offset) => {
    const [url, name] = typeof item === 'string' ? [item, undefined] : item;
    let target: URL | undefined;
    try {
      target = new URL(url);
    } catch {
      target = undefined;
    }
    return names.assign({index: offset + 1, url, target, name})?.name ?? null;
  });
}

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

describe('renderTemplate', () => {
  const url = 'https://Sub.A.test:8443/dir/file.tar.gz?q=1&x=/etc#frag';
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 12);

  test.each([
    ['{host}', url, 'sub.a.test'],
    ['{path}', url, 'dir/file.tar.gz'],
    ['{basename}', url, 'file.tar.gz'],
    ['{index}', url, '7'],
    ['{hash}', url, hash],
    ['{host}/{path}', url, 'sub.a.test/dir/file.tar.gz'],
    ['{index}-{basename}', url, '7-file.tar.gz'],
    ['out/{hash}.bin', url, `out/${hash}.bin`],
    ['literal', url, 'literal'],
    ['{ lone brace', url, '{ lone brace'],
    ['{basename}', 'https://a.test', 'index.html'],
    ['{basename}', 'https://a.test/', 'index.html'],
    ['{path}', 'https://a.test/', 'index.html'],
    ['{basename}', 'https://a.test/a/', 'index.html'],
    ['{path}', 'https://a.test/a/', 'a/index.html'],
    ['{path}', 'https://a.test/a/b/?q=1', 'a/b/index.html'],
    ['{basename}', 'https://a.test/a/...', 'index.html'],
    ['{basename}.bin', 'https://a.test/a/%20', 'index.html.bin'],
    ['{path}', 'https://a.test/a/...', 'a/index.html'],
    ['{basename}', 'https://a.test/x?name=../../etc/passwd', 'x'],
    ['{basename}', 'https://a.test/x#../../y', 'x'],
    ['{basename}', 'https://a.test/caf%C3%A9.txt', 'café.txt'],
    ['{basename}', 'https://a.test/a%20b.txt', 'a b.txt'],
    ['{basename}', 'https://a.test/..%2F..%2Fetc%2Fpasswd', '.._.._etc_passwd'],
    ['{basename}', 'https://a.test/a%5Cb', 'a_b'],
    ['{basename}', 'https://a.test/a%00b', 'a_b'],
    ['{basename}', 'https://a.test/a%0D%0Ab%7Fc%C2%85d', 'a__b_c_d'],
    ['{basename}', 'https://a.test/bad%FF%C3.txt', 'bad%FF%C3.txt'],
    ['{basename}', 'https://a.test/100%25', '100%'],
    ['{path}', 'https://a.test/a%2Fb/c', 'a_b/c'],
    ['{host}/{path}', 'https://例子.测试/路径/文件.txt', 'xn--fsqu00a.xn--0zwm56d/路径/文件.txt'],
    ['{host}', 'http://[::1]:8080/x', '[::1]'],
    ['{host}', 'http://127.0.0.1:8080/x', '127.0.0.1'],
  ])('%j on %j → %j', (template, urlText, expected) => {
    expect(render(template, urlText, 7)).toBe(expected);
  });

  test('{hash} is of the URL text as given, not the normalised URL', () => {
    const given = 'HTTPS://A.TEST/x';
    const expected = createHash('sha256').update(given).digest('hex').slice(0, 12);
    expect(render('{hash}', given)).toBe(expected);
    expect(render('{hash}', given)).not.toBe(render('{hash}', 'https://a.test/x'));
    expect(expected).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('decodeUrlSegment', () => {
  test.each([
    ['plain.txt', 'plain.txt'],
    ['caf%c3%a9', 'café'],
    ['..%2F', '.._'],
    ['%2e%2e', '..'],
    ['%5C', '_'],
    ['%00', '_'],
    ['%09%1F%7F%C2%80%C2%9F', '_____'],
    ['%E2%82', '%E2%82'],
    ['%zz', '%zz'],
    // A byte that starts no UTF-8 sequence stays encoded; the valid escapes around it are decoded.
    ['%41%FF.txt', 'A%FF.txt'],
    ['%41-%FF.txt', 'A-%FF.txt'],
    ['caf%C3%A9%80.txt', 'café%80.txt'],
    ['%E2%82%AC%E2', '€%E2'],
    ['%ED%A0%80', '%ED%A0%80'],
    ['%2F%FF', '_%FF'],
  ])('%j → %j', (segment, expected) => {
    expect(decodeUrlSegment(segment)).toBe(expected);
  });
});

describe('validateTemplate', () => {
  test.each(['{basename}', '{host}/{path}', '{index}-{hash}.bin', 'fixed.txt', '{ x'])('accepts %j', (template) => {
    expect(() => validateTemplate(template, '--name')).not.toThrow();
  });

  test.each([
    ['', 'must not be empty'],
    ['{file}', 'unknown placeholder {file}'],
    ['{HOST}', 'unknown placeholder {HOST}'],
    ['{}', 'unknown placeholder {}'],
    ['{host}/{query}', 'unknown placeholder {query}'],
  ])('rejects %j', (template, reason) => {
    expect(() => validateTemplate(template, '--name')).toThrow(UsageError);
    expect(() => validateTemplate(template, '--name')).toThrow(reason);
    expect(() => validateTemplate(template, '--name')).toThrow(`(got ${JSON.stringify(template)})`);
    expect(() => validateTemplate(template, '--name')).toThrow(/^--name /);
  });

  test('NameAssigner rejects a bad template at once', () => {
    expect(() => new NameAssigner('{nope}')).toThrow(UsageError);
  });
});

describe('sanitizeName', () => {
  test('a segment never ends with the temporary files\' suffix (the documented cleanup would delete it)', () => {
    expect(sanitizeName('a/.x.0123456789ab.fetchall-tmp')).toBe('a/.x.0123456789ab_fetchall-tmp');
    expect(sanitizeName('d.FETCHALL-TMP/f')).toBe('d_fetchall-tmp/f');
  });

  test.each([
    ['a.txt', 'a.txt'],
    ['dir/a.txt', 'dir/a.txt'],
    ['../../x', 'x'],
    ['a/../../b', 'a/b'],
    ['./a/./b', 'a/b'],
    ['/abs/x', 'abs/x'],
    ['//a//b//', 'a/b'],
    ['C:\\x', 'x'],
    ['c:/Windows/x.dll', 'Windows/x.dll'],
    ['C:x', 'x'],
    ['a\\b\\c', 'a/b/c'],
    ['..\\..\\x', 'x'],
    ['\\\\server\\share\\x', 'server/share/x'],
    ['a/C:/b', 'a/C:/b'],
    ['...', 'index.html'],
    ['a/.. /b', 'a/b'],
    ['a/. ./b', 'a/b'],
    ['..x', '..x'],
    ['.bashrc', '.bashrc'],
    ['a\u0000b', 'a_b'],
    ['a\tb\nc\u007fd\u0085e', 'a_b_c_d_e'],
    ['a\ud800b', 'a_b'],
    ['😀.txt', '😀.txt'],
    ['%2e%2e/x', '%2e%2e/x'],
    ['', 'index.html'],
    ['/', 'index.html'],
    ['.', 'index.html'],
    ['../..', 'index.html'],
    ['C:\\', 'index.html'],
  ])('%j → %j', (raw, expected) => {
    expect(sanitizeName(raw)).toBe(expected);
  });

  test.each([
    ['ascii with extension', `${'a'.repeat(300)}.txt`, `${'a'.repeat(251)}.txt`],
    ['ascii without extension', 'b'.repeat(300), 'b'.repeat(255)],
    ['in a directory', `d/${'c'.repeat(256)}.tar.gz`, `d/${'c'.repeat(252)}.gz`],
    // 3-byte characters: 84 × 3 = 252 bytes fit before the 3-byte ".gz"… the 85th would split the limit.
    ['multi-byte', `${'語'.repeat(100)}.gz`, `${'語'.repeat(84)}.gz`],
    // 4-byte characters (surrogate pairs in UTF-16) are never cut in half.
    ['emoji', `${'😀'.repeat(70)}.png`, `${'😀'.repeat(62)}.png`],
    ['over-long extension is not kept', `x.${'e'.repeat(300)}`, `x.${'e'.repeat(253)}`],
    ['a 64-byte extension is kept', `${'a'.repeat(300)}.${'e'.repeat(63)}`, `${'a'.repeat(191)}.${'e'.repeat(63)}`],
    ['a 65-byte extension is not', `${'a'.repeat(300)}.${'e'.repeat(64)}`, `${'a'.repeat(255)}`],
  ])('shortens a long segment: %s', (_label, raw, expected) => {
    const name = sanitizeName(raw);
    expect(name).toBe(expected);
    for (const segment of name.split('/')) {
      expect(bytes(segment)).toBeLessThanOrEqual(255);
    }
    expect(name).not.toContain('\ufffd');
  });
});

describe('NameAssigner', () => {
  test('a name under an earlier file is blocked, in input order, case-insensitively', () => {
    const names = new NameAssigner('{path}');
    const give = (path: string, index: number) => names.assign({index, url: `https://a.test/${path}`, target: new URL(`https://a.test/${path}`)});
    expect(give('a', 1)).toEqual({name: 'a', blockedBy: undefined});
    expect(give('A/b', 2)).toEqual({name: 'A/b', blockedBy: 'A'});
    expect(give('a/b/c', 3)).toEqual({name: 'a/b/c', blockedBy: 'a'});
    expect(give('q/r', 4)).toEqual({name: 'q/r', blockedBy: undefined});
    expect(give('a/b', 5)).toEqual({name: 'a/b-1', blockedBy: 'a'});
  });

  test('a blocked name makes no folders: a later name at one of them is not pushed to a suffix', () => {
    const names = new NameAssigner('{path}');
    const give = (path: string, index: number) => names.assign({index, url: `https://a.test/${path}`, target: new URL(`https://a.test/${path}`)});
    expect(give('x', 1)).toEqual({name: 'x', blockedBy: undefined});
    expect(give('x/y/z', 2)).toEqual({name: 'x/y/z', blockedBy: 'x'});
    expect(give('x/y', 3)).toEqual({name: 'x/y', blockedBy: 'x'});
  });

  test('a folder of an earlier name is taken whatever its case', () => {
    const names = new NameAssigner('{path}');
    const give = (path: string, index: number) => names.assign({index, url: `https://a.test/${path}`, target: new URL(`https://a.test/${path}`)});
    expect(give('Dir/Sub/f', 1)).toEqual({name: 'Dir/Sub/f', blockedBy: undefined});
    expect(give('dir', 2)).toEqual({name: 'dir-1', blockedBy: undefined});
    expect(give('DIR/SUB', 3)).toEqual({name: 'DIR/SUB-1', blockedBy: undefined});
  });


  test.each<[string, string, (string | readonly [string, string])[], (string | null)[]]>([
    ['distinct names', '{basename}', ['https://a.test/a.txt', 'https://a.test/b.txt'], ['a.txt', 'b.txt']],
    [
      'collisions get -1, -2 before the extension',
      '{basename}',
      ['https://a.test/a.txt', 'https://b.test/a.txt', 'https://c.test/a.txt'],
      ['a.txt', 'a-1.txt', 'a-2.txt'],
    ],
    [
      'case-insensitive',
      '{basename}',
      ['https://a.test/A.txt', 'https://a.test/x/a.TXT', 'https://a.test/y/a.txt'],
      ['A.txt', 'a-1.TXT', 'a-2.txt'],
    ],
    [
      'a suffixed name never takes an existing one',
      '{basename}',
      ['https://a.test/a-1.txt', 'https://a.test/a.txt', 'https://b.test/a.txt', 'https://c.test/a.txt'],
      ['a-1.txt', 'a.txt', 'a-2.txt', 'a-3.txt'],
    ],
    [
      'a later name equal to an earlier suffixed one gets its own suffix',
      '{basename}',
      ['https://a.test/a.txt', 'https://b.test/a.txt', 'https://c.test/a-1.txt'],
      ['a.txt', 'a-1.txt', 'a-1-1.txt'],
    ],
    [
      'last extension only; dotfiles and extensionless names',
      '{basename}',
      ['https://a.test/archive.tar.gz', 'https://b.test/archive.tar.gz', 'https://a.test/.bashrc',
        'https://b.test/.bashrc', 'https://a.test/README', 'https://b.test/README'],
      ['archive.tar.gz', 'archive.tar-1.gz', '.bashrc', '.bashrc-1', 'README', 'README-1'],
    ],
    [
      'index.html for empty paths and trailing slashes',
      '{basename}',
      ['https://a.test', 'https://b.test/', 'https://c.test/dir/'],
      ['index.html', 'index-1.html', 'index-2.html'],
    ],
    [
      'a last segment of dots or spaces is index.html, never the host or the folder as a file',
      '{host}/{path}',
      ['https://a.test/...', 'https://a.test/a.txt', 'https://a.test/dir/%20', 'https://a.test/dir/b.txt', ['https://a.test/n', 'named/..']],
      ['a.test/index.html', 'a.test/a.txt', 'a.test/dir/index.html', 'a.test/dir/b.txt', 'named/index.html'],
    ],
    [
      'case meets case through upper case: final sigma, micro sign, long s',
      '{basename}',
      ['https://a.test/ΑΣ', 'https://a.test/ασ', 'https://a.test/ας', 'https://a.test/µ.txt', 'https://a.test/Μ.TXT',
        'https://a.test/ſ', 'https://a.test/S', 'https://a.test/ΟΔΟΣ.txt', 'https://a.test/οδοσ.txt', 'https://a.test/%C3%9F',
        'https://a.test/%E1%BA%9E'],
      ['ΑΣ', 'ασ-1', 'ας-2', 'µ.txt', 'Μ-1.TXT', 'ſ', 'S-1', 'ΟΔΟΣ.txt', 'οδοσ-1.txt', 'ß', 'ẞ-1'],
    ],
    [
      // macOS file systems store one of the two forms, so both spellings name one file there.
      'composed and decomposed spellings of one name meet (Unicode normalisation)',
      '{basename}',
      ['https://a.test/caf%C3%A9.txt', 'https://a.test/cafe%CC%81.txt', 'https://a.test/CAFE%CC%81.TXT'],
      ['caf\u00e9.txt', 'cafe\u0301-1.txt', 'CAFE\u0301-2.TXT'],
    ],
    [
      'suffix goes into the last segment of a path',
      '{path}',
      ['https://a.test/d.x/f', 'https://b.test/d.x/f', 'https://a.test/d.x/f.txt', 'https://b.test/d.x/F.TXT'],
      ['d.x/f', 'd.x/f-1', 'd.x/f.txt', 'd.x/F-1.TXT'],
    ],
    [
      'list names win, are not percent-decoded, and are sanitised',
      '{basename}',
      [['https://a.test/x', 'my%20file.txt'], ['https://a.test/y', '../../etc/passwd'], ['https://a.test/z', '/abs/x'],
        ['https://a.test/w', 'C:\\x'], ['https://a.test/v', '..']],
      ['my%20file.txt', 'etc/passwd', 'abs/x', 'x', 'index.html'],
    ],
    [
      'list names and template names share one namespace',
      '{basename}',
      [['https://a.test/1', 'a.txt'], 'https://a.test/a.txt', ['https://a.test/2', 'A.TXT']],
      ['a.txt', 'a-1.txt', 'A-2.TXT'],
    ],
    [
      'a folder of an earlier name is taken: the later file gets a suffix, case-insensitively',
      '{path}',
      ['https://a.test/a/b', 'https://a.test/a', 'https://a.test/A', 'https://a.test/x/y/z', 'https://a.test/x/Y'],
      ['a/b', 'a-1', 'A-2', 'x/y/z', 'x/Y-1'],
    ],
    [
      'an empty list name counts as none',
      '{basename}',
      [['https://a.test/a.txt', '']],
      ['a.txt'],
    ],
    [
      'invalid entries: null without a name, the name taken with one',
      '{basename}',
      ['not a url', ['also bad', 'a.txt'], 'https://a.test/a.txt'],
      [null, 'a.txt', 'a-1.txt'],
    ],
    [
      'templates with a fixed text get suffixes',
      'out.bin',
      ['https://a.test/1', 'https://a.test/2', 'https://a.test/3'],
      ['out.bin', 'out-1.bin', 'out-2.bin'],
    ],
    [
      '{index} and {host} make names unique',
      '{host}/{index}-{basename}',
      ['https://a.test/x', 'https://a.test/x', 'https://例子.测试/x'],
      ['a.test/1-x', 'a.test/2-x', 'xn--fsqu00a.xn--0zwm56d/3-x'],
    ],
  ])('%s', (_label, template, entries, expected) => {
    expect(assignAll(template, entries)).toEqual(expected);
  });

  test('a suffix on a 255-byte name still fits in 255 bytes', () => {
    const long = `${'a'.repeat(251)}.txt`;
    const [first, second] = assignAll('{basename}', [`https://a.test/${long}`, `https://b.test/${long}`]);
    expect(first).toBe(long);
    expect(second).toBe(`${'a'.repeat(249)}-1.txt`);
    expect(bytes(second ?? '')).toBe(255);
  });

  test('many entries with one name stay fast and unique', () => {
    const urls = Array.from({length: 20_000}, (_, i) => `https://h${String(i)}.test/`);
    const names = assignAll('{basename}', urls);
    expect(new Set(names).size).toBe(urls.length);
    expect(names[0]).toBe('index.html');
    expect(names[19_999]).toBe('index-19999.html');
  });

  test('two assigners fed the same list give the same names', () => {
    const urls = Array.from({length: 500}, (_, i) => `https://h${String(i % 7)}.test/${String(i % 13)}/F${String(i % 5)}.txt`);
    const entries = urls.map((url, i) => (i % 11 === 0 ? ([url, `f${String(i % 4)}.TXT`] as const) : url));
    const first = assignAll('{basename}', entries);
    const second = assignAll('{basename}', entries);
    expect(second).toEqual(first);
    expect(new Set(first.map((name) => name?.toLowerCase())).size).toBe(first.length);
  });
});

describe('liesWithin', () => {
  test.each([
    ['/out', '/out', true],
    ['/out', '/out/a/b', true],
    ['/out', '/out/..x', true],
    ['/out', '/outside', false],
    ['/out', '/', false],
    ['/out/a', '/out', false],
  ])('%s holds %s: %s', (root, target, expected) => {
    expect(liesWithin(root, target)).toBe(expected);
  });
});

describe('resolveInside', () => {
  const dir = path.resolve('/tmp/out');

  test.each([
    ['a.txt', path.join(dir, 'a.txt')],
    ['a/b.txt', path.join(dir, 'a', 'b.txt')],
    ['..x', path.join(dir, '..x')],
    ['a/../b', path.join(dir, 'b')],
  ])('%j → %j', (name, expected) => {
    expect(resolveInside(dir, name)).toBe(expected);
  });

  test.each(['', '.', '..', '../x', 'a/../../x', '/etc/passwd'])('throws for %j', (name) => {
    expect(() => resolveInside(dir, name)).toThrow(Error);
  });

  test('a relative DIR resolves against the working directory', () => {
    expect(resolveInside('out', 'x')).toBe(path.resolve('out', 'x'));
  });

  test.each([
    ['../../x'],
    ['/abs/x'],
    ['C:\\x'],
    ['..%2F..%2Fx'],
  ])('sanitised %j stays inside', (raw) => {
    expect(() => resolveInside(dir, sanitizeName(raw))).not.toThrow();
  });
});
