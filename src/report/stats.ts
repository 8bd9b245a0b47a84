// Run counters for the progress line and the summary, in constant memory however long the list.
import {performance} from 'node:perf_hooks';
import type {ErrorCode} from '../errors.js';
import type {FetchRecord} from '../record.js';

/** How many failed records the summary lists one by one; the rest are only counted. */
export const MAX_LISTED_FAILURES = 20;

/** What the summary keeps of one failed record. */
export interface FailureInfo {
  readonly index: number;
  /** The URL text as given (not yet redacted or escaped). */
  readonly url: string;
  /** `null` only for a failed record without an `error`, which the runner should never produce. */
  readonly code: ErrorCode | null;
  readonly status: number | null;
  readonly message: string;
}

/**
 * The key a failure is grouped under: its status number for `http_status` (`"404"`), else its code
 * (`"timeout"`); `"unknown"` for a failed record without an error.
 *
 * @example failureKey({code: 'http_status', status: 404}) // → '404'
 */
export function failureKey(failure: Pick<FailureInfo, 'code' | 'status'>): string {
  if (failure.code === 'http_status' && failure.status !== null) return String(failure.status);
  return failure.code ?? 'unknown';
}

/**
 * Counters for one run, updated with `add(record)` as records complete. Only the first
 * {@link MAX_LISTED_FAILURES} failures are kept; the rest are counted, per group and in total, so
 * memory stays flat (the group map holds at most the 13 codes plus the distinct status numbers).
 *
 * `ok`, `failed` and `skipped` are disjoint and add up to `done` (a skipped record counts only as
 * skipped). `total` is the number of selected entries when known (lists counted ahead), else `null`;
 * it may be set later, when counting ahead finishes.
 *
 * @example
 * const stats = new RunStats({total: 120});
 * stats.requestsStarted++;        // by the runner, per request sent
 * stats.add(record);              // per record
 * stats.failedCount;              // → failures so far
 */
export class RunStats {
  /** Selected entries, when known ahead; `null` shows as `?`. */
  total: number | null;
  /** `performance.now()` at the start of the run, in ms. */
  readonly startedAt: number;
  /** Requests sent (first attempts, retries, redirect hops); the runner increments it. */
  requestsStarted = 0;
  /** Records seen. */
  done = 0;
  /** Records ok and not skipped. */
  ok = 0;
  /** Records failed. */
  failed = 0;
  /** Records skipped (`--skip-existing`, `--resume`). */
  skipped = 0;
  /** Body bytes received, summed over all records. */
  bytes = 0;
  /**
   * Body bytes received so far, as they arrive, over every attempt (the runner adds them when told to;
   * the progress line shows them, so that a long download moves it). The summary counts `bytes`.
   */
  received = 0;
  /** The first {@link MAX_LISTED_FAILURES} failures, in the order they completed. */
  readonly failures: FailureInfo[] = [];
  /** Failure count per {@link failureKey}, in the order the keys first appeared. */
  readonly failureGroups = new Map<string, number>();

  constructor(options: {total?: number | null; startedAt?: number} = {}) {
    this.total = options.total ?? null;
    this.startedAt = options.startedAt ?? performance.now();
  }

  /** Failures so far (the same as `failed`), listed or not. */
  get failedCount(): number {
    return this.failed;
  }

  /**
   * Count one completed record.
   * @example stats.add({...record, ok: false, status: 404, error: {code: 'http_status', message: '404 Not Found'}})
   */
  add(record: FetchRecord): void {
    this.done++;
    this.bytes += record.bytes;
    if (record.skipped) {
      this.skipped++;
    } else if (record.ok) {
      this.ok++;
    } else {
      this.failed++;
      const info: FailureInfo = {
        index: record.index,
        url: record.url,
        code: record.error?.code ?? null,
        status: record.status,
        message: record.error?.message ?? '',
      };
      const key = failureKey(info);
      this.failureGroups.set(key, (this.failureGroups.get(key) ?? 0) + 1);
      if (this.failures.length < MAX_LISTED_FAILURES) this.failures.push(info);
    }
  }

  /**
   * Milliseconds since the start, never negative.
   * @example stats.elapsedMs(performance.now()) // → 3210.5
   */
  elapsedMs(now: number): number {
    return Math.max(0, now - this.startedAt);
  }
}
