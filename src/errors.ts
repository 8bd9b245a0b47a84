// Typed errors with stable codes: tests and records assert the code, never the message.

/** Every way one URL can fail, as the record's `error.code`. */
export type ErrorCode =
  | 'invalid_url'
  | 'dns'
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'reset'
  | 'protocol'
  | 'http_status'
  | 'too_large'
  | 'too_many_redirects'
  | 'checksum'
  | 'write'
  | 'aborted';

export interface FetchallErrorDetails {
  /** HTTP status when the failure carried one (`http_status`), else undefined. */
  readonly status?: number | undefined;
  /** Whether the retry policy may try the entry again. */
  readonly retryable?: boolean | undefined;
  /** Milliseconds the server asked us to wait (`Retry-After`), when it said so. */
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

/**
 * One URL's failure. `message` is user-facing: one line, credentials stripped.
 * @example throw new FetchallError('timeout', 'no byte received for 30s', {retryable: true})
 */
export class FetchallError extends Error {
  override readonly name = 'FetchallError';
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, details: FetchallErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : {cause: details.cause});
    this.code = code;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A bad flag, value or list: exit 2, before any request. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A failure of an output every URL needs (DIR, report, stdout, disk full): exit 3.
 * `code` is the errno code when there was one (`ENOSPC`, `EROFS`, `EPIPE`, …).
 */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  readonly code: string | undefined;
  constructor(message: string, options: {code?: string | undefined; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.code = options.code;
  }
}

/** errno codes that mean no file at all can be written, so the run cannot go on. */
export const FATAL_WRITE_ERRNOS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'EIO']);

/** An errno code in words, code kept: `permission denied (EACCES)`. */
export function describeErrno(code: string): string {
  switch (code) {
    case 'ENOSPC': return 'no space left on device (ENOSPC)';
    case 'EROFS': return 'read-only file system (EROFS)';
    case 'EDQUOT': return 'disk quota exceeded (EDQUOT)';
    case 'EACCES': return 'permission denied (EACCES)';
    case 'EISDIR': return 'a directory is in the way (EISDIR)';
    case 'ENOTDIR': return 'a file is in the way of a folder (ENOTDIR)';
    case 'EEXIST': return 'a file is in the way (EEXIST)';
    case 'ENOENT': return 'no such file or folder (ENOENT)';
    case 'EPERM': return 'operation not permitted (EPERM)';
    case 'EFBIG': return 'file too large (EFBIG)';
    case 'EIO': return 'input/output error (EIO)';
    case 'EBADF': return 'not open for writing (EBADF)';
    case 'EMFILE': return 'too many open files (EMFILE)';
    case 'ENFILE': return 'too many open files in the system (ENFILE)';
    default: return code;
  }
}
