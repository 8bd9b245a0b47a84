// --dry-run: a run's plan, entry by entry (names, shard), with no request, no folder and no report.
import {join} from 'node:path';
import type {RunOptions} from './options.js';
import {inShard} from './parse/shard.js';
import {blockedRecord, skippedRecord, type Entry, type FetchRecord} from './record.js';
import type {ResumeSet} from './report/report-file.js';
import {existingMatches, savedPathOrNull} from './sinks/existing.js';
import {blockedMessage, NameAssigner} from './sinks/naming.js';

/** One selected entry of the plan: where its body would go, and the record it would get. */
export interface PlannedEntry {
  readonly entry: Entry;
  /** DIR joined with the entry's name, or null without an output folder. */
  readonly file: string | null;
  /** The would-be record: ok unless the entry is invalid, nothing sent. */
  readonly record: FetchRecord;
}

/**
 * The plan of a run over `entries`: names assigned over every entry in input order (as the run does),
 * then only the entries of the shard. Reads the entries and nothing else.
 * @example for await (const {entry, file} of planEntries(entries, options)) console.log(entry.url, file);
 */
export async function* planEntries(entries: AsyncIterable<Entry> | Iterable<Entry>, options: RunOptions, resumeOk?: Pick<ResumeSet, 'isOk'>): AsyncGenerator<PlannedEntry> {
  const names = options.outputDir === undefined ? undefined : new NameAssigner(options.name);
  for await (const entry of entries) {
    const assigned = names?.assign(entry) ?? undefined;
    const name = assigned?.name;
    if (options.shard !== undefined && !inShard(entry.index, options.shard)) continue;
    const path = name === undefined || options.outputDir === undefined ? null : join(options.outputDir, name);
    // HEAD saves no file: the plan shows none, as the run's records do.
    const file = options.method === 'HEAD' ? null : path;
    const valid = entry.invalid === undefined;
    // What the run would skip (--resume, --skip-existing), as it would: skipped records.
    if (valid && resumeOk?.isOk(entry.url, path) === true) {
      yield {entry, file: path, record: skippedRecord(entry, savedPathOrNull(path))};
      continue;
    }
    if (valid && options.skipExisting && path !== null && (await existingMatches(path, entry.sha256, options.outputDir!))) {
      yield {entry, file: path, record: skippedRecord(entry, path, entry.sha256 ?? null)};
      continue;
    }
    if (valid && file !== null && assigned?.blockedBy !== undefined) {
      yield {entry, file, record: blockedRecord(entry, blockedMessage(options.outputDir!, assigned.name, assigned.blockedBy))};
      continue;
    }
    yield {
      entry,
      file,
      record: {
        index: entry.index, url: entry.url, ok: valid, status: null, final_url: null, bytes: 0,
        duration_ms: 0, attempts: 0, file: valid ? file : null, skipped: false, sha256: null,
        error: valid ? null : {code: 'invalid_url', message: entry.invalid!},
      },
    };
  }
}

/**
 * `source`'s items until `signal` aborts: a step still pending then (a list that is slow to give its
 * next line) is abandoned, not awaited. A dry run stops so on the caller's signal or a --deadline.
 * @example for await (const planned of untilStopped(planEntries(entries, options), signal)) …
 */
export async function* untilStopped<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (signal === undefined) {
    yield* source;
    return;
  }
  const iterator = source[Symbol.asyncIterator]();
  let abandoned = false;
  try {
    while (!signal.aborted) {
      const step = await new Promise<IteratorResult<T> | undefined>((resolve, reject) => {
        const onAbort = (): void => resolve(undefined);
        signal.addEventListener('abort', onAbort, {once: true});
        iterator.next().then(
          (result) => {
            signal.removeEventListener('abort', onAbort);
            resolve(result);
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
      if (step === undefined) abandoned = true;
      if (step === undefined || step.done === true) return;
      yield step.value;
    }
  } finally {
    // An async generator's return() waits for a pending step: do not wait for one abandoned.
    const closing = Promise.resolve(iterator.return?.());
    if (abandoned) closing.catch(() => {});
    else await closing;
  }
}
