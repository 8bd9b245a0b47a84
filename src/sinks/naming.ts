// Output file names for `-o DIR`: template expansion, sanitising, collision suffixes, containment.
//
// Names are a pure function of the entries in input order, so every run and every shard of one list
// writes the same names. Rules deliberately identical on every OS (so shards on different machines
// agree): Windows device names (`CON`, `NUL.txt`, …) and the characters `:*?"<>|` are left as they are
// (valid on POSIX; on Windows writing such a file fails that URL as `write`). Likewise a name that is a
// directory prefix of another (`a` and `a/b`) is not caught here: the file sink's write fails as `write`.

import {Buffer, isUtf8} from 'node:buffer';
import {createHash} from 'node:crypto';
import path from 'node:path';
import {UsageError} from '../errors.js';

/** What a `--name` template can use from an entry. */
export interface TemplateParts {
  /** The parsed URL (host in punycode, path percent-encoded, as WHATWG `URL` gives them). */
  readonly url: URL;
  /** The URL text as given in the list, for `{hash}`. */
  readonly urlText: string;
  /** The entry's index, from 1. */
  readonly index: number;
}

/** One entry as the assigner sees it; `target` is undefined for an invalid entry. */
export interface NameEntry {
  readonly index: number;
  readonly url: string;
  readonly target: URL | undefined;
  readonly name?: string | undefined;
}

const PLACEHOLDERS = ['host', 'path', 'basename', 'index', 'hash'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
type Token = {readonly text: string} | {readonly placeholder: Placeholder};

const PLACEHOLDER = /\{([^{}]*)\}/g;
const MAX_SEGMENT_BYTES = 255;
/** A longer "extension" is more likely a dotted name than a file type: it is not kept when shortening. */
const MAX_EXTENSION_BYTES = 64;
const DEFAULT_NAME = 'index.html';
// C0, DEL, C1, and (in list or JSON names) UTF-16 halves without a partner.
const UNSAFE_CHARS = /[\x00-\x1f\x7f-\x9f]|\p{Cs}/gu;
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const DRIVE = /^[A-Za-z]:/;
// `.`, `..`, and what Windows would shrink to them by dropping trailing dots and spaces.
const DOTS_ONLY = /^[. ]*$/;
// The temporary files' suffix: a saved name never ends with it (`x.fetchall-tmp` is saved as
// `x_fetchall-tmp`), so the documented `find DIR -name '*.fetchall-tmp' -delete` never removes a download.
const TEMP_PATTERN_END = /\.fetchall-tmp$/i;

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

function compileTemplate(template: string, flag: string): Token[] {
  const quoted = JSON.stringify(template);
  if (template === '') {
    throw new UsageError(`${flag} must not be empty; use placeholders like {basename} or {host}/{path} (got ${quoted})`);
  }
  const tokens: Token[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!isPlaceholder(name)) {
      throw new UsageError(
        `${flag} has an unknown placeholder {${name}}; use {host}, {path}, {basename}, {index} or {hash} (got ${quoted})`,
      );
    }
    tokens.push({text: template.slice(last, match.index)}, {placeholder: name});
    last = match.index + match[0].length;
  }
  tokens.push({text: template.slice(last)});
  return tokens;
}

/**
 * Checks a `--name` template: not empty, and every `{…}` one of `{host}`, `{path}`, `{basename}`,
 * `{index}`, `{hash}`. Other text (a lone `{` included) is literal. Throws a {@link UsageError}.
 *
 * @example
 * validateTemplate('{host}/{path}', '--name'); // ok
 * validateTemplate('{file}', '--name');        // throws: --name has an unknown placeholder {file}; …
 */
export function validateTemplate(template: string, flag: string): void {
  compileTemplate(template, flag);
}

/**
 * Percent-decodes one URL path segment for use in a file name, then replaces a decoded `/`, `\`, NUL or
 * other control character (C0, DEL, C1) with `_`. A `%XX` byte that starts no valid UTF-8 sequence stays as written.
 *
 * @example
 * decodeUrlSegment('caf%C3%A9.txt'); // 'café.txt'
 * decodeUrlSegment('..%2Fetc');      // '.._etc'
 */
export function decodeUrlSegment(segment: string): string {
  const decoded = segment.replace(PERCENT_RUN, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return decodeRunBytewise(run);
    }
  });
  return decoded.replace(/[/\\]/g, '_').replace(UNSAFE_CHARS, '_');
}

/**
 * A run of `%XX` that is not valid UTF-8 as a whole: each valid UTF-8 sequence in it is decoded, each
 * byte that starts none stays as its `%XX` (so `%41%FF` gives `A%FF`, as `%41-%FF` gives `A-%FF`).
 */
function decodeRunBytewise(run: string): string {
  const bytes = Buffer.from(run.replaceAll('%', ''), 'hex');
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const length = utf8SequenceAt(bytes, i);
    if (length === 0) {
      out += run.slice(i * 3, i * 3 + 3);
      i++;
    } else {
      out += bytes.toString('utf8', i, i + length);
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 if none starts there. */
function utf8SequenceAt(bytes: Buffer, i: number): number {
  const lead = bytes[i]!;
  const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length === 0 || i + length > bytes.length) return 0;
  return isUtf8(bytes.subarray(i, i + length)) ? length : 0;
}

/**
 * The URL's decoded path segments; an empty path, or one ending in `/` or in a segment that names
 * can't keep (only dots and spaces: `/...`, `/%20`), ends in `index.html`, so a host or folder never
 * becomes the file's name.
 */
function pathSegments(url: URL): string[] {
  const segments = url.pathname.split('/').slice(1).map(decodeUrlSegment);
  if (segments.length === 0 || DOTS_ONLY.test(segments.at(-1)!)) {
    segments.splice(-1, 1, DEFAULT_NAME);
  }
  return segments;
}

function expand(tokens: readonly Token[], parts: TemplateParts): string {
  let segments: string[] | undefined;
  let out = '';
  for (const token of tokens) {
    if ('text' in token) {
      out += token.text;
      continue;
    }
    switch (token.placeholder) {
      case 'host':
        out += parts.url.hostname;
        break;
      case 'path':
        segments ??= pathSegments(parts.url);
        out += segments.join('/');
        break;
      case 'basename':
        segments ??= pathSegments(parts.url);
        out += segments.at(-1) ?? DEFAULT_NAME;
        break;
      case 'index':
        out += String(parts.index);
        break;
      case 'hash':
        out += createHash('sha256').update(parts.urlText).digest('hex').slice(0, 12);
        break;
    }
  }
  return out;
}

/**
 * Expands a `--name` template for one URL: `{host}` (host name, no port, punycode), `{path}` (path
 * without the leading `/`), `{basename}` (last segment), `{index}`, `{hash}` (first 12 hex digits of the
 * SHA-256 of `urlText`). URL segments are decoded with {@link decodeUrlSegment}; query and fragment are
 * never used. The result is not yet safe: pass it through {@link sanitizeName} (as NameAssigner does).
 *
 * @example
 * renderTemplate('{host}/{path}', {url: new URL('https://a.test:8080/d/%41.txt?q'), urlText: '…', index: 3});
 * // 'a.test/d/A.txt'
 */
export function renderTemplate(template: string, parts: TemplateParts): string {
  return expand(compileTemplate(template, '--name'), parts);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Length(char);
    if (bytes + size > maxBytes) {
      break;
    }
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** `stem + suffix + ext`, shortening the stem so the segment fits in 255 bytes of UTF-8. */
function fitSegment(segment: string, suffix: string): string {
  const dot = segment.lastIndexOf('.');
  let stem = dot > 0 ? segment.slice(0, dot) : segment;
  let ext = dot > 0 ? segment.slice(dot) : '';
  if (utf8Length(stem) + utf8Length(suffix) + utf8Length(ext) <= MAX_SEGMENT_BYTES) {
    return stem + suffix + ext;
  }
  if (utf8Length(ext) > MAX_EXTENSION_BYTES) {
    stem += ext;
    ext = '';
  }
  return truncateUtf8(stem, MAX_SEGMENT_BYTES - utf8Length(suffix) - utf8Length(ext)) + suffix + ext;
}

/**
 * Makes any name a safe relative path with `/` separators (no percent-decoding here): `\` counts as a
 * separator; empty, `.` and `..` segments (and any made only of dots and spaces, which Windows would
 * shrink to those) and a leading `/` are dropped; a drive letter (`C:`) at the start is removed; control
 * characters and lone UTF-16 surrogates become `_`; segments over 255 bytes of UTF-8 are shortened
 * keeping an extension of up to 64 bytes. If nothing remains, the name is `index.html`.
 *
 * @example
 * sanitizeName('../../etc/passwd'); // 'etc/passwd'
 * sanitizeName('C:\\x\\y.txt');     // 'x/y.txt'
 * sanitizeName('/');                // 'index.html'
 */
export function sanitizeName(raw: string): string {
  const segments: string[] = [];
  const pieces = raw.split(/[/\\]/);
  // A last segment dropped for its dots (`dir/...`) leaves a folder's name: the file is its index.html.
  if (pieces.length > 1 && pieces.at(-1) !== '' && DOTS_ONLY.test(pieces.at(-1)!)) pieces.push(DEFAULT_NAME);
  for (const piece of pieces) {
    let segment = piece.replace(UNSAFE_CHARS, '_');
    if (segments.length === 0) {
      segment = segment.replace(DRIVE, '');
    }
    segment = fitSegment(segment, '').replace(TEMP_PATTERN_END, '_fetchall-tmp');
    if (!DOTS_ONLY.test(segment)) {
      segments.push(segment);
    }
  }
  return segments.length === 0 ? DEFAULT_NAME : segments.join('/');
}

/** `a/b.txt` → `a/b-<n>.txt`: the suffix goes before the last segment's last extension. */
function withSuffix(name: string, n: number): string {
  const slash = name.lastIndexOf('/');
  return name.slice(0, slash + 1) + fitSegment(name.slice(slash + 1), `-${String(n)}`);
}

/**
 * The collision key: file systems may ignore case (and, on macOS, Unicode normalisation). Lower, upper,
 * then lower case again, so that every spelling with one upper case meets (`ς`, `σ` and `Σ`; `µ` and
 * `Μ`; `ſ` and `S`), which lower case alone does not do, while what lower case alone joins stays joined
 * (`ẞ` and `ß`); `ß` then meets `ss` too, one suffix more than needed at worst.
 */
function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase().toUpperCase().toLowerCase().normalize('NFC');
}

/** An entry's output name, and the earlier file (if any) that stands where one of its folders must be. */
export interface AssignedName {
  readonly name: string;
  /** An earlier entry's name that is a folder of this one (`a` before `a/b`): this one cannot be written. */
  readonly blockedBy: string | undefined;
}

/**
 * Gives every entry its output name, in call order (call it for every entry in input order, before any
 * filtering, so shards and reruns agree). A list `name` wins over the template; a taken name
 * (case-insensitively) gets the next unused `-1`, `-2`, … before its last extension. A folder of an
 * earlier name is taken too (`a/b`, then `a`: `a-1`); a name under an earlier file (`a`, then `a/b`)
 * is blocked, decided here in input order so that it never depends on which body arrives first.
 *
 * Memory: the set of names given (lowercased), the set of their folders, plus a next-suffix counter for
 * each name that collided, so that many entries with one name (`index.html`) cost O(1) each rather
 * than a scan from `-1`.
 *
 * @example
 * const names = new NameAssigner('{basename}');
 * names.assign({index: 1, url: 'https://a.test/a.txt', target: new URL('https://a.test/a.txt')}); // {name: 'a.txt', blockedBy: undefined}
 * names.assign({index: 2, url: 'https://b.test/A.TXT', target: new URL('https://b.test/A.TXT')}); // {name: 'A-1.TXT', …}
 */
export class NameAssigner {
  readonly #tokens: readonly Token[];
  readonly #taken = new Set<string>();
  readonly #folders = new Set<string>();
  readonly #nextSuffix = new Map<string, number>();

  /** @throws {UsageError} for an empty template or an unknown placeholder (reported as `--name`). */
  constructor(template: string) {
    this.#tokens = compileTemplate(template, '--name');
  }

  /**
   * The entry's final relative name, or null for an invalid entry with neither a target URL nor a name.
   * An empty `name` counts as none. An invalid entry with a name still takes it, like any other.
   */
  assign(entry: NameEntry): AssignedName | null {
    let base: string;
    if (entry.name !== undefined && entry.name !== '') {
      base = sanitizeName(entry.name);
    } else if (entry.target !== undefined) {
      base = sanitizeName(expand(this.#tokens, {url: entry.target, urlText: entry.url, index: entry.index}));
    } else {
      return null;
    }
    const blockedBy = this.#fileAbove(base);
    const baseKey = nameKey(base);
    let name = base;
    let key = baseKey;
    if (this.#isTaken(baseKey)) {
      // Numbers below the counter were all taken when last tried, and names are never given back.
      let n = this.#nextSuffix.get(baseKey) ?? 1;
      name = withSuffix(base, n);
      key = nameKey(name);
      while (this.#isTaken(key)) {
        n += 1;
        name = withSuffix(base, n);
        key = nameKey(name);
      }
      this.#nextSuffix.set(baseKey, n + 1);
    }
    this.#taken.add(key);
    // A blocked name is never written, so it makes no folders (and, being under a file, every name
    // under it is blocked by that same file).
    if (blockedBy === undefined) this.#addFolders(name);
    return {name, blockedBy};
  }

  #isTaken(key: string): boolean {
    return this.#taken.has(key) || this.#folders.has(key);
  }

  /** The earlier file name that is one of `name`'s folders, if any (the shortest: the one written). */
  #fileAbove(name: string): string | undefined {
    for (let slash = name.indexOf('/'); slash > 0; slash = name.indexOf('/', slash + 1)) {
      const folder = name.slice(0, slash);
      if (this.#taken.has(nameKey(folder))) return folder;
    }
    return undefined;
  }

  #addFolders(name: string): void {
    // Longest first: a folder already known has all of its parents known too.
    for (let slash = name.lastIndexOf('/'); slash > 0; slash = name.lastIndexOf('/', slash - 1)) {
      const key = nameKey(name.slice(0, slash));
      if (this.#folders.has(key)) return;
      this.#folders.add(key);
    }
  }
}

/**
 * Why a blocked name (see {@link AssignedName}) fails as `write`: its folder, as this entry spells it
 * (the earlier file's name may differ in case only), is taken by an earlier entry's file.
 * @example blockedMessage('out', 'c/d', 'c'); // "cannot write out/c/d: its folder out/c is taken by an earlier entry's file"
 */
export function blockedMessage(dir: string, name: string, blockedBy: string): string {
  return `cannot write ${path.join(dir, name)}: its folder ${path.join(dir, blockedBy)} is taken by an earlier entry's file`;
}

/**
 * Joins `dir` and a relative name into an absolute path, and asserts the result lies strictly inside
 * `dir` (after `path.resolve`; symlinks are the file sink's concern). Throws an `Error` otherwise: with
 * names from {@link sanitizeName} that would be a bug.
 *
 * @example
 * resolveInside('out', 'a/b.txt'); // '/current/dir/out/a/b.txt'
 * resolveInside('out', '../x');    // throws
 */
export function resolveInside(dir: string, relativeName: string): string {
  const root = path.resolve(dir);
  const full = path.resolve(root, relativeName);
  if (full === root || !liesWithin(root, full)) {
    throw new Error(`output name ${JSON.stringify(relativeName)} resolves outside ${JSON.stringify(root)}`);
  }
  return full;
}

/**
 * Whether the absolute path `target` is `root` itself or lies under it (by path, no symlinks resolved:
 * callers pass real paths when symlinks matter).
 * @example liesWithin('/out', '/out/a/b'); // true
 * liesWithin('/out', '/outside');          // false
 */
export function liesWithin(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
