// The one record every selected entry yields, and the entry that becomes it.
import type {ErrorCode} from './errors.js';

/** One line of the input, numbered from 1 across all lists. */
export interface Entry {
  /** 1-based position among the non-blank, non-comment lines of all lists. */
  readonly index: number;
  /** The URL text exactly as given. */
  readonly url: string;
  /** The parsed, normalised URL; undefined when the line is invalid. */
  readonly target: URL | undefined;
  /** Output name from the list (the NAME column or JSON `name`). */
  readonly name?: string | undefined;
  /** Expected SHA-256 of the body, lowercase hex. */
  readonly sha256?: string | undefined;
  /** Per-entry headers, lowercase names, replacing `-H` of the same name. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Set when the line is not a valid entry: the record fails with `invalid_url` and this message. */
  readonly invalid?: string | undefined;
}

/** The record's `error`. */
export interface RecordError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** One finished entry; keys in the order the contract prints them. */
export interface FetchRecord {
  index: number;
  url: string;
  ok: boolean;
  status: number | null;
  final_url: string | null;
  bytes: number;
  duration_ms: number;
  attempts: number;
  file: string | null;
  skipped: boolean;
  sha256: string | null;
  error: RecordError | null;
}

/** Serialise a record as one JSON line with the contract's key order (no trailing newline). */
export function recordToJson(record: FetchRecord): string {
  return JSON.stringify({
    index: record.index,
    url: record.url,
    ok: record.ok,
    status: record.status,
    final_url: record.final_url,
    bytes: record.bytes,
    duration_ms: record.duration_ms,
    attempts: record.attempts,
    file: record.file,
    skipped: record.skipped,
    sha256: record.sha256,
    error: record.error,
  });
}

/** The record of a line that is not a valid entry. */
export function invalidRecord(entry: Entry): FetchRecord {
  return {
    index: entry.index, url: entry.url, ok: false, status: null, final_url: null, bytes: 0, duration_ms: 0,
    attempts: 0, file: null, skipped: false, sha256: null,
    error: {code: 'invalid_url', message: entry.invalid ?? 'invalid URL'},
  };
}

/**
 * The record of an entry whose file cannot be written, known before any request: an earlier entry's
 * file stands where its folder must be (`a`, then `a/b`). No request is sent for it.
 */
export function blockedRecord(entry: Entry, message: string): FetchRecord {
  return {
    index: entry.index, url: entry.url, ok: false, status: null, final_url: null, bytes: 0, duration_ms: 0,
    attempts: 0, file: null, skipped: false, sha256: null,
    error: {code: 'write', message},
  };
}

/** The record of an entry skipped without a request (`--resume`, `--skip-existing`). */
export function skippedRecord(entry: Entry, file: string | null, sha256: string | null = null): FetchRecord {
  return {
    index: entry.index, url: entry.url, ok: true, status: null, final_url: null, bytes: 0, duration_ms: 0,
    attempts: 0, file, skipped: true, sha256, error: null,
  };
}
