// Options, from the CLI's strings or the library's values, validated once into one frozen RunOptions.
import {UsageError} from './errors.js';
import {MAX_DURATION_MS, parseDuration} from './parse/duration.js';
import {parseSize} from './parse/size.js';
import {parseRate} from './parse/rate.js';
import {parseShard} from './parse/shard.js';
import {parseHeader, toWire, validateHeaderPair} from './parse/header.js';
import {parseMaxFailures, parseWholeNumber} from './parse/number.js';
import {validateTemplate} from './sinks/naming.js';
import {escapeText, redactWholeUrl} from './report/escape.js';
import {VERSION} from './version.js';

/** What `fetchAll` and the CLI accept: the long flags in camelCase. */
export interface FetchAllOptions {
  concurrency?: number | string | undefined;
  perHost?: number | string | undefined;
  rate?: number | string | undefined;
  shard?: string | {index: number; count: number} | undefined;
  header?: readonly string[] | Readonly<Record<string, string>> | undefined;
  userAgent?: string | undefined;
  /** GET or HEAD (the runtime takes any case: the CLI's `-X head`). */
  method?: 'GET' | 'HEAD' | 'get' | 'head' | undefined;
  connectTimeout?: number | string | undefined;
  idleTimeout?: number | string | undefined;
  timeout?: number | string | undefined;
  maxRedirects?: number | string | undefined;
  maxSize?: number | string | undefined;
  compressed?: boolean | undefined;
  insecure?: boolean | undefined;
  proxy?: string | undefined;
  retries?: number | string | undefined;
  retryDelay?: number | string | undefined;
  retryMaxDelay?: number | string | undefined;
  outputDir?: string | undefined;
  name?: string | undefined;
  skipExisting?: boolean | undefined;
  fsync?: boolean | undefined;
  ordered?: boolean | undefined;
  checksum?: boolean | undefined;
  failFast?: boolean | undefined;
  maxFailures?: number | string | undefined;
  deadline?: number | string | undefined;
  /** Library only (the CLI handles its own): append each record to this JSON-lines file. */
  report?: string | undefined;
  /** Library only: with `report`, skip the URLs whose latest record there is ok. */
  resume?: boolean | undefined;
  /** Library: yield the would-be records (the CLI's `--dry-run --json`): no request, no folder, no report. */
  dryRun?: boolean | undefined;
  /** Another name for `header`. */
  headers?: readonly string[] | Readonly<Record<string, string>> | undefined;
  /** CLI flags about the terminal and stdout: accepted, and ignored by the library (it writes nothing). */
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
  progress?: boolean | undefined;
  color?: boolean | undefined;
  noColor?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export type FailureBudget = {kind: 'count'; value: number} | {kind: 'percent'; value: number};

/** The validated, normalised options one run uses. Durations and sizes are milliseconds and bytes. */
export interface RunOptions {
  readonly concurrency: number;
  readonly perHost: number | undefined;
  /** Starts per second. */
  readonly rate: number | undefined;
  readonly shard: {readonly index: number; readonly count: number} | undefined;
  /** Request headers with lowercase names, user-agent and accept included. */
  readonly headers: Readonly<Record<string, string>>;
  readonly method: 'GET' | 'HEAD';
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  readonly timeout: number;
  readonly maxRedirects: number;
  readonly maxSize: number | undefined;
  readonly compressed: boolean;
  readonly insecure: boolean;
  /** The proxy URL; `''`: no proxy, whatever the environment says; undefined: the environment's. */
  readonly proxy: string | undefined;
  readonly retries: number;
  readonly retryDelay: number;
  readonly retryMaxDelay: number;
  readonly outputDir: string | undefined;
  readonly name: string;
  readonly skipExisting: boolean;
  /** fsync each file (and its folder) before it counts as saved. */
  readonly fsync: boolean;
  readonly ordered: boolean;
  readonly checksum: boolean;
  readonly failFast: boolean;
  readonly maxFailures: FailureBudget | undefined;
  readonly deadline: number;
}

/** How an option is called in messages: `--flag` for the CLI, `options.name` for the library. */
export type Namer = (camel: string) => string;

export const cliName: Namer = (camel) => '--' + camel.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const libraryName: Namer = (camel) => `options.${camel}`;

export const DEFAULTS = Object.freeze({
  concurrency: 8,
  connectTimeout: 10_000,
  idleTimeout: 30_000,
  timeout: 0,
  maxRedirects: 10,
  retries: 2,
  retryDelay: 500,
  retryMaxDelay: 30_000,
  name: '{basename}',
});

function duration(value: number | string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`${flag} must be a duration ≥ 0 (got ${String(value)})`);
    // Node's timers hold at most 2^31 − 1 ms: beyond it a timer fires at once (with a warning).
    if (value > MAX_DURATION_MS) throw new UsageError(`${flag} must be a duration of at most ${MAX_DURATION_MS} ms (about 24.8 days) (got ${String(value)})`);
    return value;
  }
  return parseDuration(value, flag);
}

function whole(value: number | string | undefined, fallback: number | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return fallback;
  return parseWholeNumber(String(value), flag, min, max);
}

function size(value: number | string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !(value > 0)) throw new UsageError(`${flag} must be a size > 0 (got ${String(value)})`);
    return Math.floor(value);
  }
  return parseSize(value, flag);
}

function headers(raw: FetchAllOptions, name: Namer): Record<string, string> {
  // No prototype: a header named `__proto__` is a header like any other.
  const out = Object.create(null) as Record<string, string>;
  out['user-agent'] = raw.userAgent === undefined ? `fetchall/${VERSION}` : toWire(raw.userAgent);
  out['accept'] = '*/*';
  if (raw.userAgent !== undefined && validateHeaderPair('User-Agent', raw.userAgent) !== null) {
    throw new UsageError(`${name('userAgent')} must not contain CR, LF, NUL or another control character (a tab is allowed)`);
  }
  const given = raw.header;
  if (given === undefined) return out;
  const pairs: [string, string][] = Array.isArray(given)
    ? (given as readonly string[]).map((text) => parseHeader(text, name('header')))
    : Object.entries(given).map(([k, v]): [string, string] => {
        const problem = validateHeaderPair(k, v);
        if (problem !== null) throw new UsageError(`${name('header')}: ${problem}`);
        return [k.toLowerCase(), toWire(v)];
      });
  for (const [k, v] of pairs) out[k] = v;
  return out;
}

/**
 * Validate every option once. Throws UsageError naming the option; `name` picks how it is named.
 * @example normalizeOptions({concurrency: '3', timeout: '10s'}, cliName).timeout === 10000
 */
export function normalizeOptions(raw: FetchAllOptions, name: Namer = libraryName): RunOptions {
  const method = (raw.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') {
    throw new UsageError(`${name('method')} must be GET or HEAD (got "${raw.method ?? ''}")`);
  }
  const template = raw.name ?? DEFAULTS.name;
  validateTemplate(template, name('name'));
  if (raw.outputDir !== undefined && raw.outputDir === '') {
    throw new UsageError(`${name('outputDir')} must not be empty`);
  }
  const shard = raw.shard === undefined ? undefined : typeof raw.shard === 'string' ? parseShard(raw.shard, name('shard')) : raw.shard;
  if (shard !== undefined && !(Number.isSafeInteger(shard.index) && Number.isSafeInteger(shard.count) && shard.index >= 1 && shard.index <= shard.count)) {
    throw new UsageError(`${name('shard')} must be K/N with 1 ≤ K ≤ N`);
  }
  let rate: number | undefined;
  if (raw.rate !== undefined) rate = typeof raw.rate === 'number' ? (raw.rate > 0 && Number.isFinite(raw.rate) ? raw.rate : NaN) : parseRate(raw.rate, name('rate'));
  if (rate !== undefined && Number.isNaN(rate)) throw new UsageError(`${name('rate')} must be a number of requests per second > 0`);
  // Starts 1/R apart must fit a Node timer (2^31 − 1 ms, about 24.8 days).
  if (rate !== undefined && 1000 / rate > MAX_DURATION_MS) throw new UsageError(`${name('rate')} is too low: at least one request per 24.8 days`);
  const retryDelay = duration(raw.retryDelay, DEFAULTS.retryDelay, name('retryDelay'));
  const retryMaxDelay = duration(raw.retryMaxDelay, DEFAULTS.retryMaxDelay, name('retryMaxDelay'));
  return Object.freeze({
    concurrency: whole(raw.concurrency, DEFAULTS.concurrency, name('concurrency'), 1, 10_000)!,
    perHost: whole(raw.perHost, undefined, name('perHost'), 1, 10_000),
    rate,
    shard: shard === undefined ? undefined : Object.freeze({...shard}),
    headers: Object.freeze(headers(raw, name)),
    method,
    connectTimeout: duration(raw.connectTimeout, DEFAULTS.connectTimeout, name('connectTimeout')),
    idleTimeout: duration(raw.idleTimeout, DEFAULTS.idleTimeout, name('idleTimeout')),
    timeout: duration(raw.timeout, DEFAULTS.timeout, name('timeout')),
    maxRedirects: whole(raw.maxRedirects, DEFAULTS.maxRedirects, name('maxRedirects'), 0, 1000)!,
    maxSize: size(raw.maxSize, name('maxSize')),
    compressed: raw.compressed === true,
    insecure: raw.insecure === true,
    proxy: proxyUrl(raw.proxy, name('proxy')),
    retries: whole(raw.retries, DEFAULTS.retries, name('retries'), 0, 1000)!,
    retryDelay,
    retryMaxDelay,
    outputDir: raw.outputDir,
    name: template,
    skipExisting: raw.skipExisting === true,
    fsync: raw.fsync === true,
    ordered: raw.ordered === true,
    checksum: raw.checksum === true,
    failFast: raw.failFast === true,
    maxFailures: raw.maxFailures === undefined ? undefined : parseMaxFailures(String(raw.maxFailures), name('maxFailures')),
    deadline: duration(raw.deadline, 0, name('deadline')),
  });
}

/** A URL's user name or password that undici will percent-decode: one that does not decode is sent as typed. */
function asTyped(part: string): string {
  try {
    decodeURIComponent(part);
    return part;
  } catch {
    return part.replace(/%/g, '%25');
  }
}

// An empty --proxy turns proxies off, the variables' too, as `curl -x ''` does.
function proxyUrl(value: string | undefined, flag: string): string | undefined {
  return value === undefined || value === '' ? value : proxyOrigin(value, flag);
}

/**
 * A proxy URL as undici takes it: scheme, credentials, host and port. A path, query or fragment is
 * dropped, as curl drops them (undici refuses them). Messages mask the password.
 * @throws {UsageError} naming `what` (a flag or a variable) for a value that is no http(s) URL
 * @example proxyOrigin('http://u:p@proxy:3128/x?y', '--proxy'); // 'http://u:p@proxy:3128'
 */
export function proxyOrigin(value: string, what: string): string {
  // As curl takes `-x proxy:3128`: no scheme is http://.
  const text = /^[a-z][a-z\d+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const shown = escapeText(redactWholeUrl(text));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${what} must be a URL such as http://proxy:3128 (got "${shown}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${what} must be an http:// or https:// URL (got "${shown}")`);
  }
  const credentials = url.username === '' && url.password === '' ? '' : `${asTyped(url.username)}${url.password === '' ? '' : `:${asTyped(url.password)}`}@`;
  return `${url.protocol}//${credentials}${url.host}`;
}
