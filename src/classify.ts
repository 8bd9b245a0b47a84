// Anything thrown while fetching (undici UND_ERR_*, errno, TLS, parser) → our ErrorCode and whether to retry.
import {FetchallError, type ErrorCode} from './errors.js';

/** Statuses worth another attempt: the server may answer differently later. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Codes the retry policy tries again; every other code is final. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set(['dns', 'connect', 'reset', 'timeout']);

const BY_CODE: Readonly<Record<string, ErrorCode>> = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NONAME: 'dns',
  EAI_NODATA: 'dns',
  ECONNREFUSED: 'connect',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  EHOSTDOWN: 'connect',
  ENETDOWN: 'connect',
  EADDRNOTAVAIL: 'connect',
  // Out of file descriptors for a socket: curl reports a failed socket() as a failed connect too.
  EMFILE: 'connect',
  ENFILE: 'connect',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'reset',
  ERR_STREAM_PREMATURE_CLOSE: 'reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  UND_ERR_INFO: 'protocol',
  UND_ERR_INVALID_ARG: 'protocol',
  UND_ERR_NOT_SUPPORTED: 'protocol',
  UND_ERR_RESPONSE: 'protocol',
  HPE_INVALID_CONSTANT: 'protocol',
  Z_DATA_ERROR: 'protocol',
  Z_BUF_ERROR: 'protocol',
  ERR_BROTLI_DECOMPRESSION_FAILED: 'protocol',
  ERR__ERROR_FORMAT_PADDING_1: 'protocol',
  UND_ERR_PRX_CONN: 'connect',
  UND_ERR_PRX_TLS: 'tls',
};

const HUMAN: Readonly<Record<ErrorCode, string>> = {
  invalid_url: 'invalid URL',
  dns: 'host name not found',
  connect: 'could not connect',
  tls: 'TLS failure',
  timeout: 'timed out',
  reset: 'connection broken',
  protocol: 'protocol error',
  http_status: 'HTTP error',
  too_large: 'body too large',
  too_many_redirects: 'too many redirects',
  checksum: 'checksum mismatch',
  write: 'cannot write file',
  aborted: 'aborted',
};

// OpenSSL's certificate verification results as Node names them (the error's code), `UNSPECIFIED` for
// those it has no name for (a weak signature digest, a critical extension it does not know, a name
// constraint): every one a certificate that did not verify.
const VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
  'UNSPECIFIED',
]);

/** The `code` of an error, when it is a string. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * llhttp's "Invalid EOF state": the connection closed mid-message after a response that said
 * `Connection: close` (without that header undici calls the same cut a socket error). A broken body,
 * not bad framing. undici leaves this parser error without a code (its table of llhttp's codes is
 * keyed by name), so it is known by its reason.
 */
function isCutAtClose(error: unknown): boolean {
  return error instanceof Error && error.name === 'HTTPParserError' && error.message.endsWith('(Invalid EOF state)');
}

function codeFor(error: unknown): ErrorCode | undefined {
  if (isCutAtClose(error)) return 'reset';
  // Walk the cause chain: undici wraps socket and TLS errors.
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as {cause?: unknown}).cause, depth++) {
    const code = codeOf(e);
    if (code === undefined) continue;
    // Any failure of the resolver is the name's (EINVAL: a name over 255 characters, which never resolves).
    if ((e as {syscall?: unknown}).syscall === 'getaddrinfo') return 'dns';
    const mapped = BY_CODE[code];
    if (mapped !== undefined) return mapped;
    if (code.startsWith('HPE_')) return 'protocol';
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || VERIFY_CODES.has(code)) return 'tls';
  }
  const message = error instanceof Error ? error.message : '';
  if (/SSL|TLS|certificate/i.test(message)) return 'tls';
  return undefined;
}

/**
 * Map an error thrown by an attempt to a FetchallError with the contract's code and retry verdict.
 * FetchallErrors pass through unchanged.
 * @example classify(Object.assign(new Error('x'), {code: 'ECONNREFUSED'})).code === 'connect'
 */
export function classify(error: unknown): FetchallError {
  if (error instanceof FetchallError) return error;
  const code = codeFor(error) ?? 'protocol';
  let detail = isCutAtClose(error) ? 'the server closed the connection before the response ended'
    // undici asserts what its parser let through (a status below 100): its assertion text means nothing to a user.
    : codeOf(error) === 'ERR_ASSERTION' ? 'the response does not parse as HTTP/1.1' : describe(error);
  // Node's own advice names a Node flag nobody passes to fetchall: point at fetchall's ways instead.
  if (code === 'tls') detail = tlsAdvice(error, detail.replace(/[;,]?[^;,()]*--use-(?:system|openssl)-ca[^;,()]*/i, '').replace(/;[^;()]*locally,?\s*(?=\(|$)/i, '').replace(/(\S)\(/, '$1 (').trim());
  return new FetchallError(code, detail === '' ? HUMAN[code] : `${HUMAN[code]}: ${detail}`, {
    retryable: RETRYABLE_CODES.has(code),
    cause: error,
  });
}

/**
 * A proxy's 407 to an http:// URL (sent to the proxy, not tunnelled), which undici reports as an
 * invalid argument rather than as the response it is.
 */
export function proxyAuthRefusal(error: unknown): boolean {
  return error instanceof Error && codeOf(error) === 'UND_ERR_INVALID_ARG' && error.message === 'Proxy Authentication Required (407)';
}

/**
 * The status a proxy refused an https URL's tunnel with (its answer to CONNECT was no 200), if that is
 * what `error` is: undici says so only in words, in an error coded as an aborted request.
 */
export function tunnelRefusal(error: unknown): number | undefined {
  const match = error instanceof Error ? /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/.exec(error.message) : null;
  return match === null ? undefined : Number(match[1]);
}

// Certificates nobody trusted yet: a private CA is the usual cause.
const UNTRUSTED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED']);

/** A TLS failure's message, with the way out that fits it: trusting a CA only helps an untrusted one. */
function tlsAdvice(error: unknown, detail: string): string {
  const code = codeOf(error) ?? codeOf((error as {cause?: unknown}).cause);
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') return `${detail} — the server may leave out an intermediate certificate (add it to NODE_EXTRA_CA_CERTS), or skip verification with -k`;
  if (code !== undefined && UNTRUSTED.has(code)) return `${detail} — trust a private CA with NODE_EXTRA_CA_CERTS=ca.pem, or skip verification with -k`;
  // Node's text ends in the list of names the certificate holds of that kind, which may be empty.
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${detail.replace(/is not in the cert's list:\s*(?=\(|$)/, "is not among the certificate's names ")} — the certificate is for another host name; -k skips verification`;
  return detail;
}

/**
 * An error's message, or for an AggregateError that has none (Node's, when every address of a host
 * refused the connection: `localhost` as ::1 and 127.0.0.1) those of the errors in it.
 */
function ownMessage(error: Error): string {
  const inner = (error as {errors?: unknown}).errors;
  if (error.message !== '' || !Array.isArray(inner)) return error.message;
  const messages = inner.map((e) => (e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e))).filter((m) => m !== '');
  return [...new Set(messages)].join('; ');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = codeOf(error);
  const causeCode = codeOf((error as {cause?: unknown}).cause);
  // Node's `connect EMFILE 127.0.0.1:80 - Local (undefined:undefined)`: the local address it never had.
  const first = (ownMessage(error).split('\n')[0] ?? '').replace(/ - Local \(undefined:undefined\)$/, '');
  // OpenSSL's "40ED…:error:0A00010B:SSL routines:fn:wrong version number:file.c:77:" → the reason alone.
  const message = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/i.exec(first)?.[1] ?? first;
  // A code after the message, in brackets; alone when there is no message.
  const withCode = (text: string, extra: string): string => (text === '' ? extra : `${text} (${extra})`);
  const shown = code !== undefined && !code.startsWith('UND_ERR') && !message.includes(code) ? withCode(message, code) : message;
  return causeCode !== undefined && !shown.includes(causeCode) ? withCode(shown, causeCode) : shown;
}
