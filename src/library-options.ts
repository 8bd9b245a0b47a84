// The library's options checked as values (types, known names, flags that need another) before they
// are parsed: a typo or a wrong type is a TypeError at once, not an odd record later.
import {isPlainObject, kindOf} from './input/parse-line.js';

/** Options the library takes and uses, by the type their value must have. */
const BOOLEANS = ['compressed', 'insecure', 'skipExisting', 'fsync', 'ordered', 'checksum', 'failFast', 'resume'];
const STRINGS = ['userAgent', 'method', 'proxy', 'outputDir', 'name', 'report'];
const NUMBERS_OR_STRINGS = ['concurrency', 'perHost', 'rate', 'connectTimeout', 'idleTimeout', 'timeout', 'maxRedirects', 'maxSize', 'retries', 'retryDelay', 'retryMaxDelay', 'maxFailures', 'deadline'];
// CLI flags about the terminal and stdout, which a library does not have: accepted (they are long
// flags in camelCase, as the contract says options are) and ignored; dryRun yields the plan instead.
const PRESENTATION = ['json', 'dryRun', 'progress', 'quiet', 'verbose', 'color', 'noColor'];
const KNOWN: ReadonlySet<string> = new Set([...BOOLEANS, ...STRINGS, ...NUMBERS_OR_STRINGS, ...PRESENTATION, 'shard', 'header', 'headers', 'signal']);

/**
 * `headers` is taken as another name for `header` (the CLI's `-H, --header`), the name an entry's own
 * headers have and the one a caller reaches for first.
 *
 * Throw a TypeError for an unknown option, a value of the wrong type, or an option that needs another
 * one (as the CLI's usage errors: `name`, `skipExisting`, `fsync` need `outputDir`; `resume` needs
 * `report`). Values are parsed and range-checked afterwards, by normalizeOptions.
 * @example checkOptionValues({concurency: 3}); // TypeError: options.concurency is not an option …
 */
export function checkOptionValues(options: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`options.${key} is not an option of fetchAll (options are the CLI's long flags in camelCase, plus signal)`);
    if (value === undefined) continue;
    if ((BOOLEANS.includes(key) || PRESENTATION.includes(key)) && typeof value !== 'boolean') throw wrongType(key, 'a boolean', value);
    if (STRINGS.includes(key) && typeof value !== 'string') throw wrongType(key, 'a string', value);
    if (NUMBERS_OR_STRINGS.includes(key) && typeof value !== 'number' && typeof value !== 'string') throw wrongType(key, 'a number or a string', value);
  }
  const shard = options['shard'];
  if (shard !== undefined && typeof shard !== 'string' && (typeof shard !== 'object' || shard === null)) throw wrongType('shard', "a string 'K/N' or {index, count}", shard);
  if (options['header'] !== undefined && options['headers'] !== undefined) throw new TypeError('options.header and options.headers are one option: give one');
  for (const key of ['header', 'headers']) {
    const header = options[key];
    if (header === undefined) continue;
    // A Headers or a Map has no own keys: its headers would be dropped without a word.
    const values = Array.isArray(header) ? header : isPlainObject(header) ? Object.values(header) : undefined;
    if (values === undefined || values.some((v) => typeof v !== 'string')) {
      throw wrongType(key, "an array of 'Name: value' strings or an object of string values", header);
    }
  }
  const outputDir = options['outputDir'];
  for (const key of ['name', 'skipExisting', 'fsync']) {
    if (options[key] !== undefined && options[key] !== false && outputDir === undefined) throw new TypeError(`options.${key} needs options.outputDir`);
  }
  if (options['resume'] === true && options['report'] === undefined) throw new TypeError('options.resume needs options.report');
}

function wrongType(key: string, expected: string, value: unknown): TypeError {
  return new TypeError(`options.${key} must be ${expected} (got ${kindOf(value)})`);
}
