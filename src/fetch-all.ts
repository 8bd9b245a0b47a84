// fetchAll(entries, options): the library's entry point, adapting plain URLs and objects to entries.
import {OutputError, UsageError} from './errors.js';
import {entryFromValue, parseTargetUrl} from './input/parse-line.js';
import {checkOptionValues} from './library-options.js';
import {libraryName, normalizeOptions, type FetchAllOptions, type RunOptions} from './options.js';
import {recordToJson, type Entry, type FetchRecord} from './record.js';
import {readOkUrls, ReportFile, type ResumeSet} from './report/report-file.js';
import {planEntries, untilStopped} from './plan.js';
import {runEntries, type FetchAllRun} from './run.js';
import {prepareOutputDir} from './sinks/file-sink.js';

/** A URL, or an object as a JSON list line would give it. */
export type EntryInput = string | URL | {url: string; name?: string | undefined; sha256?: string | undefined; headers?: Record<string, string> | undefined};

/**
 * Entries for {@link fetchAll}: any iterable or async iterable of URLs or entry objects, but a lone
 * string (an iterable of its characters), which the runtime refuses too; `charAt` is what tells a
 * string from an array or a set, and a generic `I extends Iterable<EntryInput>` still passes.
 */
export type EntrySource = (Iterable<EntryInput> | AsyncIterable<EntryInput>) & {readonly charAt?: never};

/**
 * Fetch every entry, at most `options.concurrency` at a time, pulling entries lazily as slots free up.
 * Records come out as entries finish. Bad options throw a TypeError at once.
 * @example
 * for await (const record of fetchAll(['https://a.test/x'], {concurrency: 3, outputDir: 'out'})) console.log(record.ok);
 */
export function fetchAll(entries: EntrySource, options: FetchAllOptions = {}): FetchAllRun {
  checkArguments(entries, options);
  checkOptionValues(options as Record<string, unknown>);
  let normalized: RunOptions;
  try {
    const {headers, ...rest} = options as FetchAllOptions & {headers?: FetchAllOptions['header']};
    // Given as `headers`, the option is named so in messages.
    normalized = normalizeOptions(headers === undefined ? rest : {...rest, header: headers}, headers === undefined ? libraryName : (camel) => (camel === 'header' ? 'options.headers' : libraryName(camel)));
  } catch (error) {
    if (error instanceof UsageError) throw new TypeError(error.message);
    throw error;
  }
  // What is read again at iteration is taken now, as validated: changing the caller's object later
  // changes nothing.
  const extras: LibraryExtras = {report: options.report, resume: options.resume === true, signal: options.signal, dryRun: options.dryRun === true};
  let run: FetchAllRun | undefined;
  // A fatal output error before the run could start (DIR, the report): thrown, and told here too.
  let early: OutputError | undefined;
  return {
    get stopReason() {
      return run?.stopReason ?? (early === undefined ? undefined : 'output');
    },
    get fatal() {
      return run?.fatal ?? early;
    },
    [Symbol.asyncIterator]: () => {
      const iterating = iterate(entries, normalized, extras, (started) => (run = started), (error) => (early = error));
      return iterating[Symbol.asyncIterator]();
    },
  };
}

/** The library's options beyond the run's own. */
interface LibraryExtras {
  readonly report: string | undefined;
  readonly resume: boolean;
  readonly signal: AbortSignal | undefined;
  readonly dryRun: boolean;
}

/**
 * One iteration of a run, as the CLI does it: DIR made and the report opened (and read, for `resume`)
 * before the first request, each record appended to the report as it is yielded. A fatal output error
 * (DIR, the report, a full disk) is thrown: before any request when it is there from the start, else
 * after the records of the entries that had finished.
 */
async function* iterate(
  entries: Iterable<EntryInput> | AsyncIterable<EntryInput>,
  normalized: RunOptions,
  options: LibraryExtras,
  started: (run: FetchAllRun) => void,
  failedEarly: (error: OutputError) => void,
): AsyncGenerator<FetchRecord> {
  if (options.dryRun) {
    // The plan only, as `--dry-run --json` prints it: no request, no folder, no report written.
    let planResume: ResumeSet | undefined;
    try {
      planResume = options.report !== undefined && options.resume ? await readOkUrls(options.report) : undefined;
    } catch (error) {
      if (error instanceof OutputError) failedEarly(error);
      throw error;
    }
    // The caller's signal and a deadline stop a plan as they stop a run (a list may be slow or endless).
    const stops = [options.signal, normalized.deadline > 0 ? AbortSignal.timeout(Math.ceil(normalized.deadline)) : undefined].filter((s) => s !== undefined);
    const stop = stops.length === 0 ? undefined : AbortSignal.any(stops);
    for await (const planned of untilStopped(planEntries(toEntries(entries), normalized, planResume), stop)) yield planned.record;
    return;
  }
  let resumeOk: ResumeSet | undefined;
  let report: ReportFile | undefined;
  try {
    if (normalized.outputDir !== undefined) prepareOutputDir(normalized.outputDir, {fsync: normalized.fsync});
    resumeOk = options.report !== undefined && options.resume ? await readOkUrls(options.report) : undefined;
    report = options.report === undefined ? undefined : ReportFile.open(options.report);
  } catch (error) {
    if (error instanceof OutputError) failedEarly(error);
    throw error;
  }
  try {
    // The report takes each record as its entry completes (before `ordered` orders what is yielded).
    const reportFile = report;
    const onComplete = reportFile === undefined ? undefined : (record: FetchRecord): void => reportFile.append(recordToJson(record));
    const protect = options.report === undefined ? undefined : [options.report];
    const run = runEntries(toEntries(entries), normalized, options.signal, {env: process.env, resumeOk, onComplete, protect});
    started(run);
    for await (const record of run) yield record;
    if (run.fatal !== undefined) throw run.fatal;
  } finally {
    report?.close();
  }
}

/** Catch the caller's mistakes at once, as TypeErrors, rather than as odd records later. */
function checkArguments(entries: unknown, options: unknown): void {
  // A lone string is iterable too, but as characters: fetching one URL per character helps nobody.
  if (typeof entries === 'string' || entries instanceof URL) {
    throw new TypeError('fetchAll(entries): entries must be an iterable of URLs or entries, not a single URL (wrap it in an array)');
  }
  const iterable = typeof entries === 'object' && entries !== null && (Symbol.iterator in entries || Symbol.asyncIterator in entries);
  if (!iterable) throw new TypeError('fetchAll(entries): entries must be an iterable or async iterable');
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('fetchAll(entries, options): options must be an object');
  }
  const signal = (options as {signal?: unknown}).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
}

async function* toEntries(inputs: Iterable<EntryInput> | AsyncIterable<EntryInput>): AsyncGenerator<Entry> {
  let index = 0;
  for await (const input of inputs) {
    index++;
    const where = `entry ${index}`;
    if (typeof input === 'string' || input instanceof URL) {
      const text = String(input);
      const target = parseTargetUrl(text);
      yield typeof target === 'string' ? {index, url: text, target: undefined, invalid: `${where}: ${target}`} : {index, url: text, target};
    } else {
      yield entryFromValue(input, index, where, shown(input));
    }
  }
}

/**
 * An entry as a record's `url` shows it when it has no usable `url`: the `url` it carries where it is
 * no plain object (a `Request`, whose JSON is `{}`), else its JSON, or what String makes of it.
 */
function shown(input: unknown): string {
  try {
    const url = typeof input === 'object' && input !== null ? (input as {url?: unknown}).url : undefined;
    if (typeof url === 'string') return url;
    return JSON.stringify(input) ?? String(input);
  } catch {
    // A BigInt or a cycle: not JSON, still one entry's problem, not the run's.
    try {
      return String(input);
    } catch {
      return Object.prototype.toString.call(input);
    }
  }
}
