// The list reader: line → entry rules, JSON entries, list/line messages, numbering, and streaming memory.
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Readable} from 'node:stream';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import {afterAll, beforeAll, describe, expect, test, vi} from 'vitest';
import {UsageError} from '../../src/errors.js';
import {entryFromValue, parseLine, parseTargetUrl} from '../../src/input/parse-line.js';
import {countEntries} from '../../src/input/count.js';
import {closeLists, openLists, readEntries, type OpenList} from '../../src/input/read-lists.js';
import type {Entry} from '../../src/record.js';

const at = {list: 'urls.txt', line: 12};

/** A list read from memory, as openLists would give it for stdin. */
function memoryList(name: string, text: string | Buffer): OpenList {
  return {name, stream: Readable.from([Buffer.from(text)]), countFrom: undefined, path: undefined, identity: undefined};
}

/** A list whose bytes arrive in the given chunks (to split lines, CRLF and characters across them). */
function chunkedList(name: string, chunks: Buffer[]): OpenList {
  return {name, stream: Readable.from(chunks), countFrom: undefined, path: undefined, identity: undefined};
}

async function collect(lists: OpenList[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const entry of readEntries(lists)) out.push(entry);
  return out;
}

describe('parseLine: skipped lines', () => {
  test.each(['', '   ', '\t', '# comment', '   # indented comment', '#https://a.test/x', '\r', '\uFEFF', '\uFEFF# bom comment'])(
    '%j is skipped',
    (line) => {
      expect(parseLine(line, 1, at)).toBeNull();
    },
  );
});

describe('parseLine: URL lines', () => {
  test.each([
    ['https://a.test/x', 'https://a.test/x', undefined],
    ['  https://a.test/x  ', 'https://a.test/x', undefined],
    ['https://a.test/x\r', 'https://a.test/x', undefined],
    ['https://a.test/x out/x.txt', 'https://a.test/x', 'out/x.txt'],
    ['https://a.test/x\tx.txt', 'https://a.test/x', 'x.txt'],
    ['https://a.test/x \t  my file.txt  ', 'https://a.test/x', 'my file.txt'],
    ['http://a.test:8080/p?q=1#frag', 'http://a.test:8080/p?q=1#frag', undefined],
    ['HTTPS://A.TEST/X', 'HTTPS://A.TEST/X', undefined],
  ])('%j → url %j, name %j', (line, url, name) => {
    const entry = parseLine(line, 7, at);
    expect(entry).not.toBeNull();
    expect(entry!.index).toBe(7);
    expect(entry!.url).toBe(url);
    expect(entry!.name).toBe(name);
    expect(entry!.invalid).toBeUndefined();
    expect(entry!.target).toBeInstanceOf(URL);
    expect(entry!.target!.href).toBe(new URL(url).href);
  });

  test('an IDN host becomes punycode and a non-ASCII path is percent-encoded', () => {
    const entry = parseLine('https://例子.测试/路径', 1, at)!;
    expect(entry.url).toBe('https://例子.测试/路径');
    expect(entry.target!.hostname).toBe('xn--fsqu00a.xn--0zwm56d');
    expect(entry.target!.pathname).toBe('/%E8%B7%AF%E5%BE%84');
    expect(entry.target!.href).toBe('https://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84');
  });

  test.each([
    ['ftp://a.test/x', /unsupported scheme "ftp"/],
    ['file:///etc/passwd', /unsupported scheme "file"/],
    ['javascript:alert(1)', /unsupported scheme/],
    ['mailto:a@b.test', /unsupported scheme/],
    // A host and port without a scheme parse as a scheme: the message says what is missing.
    ['localhost:8080/x', /needs http:\/\/ or https:\/\/ in front/],
    ['www.a.test:443/x', /needs http:\/\/ or https:\/\/ in front/],
    ['not a url', /not a valid URL/],
    ['a.test/x', /not a valid URL/],
    ['http://', /not a valid URL/],
    ['https://exa\u0001mple.test/', /control character/],
    ['https://a.test/x\u0000y', /control character/],
    ['https://a.test/\u007f', /control character/],
    ['https://a.test/x\u001b[31m', /control character/],
  ])('%j is invalid_url with a urls.txt:12: message', (line, why) => {
    const entry = parseLine(line, 3, at)!;
    expect(entry).not.toBeNull();
    expect(entry.index).toBe(3);
    expect(entry.target).toBeUndefined();
    expect(entry.invalid).toMatch(/^urls\.txt:12: /);
    expect(entry.invalid).toMatch(why);
    expect(entry.invalid).not.toMatch(/[\r\n]/);
  });

  test('only a space or a tab ends the URL: other white space inside it is part of it', () => {
    // A no-break space (pasted from a web page) ended the URL: `/my` was fetched and saved as `report.pdf`.
    for (const [space, encoded] of [['\u00a0', '%C2%A0'], ['\u3000', '%E3%80%80'], ['\u2028', '%E2%80%A8'], ['\ufeff', '%EF%BB%BF']] as const) {
      const entry = parseLine(`https://a.test/my${space}report.pdf`, 1, at)!;
      expect(entry.name).toBeUndefined();
      expect(entry.target!.pathname).toBe(`/my${encoded}report.pdf`);
    }
    // A lone CR, a vertical tab or a form feed inside it is a control character, refused like ESC.
    for (const control of ['\r', '\v', '\f']) {
      const entry = parseLine(`https://a.test/my${control}report.pdf`, 1, at)!;
      expect(entry.name).toBeUndefined();
      expect(entry.invalid).toMatch(/control character/);
    }
  });

  test('the record url of an invalid line is the URL text as given, without the name', () => {
    expect(parseLine('ftp://a.test/x name.txt', 1, at)!.url).toBe('ftp://a.test/x');
  });

  test('parseTargetUrl refuses TAB, CR and LF that the WHATWG parser would silently drop', () => {
    for (const text of ['https://a.test/x\ty', 'https://a.test/x\ny', 'https://a.test/x\ry', '\thttps://a.test/x']) {
      expect(parseTargetUrl(text)).toMatch(/control character/);
    }
    expect(parseTargetUrl('https://a.test/x')).toBeInstanceOf(URL);
  });
});

describe('parseLine: lines that are not what they seem', () => {
  test('a CR inside a NAME (a list with old Mac line ends) is invalid_url: its other lines would be lost in a file name', () => {
    const entry = parseLine('https://a.test/m1 n1.txt\rhttps://a.test/m2 n2.txt\r', 1, at);
    expect(entry).toMatchObject({url: 'https://a.test/m1', target: undefined});
    expect(entry!.invalid).toMatch(/carriage return .*a list with CR line ends\?/);
    // A vertical tab or a form feed is refused too, and named for what it is.
    expect(parseLine('https://a.test/m1 a\vb', 1, at)!.invalid).toBe('urls.txt:12: the line holds a vertical tab inside it (only LF or CRLF end a line)');
    expect(parseLine('https://a.test/m1 a\fb', 1, at)!.invalid).toBe('urls.txt:12: the line holds a form feed inside it (only LF or CRLF end a line)');
    expect(parseLine('https://a.test/m1\tn1\tx.txt', 1, at)).toMatchObject({name: 'n1\tx.txt'});
  });

  test('a JSON entry with a lone UTF-16 surrogate in its URL or a header is invalid_url, never sent as U+FFFD; a whole pair is fine', () => {
    for (const line of ['{"url":"https://a.test/s\\ud800x"}', '{"url":"https://a.test/x","headers":{"X-A":"v\\udc00"}}']) {
      expect(parseLine(line, 1, at)!.invalid, line).toMatch(/lone UTF-16 surrogate/);
    }
    expect(parseLine('{"url":"https://a.test/\\ud83d\\ude00"}', 1, at)!.target!.href).toBe('https://a.test/%F0%9F%98%80');
  });

  test('an over-long line whose kept head is white space (no-break spaces) is still an entry; an over-long comment is not', () => {
    expect(parseLine('\u00a0'.repeat(1024), 1, {...at, overlong: true})!.invalid).toMatch(/longer than 16 MiB/);
    expect(parseLine('# long', 1, {...at, overlong: true})).toBeNull();
  });
});

describe('parseLine: JSON entries', () => {
  const sha = 'ab'.repeat(32);

  test('a full entry', () => {
    const line = JSON.stringify({url: 'https://a.test/x', name: 'x.bin', sha256: sha.toUpperCase(), headers: {'X-Api-Key': 'k', Accept: 'text/plain'}});
    const entry = parseLine(`  ${line}  `, 4, at)!;
    expect(entry.invalid).toBeUndefined();
    expect(entry.index).toBe(4);
    expect(entry.url).toBe('https://a.test/x');
    expect(entry.target!.href).toBe('https://a.test/x');
    expect(entry.name).toBe('x.bin');
    expect(entry.sha256).toBe(sha);
    expect(entry.headers).toEqual({'x-api-key': 'k', accept: 'text/plain'});
  });

  test('entry headers: `__proto__` is a header like any other; values trimmed of spaces and tabs only', () => {
    const entry = parseLine('{"url":"https://a.test/x","headers":{"__proto__":"p","X-Nb":" \\u00a0v\\u00a0\\t"}}', 1, at)!;
    expect(entry.invalid).toBeUndefined();
    // (and, beyond ASCII, held as the UTF-8 bytes they go out as)
    expect(Object.entries(entry.headers!)).toEqual([['__proto__', 'p'], ['x-nb', Buffer.from('\u00a0v\u00a0').toString('latin1')]]);
  });

  test('only url', () => {
    const entry = parseLine('{"url":"http://a.test/"}', 1, at)!;
    expect(entry.invalid).toBeUndefined();
    expect(entry.name).toBeUndefined();
    expect(entry.sha256).toBeUndefined();
    expect(entry.headers).toBeUndefined();
  });

  test('an IDN URL in a JSON entry is normalised too', () => {
    const entry = parseLine('{"url":"https://例子.测试/路径"}', 1, at)!;
    expect(entry.target!.href).toBe('https://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84');
  });

  test.each([
    ['{"url":"https://a.test/x"', /not valid JSON/],
    ['{not json}', /not valid JSON/],
    ['{"url":5}', /"url" must be a string/],
    ['{}', /"url" must be a string/],
    ['{"name":"x"}', /"url" must be a string/],
    ['{"url":"https://a.test/x","extra":1}', /unknown key "extra"/],
    ['{"url":"https://a.test/x","__proto__":{}}', /unknown key "__proto__"/],
    ['{"url":"https://a.test/x","Name":"x"}', /unknown key "Name"/],
    ['{"url":"https://a.test/x","name":5}', /"name"/],
    ['{"url":"https://a.test/x","name":null}', /"name"/],
    ['{"url":"https://a.test/x","name":""}', /"name" must be a non-empty string/],
    ['{"url":"https://a.test/x","name":"  "}', /"name" must be a non-empty string/],
    ['{"url":"https://a.test/x","sha256":"abc"}', /"sha256" must be 64 hex digits/],
    [`{"url":"https://a.test/x","sha256":"${'g'.repeat(64)}"}`, /"sha256"/],
    [`{"url":"https://a.test/x","sha256":"${'a'.repeat(65)}"}`, /"sha256"/],
    ['{"url":"https://a.test/x","sha256":123}', /"sha256"/],
    ['{"url":"https://a.test/x","headers":"X: y"}', /"headers"/],
    ['{"url":"https://a.test/x","headers":["X: y"]}', /"headers"/],
    ['{"url":"https://a.test/x","headers":null}', /"headers"/],
    ['{"url":"https://a.test/x","headers":{"X-A":1}}', /header "X-A" must be a string/],
    ['{"url":"https://a.test/x","headers":{"X-A":"a\\r\\nInjected: 1"}}', /CR, LF or NUL/],
    ['{"url":"https://a.test/x","headers":{"X-A":"a\\nb"}}', /CR, LF or NUL/],
    ['{"url":"https://a.test/x","headers":{"X-A":"a\\u0000b"}}', /CR, LF or NUL/],
    ['{"url":"https://a.test/x","headers":{"X-A\\r\\n":"a"}}', /CR, LF or NUL/],
    ['{"url":"https://a.test/x","headers":{"Bad Name":"a"}}', /not a valid token/],
    ['{"url":"https://a.test/x","headers":{"Host":"evil.test"}}', /cannot be set/],
    ['{"url":"ftp://a.test/x"}', /unsupported scheme/],
    ['{"url":"nope"}', /not a valid URL/],
    ['{"url":"https://a.test/\\tx"}', /control character/],
  ])('%s is invalid_url with a urls.txt:12: message', (line, why) => {
    const entry = parseLine(line, 9, at)!;
    expect(entry).not.toBeNull();
    expect(entry.index).toBe(9);
    expect(entry.target).toBeUndefined();
    expect(entry.invalid).toMatch(/^urls\.txt:12: /);
    expect(entry.invalid).toMatch(why);
  });

  test('a JSON array or scalar that starts with { is not possible, but entryFromValue refuses non-objects', () => {
    for (const value of [null, 5, 'https://a.test/x', ['https://a.test/x']]) {
      const entry = entryFromValue(value, 1, 'entry 1', JSON.stringify(value));
      expect(entry.invalid).toMatch(/^entry 1: /);
    }
  });

  test('the record url of a bad JSON entry is its url when it has one, else the line', () => {
    expect(parseLine('{"url":"https://a.test/x","extra":1}', 1, at)!.url).toBe('https://a.test/x');
    expect(parseLine('{"url":5}', 1, at)!.url).toBe('{"url":5}');
  });
});

describe('readEntries', () => {
  test('comments, blanks, BOM, CRLF, names, TABs, invalid lines numbered and named by list:line', async () => {
    const text = [
      '\uFEFF# a list with a BOM and CRLF ends',
      '',
      'https://a.test/1',
      '   ',
      'https://a.test/2  two.txt',
      '# comment',
      'ftp://a.test/3',
      'https://a.test/4\tfour.txt',
      '{"url":"https://a.test/5","name":"five"}',
      '{"url":"https://a.test/6","bogus":true}',
      'https://例子.测试/路径',
    ].join('\r\n') + '\r\n';
    const entries = await collect([memoryList('urls.txt', text)]);
    expect(entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(entries.map((e) => e.url)).toEqual([
      'https://a.test/1',
      'https://a.test/2',
      'ftp://a.test/3',
      'https://a.test/4',
      'https://a.test/5',
      'https://a.test/6',
      'https://例子.测试/路径',
    ]);
    expect(entries.map((e) => e.name)).toEqual([undefined, 'two.txt', undefined, 'four.txt', 'five', undefined, undefined]);
    expect(entries[2]!.invalid).toMatch(/^urls\.txt:7: /);
    expect(entries[5]!.invalid).toMatch(/^urls\.txt:10: unknown key "bogus"/);
    expect(entries.filter((e) => e.invalid !== undefined)).toHaveLength(2);
    for (const entry of entries) expect(entry.url).not.toMatch(/[\r\uFEFF]/);
    expect(entries[6]!.target!.hostname).toBe('xn--fsqu00a.xn--0zwm56d');
  });

  test('only LF (or CRLF) ends a line: U+2028, U+2029 and a lone CR do not, so line numbers match sed -n', async () => {
    const text = [
      '{"url":"https://a.test/1","name":"report\u2028final.txt"}',
      'https://a.test/2\u2029x',
      'https://a.test/3\rthree.txt',
      'bad',
    ].join('\n');
    const entries = await collect([memoryList('a.txt', text)]);
    expect(entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(entries[0]).toMatchObject({url: 'https://a.test/1', name: 'report\u2028final.txt'});
    expect(entries[0]!.invalid).toBeUndefined();
    // Inside the line, they are no blank either: part of the URL (encoded), or refused (a control character).
    expect(entries[1]).toMatchObject({url: 'https://a.test/2\u2029x', name: undefined});
    expect(entries[1]!.target!.pathname).toBe('/2%E2%80%A9x');
    expect(entries[2]).toMatchObject({url: 'https://a.test/3\rthree.txt'});
    expect(entries[2]!.invalid).toMatch(/^a\.txt:3: .*control character/);
    expect(entries[3]!.invalid).toMatch(/^a\.txt:4: /);
  });

  test('lines, CRLF ends and multi-byte characters split across chunks arrive whole', async () => {
    const bytes = Buffer.from('https://a.test/é1\r\nhttps://a.test/€2  n€.txt\r\n# c\r\nhttps://a.test/3');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.subarray(i, i + 3));
    const entries = await collect([chunkedList('a.txt', chunks)]);
    expect(entries.map((e) => [e.url, e.name, e.invalid])).toEqual([
      ['https://a.test/é1', undefined, undefined],
      ['https://a.test/€2', 'n€.txt', undefined],
      ['https://a.test/3', undefined, undefined],
    ]);
  });

  test('one very long line (16 MiB in 64 KiB chunks) is joined once, not at every chunk', {timeout: 15_000}, async () => {
    const {LineSplitter, MAX_LINE_BYTES} = await import('../../src/input/lines.js');
    const big = Buffer.alloc(MAX_LINE_BYTES, 0x61);
    const seen: [number, boolean][] = [];
    const split = new LineSplitter((line, _utf8, overlong) => seen.push([line.length, overlong]));
    for (let i = 0; i < big.length; i += 65536) split.push(big.subarray(i, i + 65536));
    split.push(Buffer.from('\nb'));
    split.end();
    expect(seen).toEqual([[big.length, false], [1, false]]);
  });

  test('a line past 16 MiB is cut to its first KiB and flagged, in any chunking, and memory is not kept', async () => {
    const {LineSplitter, MAX_LINE_BYTES} = await import('../../src/input/lines.js');
    const seen: [number, boolean][] = [];
    const split = new LineSplitter((line, _utf8, overlong) => seen.push([line.length, overlong]));
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 40; i++) split.push(piece);
    split.push(Buffer.from('\nok\n'));
    // One chunk holding a whole overlong line, then one with no end at all.
    split.push(Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 1, 0x62), Buffer.from('\n')]));
    for (let i = 0; i < 20; i++) split.push(piece);
    split.end();
    expect(seen).toEqual([[1024, true], [2, false], [1024, true], [1024, true]]);
  });

  test('at the cap: 16 MiB and a CRLF is a line; a long blank line stays blank and a long comment a comment', async () => {
    const {LineSplitter, MAX_LINE_BYTES} = await import('../../src/input/lines.js');
    const seen: [string, boolean][] = [];
    const split = new LineSplitter((line, _utf8, overlong) => seen.push([line.slice(0, 3), overlong]));
    const exact = Buffer.alloc(MAX_LINE_BYTES, 0x61);
    split.push(Buffer.concat([exact, Buffer.from('\r\n')]));
    for (let i = 0; i < exact.length; i += 65536) split.push(exact.subarray(i, i + 65536));
    split.push(Buffer.from('\r\n'));
    split.push(Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 5, 0x20), Buffer.from('\n')]));
    split.push(Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 5, 0x20), Buffer.from('#c\nok')]));
    split.end();
    expect(seen).toEqual([['aaa', false], ['aaa', false], ['', true], ['#c', true], ['ok', false]]);
    const entries = await collect([memoryList('l.txt', Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 5, 0x20), Buffer.from('\n \t'), Buffer.alloc(MAX_LINE_BYTES, 0x20), Buffer.from('#c\nhttp://a.test/x\n')]))]);
    expect(entries.map((e) => [e.index, e.url, e.invalid ?? 'ok'])).toEqual([[1, 'http://a.test/x', 'ok']]);
  });

  test('a line that is not valid UTF-8 is invalid_url naming list:line (a comment is still a comment)', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\nhttps://a.test/caf'), Buffer.from([0xe9]),
      Buffer.from('.txt name\nhttps://a.test/\uFFFD.txt\n'),
    ]);
    const entries = await collect([memoryList('l.txt', latin1)]);
    expect(entries).toHaveLength(2);
    expect(entries[0]!.invalid).toBe('l.txt:2: the line is not valid UTF-8 text');
    expect(entries[0]!.url).toBe('https://a.test/caf\uFFFD.txt');
    expect(entries[0]!.target).toBeUndefined();
    // A real U+FFFD, validly encoded, is just a character.
    expect(entries[1]!.index).toBe(2);
    expect(entries[1]!.invalid).toBeUndefined();
    expect(entries[1]!.target!.pathname).toBe('/%EF%BF%BD.txt');
  });

  test('a BOM on the first line of a URL list is dropped', async () => {
    const entries = await collect([memoryList('a.txt', '\uFEFFhttps://a.test/x\n')]);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.url).toBe('https://a.test/x');
    expect(entries[0]!.invalid).toBeUndefined();
  });

  test('a last line without a newline is read', async () => {
    const entries = await collect([memoryList('a.txt', 'https://a.test/1\nhttps://a.test/2')]);
    expect(entries.map((e) => e.url)).toEqual(['https://a.test/1', 'https://a.test/2']);
  });

  test('indices run on across lists; line numbers restart per list', async () => {
    const entries = await collect([
      memoryList('one.txt', '# c\nhttps://a.test/1\nbad\n'),
      memoryList('-', '\uFEFF\nnope\nhttps://a.test/4\n'),
    ]);
    expect(entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(entries[1]!.invalid).toMatch(/^one\.txt:3: /);
    expect(entries[2]!.invalid).toMatch(/^-:2: /);
    expect(entries[3]!.url).toBe('https://a.test/4');
  });

  test('a caller that stops early destroys the list stream', async () => {
    const list = memoryList('a.txt', 'https://a.test/1\nhttps://a.test/2\nhttps://a.test/3\n');
    for await (const entry of readEntries([list])) {
      expect(entry.index).toBe(1);
      break;
    }
    expect(list.stream.destroyed).toBe(true);
  });

  test('a list stream that fails mid-way rejects the reading with a usage error naming the list, after the lines before it', async () => {
    let pushed = false;
    const stream = new Readable({
      read() {
        if (!pushed) {
          pushed = true;
          this.push('https://a.test/1\nhttps://a.test/2\n');
          return;
        }
        this.destroy(Object.assign(new Error('read failed'), {code: 'EIO'}));
      },
    });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const entry of readEntries([{name: 'a.txt', stream, countFrom: undefined, path: undefined, identity: undefined}])) seen.push(entry.url);
    })();
    await expect(reading).rejects.toThrow(UsageError);
    await expect(reading).rejects.toThrow('cannot read list a.txt: input/output error (EIO)');
    expect(seen).toEqual(['https://a.test/1', 'https://a.test/2']);
  });

  test('the reader runs ahead by characters too, not only lines: long lines behind a consumer that waits are not all read', async () => {
    // A URL, then 200 comment lines of 1 MiB each, made as they are read.
    let made = 0;
    const line = `#${'x'.repeat(1024 * 1024 - 2)}\n`;
    const stream = new Readable({
      read() {
        if (made === 0) this.push('https://a.test/first\n');
        this.push(made < 200 ? line : null);
        made++;
      },
    });
    const reader = readEntries([{name: 'big.txt', stream, countFrom: undefined, path: undefined, identity: undefined}])[Symbol.asyncIterator]();
    expect((await reader.next()).value.url).toBe('https://a.test/first');
    // The consumer now waits (a slow URL at -c 1): the stream is read until the reader pauses it.
    for (let i = 0; i < 50 && !stream.isPaused(); i++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.isPaused()).toBe(true);
    // 16 MiB of characters (8M), plus what the stream had buffered: not the 200 MiB list.
    expect(made).toBeLessThan(40);
    await reader.return!();
  });

  test('200,000 lines stream through with bounded memory', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const total = 200_000;
    let produced = 0;
    // Generated on demand: the list never exists in memory as a whole.
    const stream = new Readable({
      read() {
        let chunk = '';
        for (let i = 0; i < 500 && produced < total; i++, produced++) {
          chunk += produced % 1000 === 0 ? `# comment ${produced}\n` : `https://host${produced % 97}.test/some/longer/path/${produced}?q=${produced} name-${produced}.bin\n`;
        }
        this.push(chunk === '' ? null : chunk);
      },
    });
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let lastIndex = 0;
    for await (const entry of readEntries([{name: 'big.txt', stream, countFrom: undefined, path: undefined, identity: undefined}])) {
      count++;
      expect(entry.index).toBe(lastIndex + 1);
      lastIndex = entry.index;
      if (count % 20_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      }
    }
    expect(count).toBe(total - total / 1000);
    // Holding 200,000 entries (URL objects, strings) would take well over 100 MB.
    expect(peak).toBeLessThan(24 * 1024 * 1024);
  }, 30_000);
});

describe('openLists', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-input-'));
    await writeFile(join(dir, 'a.txt'), 'https://a.test/1\n');
    await mkdir(join(dir, 'sub'));
  });
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true});
  });

  const stdin = (): Readable => Readable.from(['https://a.test/stdin\n']);

  test('no list at all reads standard input', async () => {
    const lists = await openLists([], stdin);
    expect(lists.map((l) => l.name)).toEqual(['-']);
    expect((await collect(lists)).map((e) => e.url)).toEqual(['https://a.test/stdin']);
  });

  test('files and - in order', async () => {
    const lists = await openLists([join(dir, 'a.txt'), '-'], stdin);
    expect(lists.map((l) => l.countFrom)).toEqual([{path: join(dir, 'a.txt')}, undefined]);
    expect((await collect(lists)).map((e) => [e.index, e.url])).toEqual([
      [1, 'https://a.test/1'],
      [2, 'https://a.test/stdin'],
    ]);
  });

  test('- twice is a usage error', async () => {
    await expect(openLists(['-', join(dir, 'a.txt'), '-'], stdin)).rejects.toBeInstanceOf(UsageError);
  });

  test('a missing list is a usage error naming it, even after a good one', async () => {
    const missing = join(dir, 'missing.txt');
    const error = await openLists([join(dir, 'a.txt'), missing], stdin).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).not.toMatch(/\n/);
  });

  test('a directory is a usage error', async () => {
    await expect(openLists([join(dir, 'sub')], stdin)).rejects.toBeInstanceOf(UsageError);
  });

  test('closeLists destroys file streams', async () => {
    const lists = await openLists([join(dir, 'a.txt')], stdin);
    closeLists(lists);
    expect(lists[0]!.stream.destroyed).toBe(true);
  });
});

describe('readOkUrls (--resume) and long records', () => {
  test('an ok record whose URL is a whole 16 MiB list line is read back: its URL is skipped', async () => {
    const {readOkUrls} = await import('../../src/report/report-file.js');
    const dir = await mkdtemp(join(tmpdir(), 'fetchall-report-'));
    try {
      const url = `http://a.test/${'p'.repeat(16 * 1024 * 1024 - 14)}`;
      const record = {index: 1, url, ok: true, status: 200, final_url: url, bytes: 1, duration_ms: 1, attempts: 1, file: null, skipped: false, sha256: null, error: null};
      const report = join(dir, 'r.jsonl');
      await writeFile(report, JSON.stringify(record) + '\n');
      expect((await readOkUrls(report)).isOk(url, null)).toBe(true);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
});

describe('ResumeSet (--resume)', () => {
  test('an ok URL saved under two names skips both copies; a record without a file keeps the names', async () => {
    const {ResumeSet} = await import('../../src/report/report-file.js');
    const set = new ResumeSet();
    set.add('http://a.test/x', true, '/out/x.txt');
    set.add('http://a.test/x', true, '/out/x-1.txt');
    expect(set.isOk('http://a.test/x', '/out/x.txt')).toBe(true);
    expect(set.isOk('http://a.test/x', '/out/x-1.txt')).toBe(true);
    // A later ok record without a file (a run without -o) does not make every name count as saved.
    set.add('http://a.test/x', true, null);
    expect(set.isOk('http://a.test/x', '/out/other.txt')).toBe(false);
    expect(set.isOk('http://a.test/x', null)).toBe(true);
  });

  test('paths are compared resolved, on both sides: relative, ./-spelled and absolute are one file', async () => {
    const {ResumeSet} = await import('../../src/report/report-file.js');
    const {resolve} = await import('node:path');
    const set = new ResumeSet();
    set.add('http://a.test/r', true, 'out/r.txt');
    expect(set.isOk('http://a.test/r', './out/r.txt')).toBe(true);
    expect(set.isOk('http://a.test/r', resolve('out/r.txt'))).toBe(true);
    const abs = new ResumeSet();
    abs.add('http://a.test/s', true, resolve('out/s.txt'));
    expect(abs.isOk('http://a.test/s', 'out/./s.txt')).toBe(true);
  });

  test('readOkUrls: only "ok": true is ok; a record with ok missing or not a boolean is not', async () => {
    const {readOkUrls} = await import('../../src/report/report-file.js');
    const dir = await mkdtemp(join(tmpdir(), 'fetchall-report-'));
    try {
      const report = join(dir, 'r.jsonl');
      await writeFile(report, [
        JSON.stringify({url: 'http://a.test/1', ok: true}),
        JSON.stringify({url: 'http://a.test/2'}),
        JSON.stringify({url: 'http://a.test/3', ok: 'true'}),
        JSON.stringify({url: 'http://a.test/4', ok: 1}),
      ].join('\n') + '\n');
      const ok = await readOkUrls(report);
      expect(['1', '2', '3', '4'].map((n) => ok.isOk(`http://a.test/${n}`, null))).toEqual([true, false, false, false]);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
});

describe('countEntries', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetchall-count-'));
  });
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true});
  });

  /** The count ahead must equal the entries the reader numbers, whatever the bytes. */
  async function agree(text: string | Buffer, shard?: {k: number; n: number}): Promise<number> {
    const path = join(dir, `list-${Math.random().toString(36).slice(2)}.txt`);
    await writeFile(path, text);
    const counted = await countEntries([{path}], shard === undefined ? undefined : {index: shard.k, count: shard.n});
    const read = (await collect([memoryList('l', Buffer.from(text))])).filter((e) => shard === undefined || (e.index - 1) % shard.n === shard.k - 1);
    expect(counted).toBe(read.length);
    return counted;
  }

  test('blank, comment, BOM, CRLF, Unicode white space, invalid UTF-8 and a last line without LF', async () => {
    const text = Buffer.concat([
      Buffer.from('\uFEFFhttp://a.test/1\r\n\r\n   # comment\n\t\v\f\r\n#x\n'),
      Buffer.from('\u00A0\u2028http://a.test/2\n\u00A0\u3000\n\u00A0# spaced comment\nnot a url\n{"url":"http://a.test/3"}\n'),
      Buffer.from([0xff, 0xfe, 0x0a, 0x20, 0xc3, 0x0a]),
      Buffer.from('x\ry\n\u2028\nhttp://a.test/last'),
    ]);
    expect(await agree(text)).toBe(8);
    await agree(text, {k: 2, n: 3});
  });

  test('a line over 16 MiB is one invalid entry naming list:line, held only by its head; the next lines go on', async () => {
    const long = 'h'.repeat(17 * 1024 * 1024);
    const text = `http://a.test/1\n${long}\n#${long}\nhttp://a.test/2\n${long}`;
    const entries = await collect([memoryList('big.txt', text)]);
    expect(entries.map((e) => [e.index, e.invalid ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, 'big.txt:2: the line is longer than 16 MiB'],
      [3, 'ok'],
      [4, 'big.txt:5: the line is longer than 16 MiB'],
    ]);
    expect(entries[1]!.url.length).toBeLessThanOrEqual(101);
    expect(await agree(text)).toBe(4);
  });

  test('a line over 16 MiB whose first significant character is not ASCII is decided by its head, as the reader does', async () => {
    const {MAX_LINE_BYTES} = await import('../../src/input/lines.js');
    // `bytes` of a line (CR included, LF not) that start with `head` and are padded with `z`.
    const line = (head: string, bytes: number, cr = false): Buffer =>
      Buffer.concat([Buffer.from(head), Buffer.alloc(bytes - Buffer.byteLength(head) - (cr ? 1 : 0), 0x7a), Buffer.from(cr ? '\r\n' : '\n')]);
    const ok = Buffer.from('http://a.test/1\n');
    // Comments: a BOM or a no-break space before the `#` (the count took them for entries).
    expect(await agree(Buffer.concat([line('\uFEFF#', MAX_LINE_BYTES + 2), ok]))).toBe(1);
    expect(await agree(Buffer.concat([ok, line('\u00A0#', MAX_LINE_BYTES + 2), ok]))).toBe(2);
    // Exactly one byte over, that byte the CR of a CRLF: a whole line, a comment.
    expect(await agree(Buffer.concat([ok, line('\u00A0#', MAX_LINE_BYTES + 1, true)]))).toBe(1);
    // Over by its leading ASCII white space only: still overlong, still a comment.
    expect(await agree(Buffer.concat([Buffer.alloc(10, 0x20), line('\u00A0#', MAX_LINE_BYTES - 8), ok]))).toBe(1);
    // A head of Unicode white space only (what follows it unknown): one invalid entry.
    expect(await agree(Buffer.concat([line(`${'\u3000'.repeat(400)}#`, MAX_LINE_BYTES + 2), ok]))).toBe(2);
  });

  test('a 50 MB line with no end, its first significant character not ASCII, is held only to the reader\'s cap', async () => {
    const {MAX_LINE_BYTES} = await import('../../src/input/lines.js');
    // The count decodes such a line to decide it, and gathers its bytes for that: up to the reader's cap
    // (16 MiB, plus one read of 256 KiB), never the whole line, however long and whether or not it ends.
    const huge = Buffer.alloc(50 * 1024 * 1024, 0x68);
    const cases: [Buffer, number][] = [
      [Buffer.concat([Buffer.from('http://a.test/1\n\u00A0'), huge]), 2],
      [Buffer.concat([Buffer.from('http://a.test/1\n\uFEFF#'), huge, Buffer.from('\nhttp://a.test/2\n')]), 2],
    ];
    for (const [text, entries] of cases) {
      const path = join(dir, `huge-${Math.random().toString(36).slice(2)}.txt`);
      await writeFile(path, text);
      const concat = vi.spyOn(Buffer, 'concat');
      try {
        // An overlong line is one invalid entry to the reader, a comment one none: counted the same.
        expect(await countEntries([{path}], undefined)).toBe(entries);
        const largest = Math.max(0, ...concat.mock.results.map((result) => (result.value as Buffer).length));
        expect(largest).toBeGreaterThan(MAX_LINE_BYTES);
        expect(largest).toBeLessThanOrEqual(MAX_LINE_BYTES + 256 * 1024 + 1);
      } finally {
        concat.mockRestore();
        await rm(path);
      }
    }
  });

  test('agrees with the reader on random lines of tricky bytes', async () => {
    const pieces = ['', ' ', '\t', '\r', '#', 'h', 'http://a.test/x', '\u00A0', '\uFEFF', '\u2028', '\u3000', 'é', '{"url":"http://a.test/j"}'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      const lines = Array.from({length: 200}, () => Array.from({length: random(4)}, () => pieces[random(pieces.length)]).join(''));
      await agree(lines.join(random(2) === 0 ? '\n' : '\r\n'));
    }
  });
});
