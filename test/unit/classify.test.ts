// Table-driven classification: undici, errno, TLS and zlib codes → the contract's error codes and retry verdict.
import {lookup} from 'node:dns/promises';
import {once} from 'node:events';
import {connect, type LookupFunction} from 'node:net';
import {errors} from 'undici';
import {describe, expect, test} from 'vitest';
import {classify, proxyAuthRefusal, RETRYABLE_CODES, RETRYABLE_STATUSES, tunnelRefusal} from '../../src/classify.js';
import {FetchallError, type ErrorCode} from '../../src/errors.js';
import {untakenTransferCoding} from '../../src/http/attempt.js';

function withCode(code: string, message = `failed with ${code}`): Error {
  return Object.assign(new Error(message), {code});
}

describe('classify', () => {
  test.each<[string, ErrorCode, boolean]>([
    ['ENOTFOUND', 'dns', true],
    ['EAI_AGAIN', 'dns', true],
    ['ECONNREFUSED', 'connect', true],
    ['EHOSTUNREACH', 'connect', true],
    ['ENETUNREACH', 'connect', true],
    ['ECONNRESET', 'reset', true],
    ['EPIPE', 'reset', true],
    ['UND_ERR_SOCKET', 'reset', true],
    ['UND_ERR_CLOSED', 'reset', true],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'reset', true],
    ['ERR_STREAM_PREMATURE_CLOSE', 'reset', true],
    ['ETIMEDOUT', 'timeout', true],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', true],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', true],
    ['UND_ERR_HEADERS_OVERFLOW', 'protocol', false],
    ['HPE_INVALID_CONSTANT', 'protocol', false],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 'protocol', false],
    ['Z_DATA_ERROR', 'protocol', false],
    ['ERR_BROTLI_DECOMPRESSION_FAILED', 'protocol', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls', false],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls', false],
    ['CERT_HAS_EXPIRED', 'tls', false],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', false],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls', false],
    ['UND_ERR_PRX_CONN', 'connect', true],
  ])('%s → %s (retryable: %s)', (code, expected, retryable) => {
    const error = classify(withCode(code));
    expect(error).toBeInstanceOf(FetchallError);
    expect(error.code).toBe(expected);
    expect(error.retryable).toBe(retryable);
  });

  test.each<[string, Error, ErrorCode]>([
    ['undici SocketError', new errors.SocketError('other side closed'), 'reset'],
    ['undici ConnectTimeoutError', new errors.ConnectTimeoutError(), 'timeout'],
    ['undici HeadersTimeoutError', new errors.HeadersTimeoutError(), 'timeout'],
    ['undici BodyTimeoutError', new errors.BodyTimeoutError(), 'timeout'],
    ['undici HeadersOverflowError', new errors.HeadersOverflowError(), 'protocol'],
    ['undici ResponseContentLengthMismatchError', new errors.ResponseContentLengthMismatchError(), 'reset'],
    // As undici makes it for a body cut at the close of a `Connection: close` response: no code.
    ['undici HTTPParserError, Invalid EOF state', new errors.HTTPParserError('Response does not match the HTTP/1.1 protocol (Invalid EOF state)', undefined), 'reset'],
    ['undici HTTPParserError, another reason', new errors.HTTPParserError('Response does not match the HTTP/1.1 protocol (Invalid header value char)', undefined), 'protocol'],
  ])('%s → %s', (_name, error, expected) => {
    expect(classify(error).code).toBe(expected);
  });

  test('an assertion undici trips on a malformed response is `protocol`, in words a user can read', () => {
    const error = classify(withCode('ERR_ASSERTION', 'The expression evaluated to a falsy value:\n\n  assert(statusCode >= 100)\n'));
    expect([error.code, error.message]).toEqual(['protocol', 'protocol error: the response does not parse as HTTP/1.1']);
  });

  test('walks the cause chain (undici wraps socket and TLS errors)', () => {
    const wrapped = new TypeError('fetch failed', {cause: new Error('x', {cause: withCode('ECONNREFUSED')})});
    expect(classify(wrapped).code).toBe('connect');
    expect(classify(new Error('outer', {cause: withCode('CERT_HAS_EXPIRED')})).code).toBe('tls');
  });

  test('an unknown error is a final protocol error, its message kept on one line', () => {
    const error = classify(new Error('something odd\nsecond line'));
    expect(error.code).toBe('protocol');
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain('something odd');
    expect(classify('a string').code).toBe('protocol');
  });

  test('keeps the cause and names the errno code in the message', () => {
    const cause = withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1');
    const error = classify(cause);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('ECONNREFUSED 127.0.0.1:1');
  });

  test('shortens an OpenSSL message to its reason', () => {
    const raw = '40ED4137E77F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/ssl/record.c:77:';
    const error = classify(withCode('ERR_SSL_WRONG_VERSION_NUMBER', raw));
    expect(error.code).toBe('tls');
    expect(error.message).toContain('wrong version number');
    expect(error.message).not.toContain('deps/openssl');
  });

  test('a FetchallError passes through unchanged', () => {
    const original = new FetchallError('too_large', 'too big');
    expect(classify(original)).toBe(original);
  });

  test('retryable codes and statuses are exactly the contract lists', () => {
    expect([...RETRYABLE_CODES].sort()).toEqual(['connect', 'dns', 'reset', 'timeout']);
    expect([...RETRYABLE_STATUSES].sort()).toEqual([408, 425, 429, 500, 502, 503, 504]);
  });
});

describe('classify: messages', () => {
  test('an error without a code that speaks of TLS or a certificate is tls, not protocol', () => {
    for (const message of ['unable to verify the first certificate', 'Client network socket disconnected before secure TLS connection was established', 'SSL alert']) {
      const failure = classify(new Error(message));
      expect(failure.code).toBe('tls');
      expect(failure.retryable).toBe(false);
    }
  });

  test('an error with an empty message is named by its code alone, with no dangling colon', () => {
    expect(classify(new Error('')).message).toBe('protocol error');
    // An errno code with no message: the code alone after the colon, no empty text before it.
    expect(classify(withCode('ECONNRESET', '')).message).toBe('connection broken: ECONNRESET');
    expect(classify(new Error('', {cause: withCode('ECONNRESET')})).message).toBe('connection broken: ECONNRESET');
  });

  test('the code of the cause is named once, not again when the message already says it', () => {
    const once = classify(new Error('read ECONNRESET', {cause: withCode('ECONNRESET')}));
    expect(once.message).toBe('connection broken: read ECONNRESET');
    const added = classify(new Error('fetch failed', {cause: withCode('ECONNRESET')}));
    expect(added.message).toBe('connection broken: fetch failed (ECONNRESET)');
  });

  test('an AggregateError without a message names each distinct inner message once', () => {
    const refused = withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1');
    const aggregate = Object.assign(new AggregateError([refused, refused, withCode('ECONNREFUSED', 'connect ECONNREFUSED ::1:1')], ''), {code: 'ECONNREFUSED'});
    expect(classify(aggregate).message).toBe('could not connect: connect ECONNREFUSED 127.0.0.1:1; connect ECONNREFUSED ::1:1');
  });

  test('TLS advice follows the code of the cause when the error itself has none', () => {
    const wrapped = new Error('self-signed certificate', {cause: withCode('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')});
    const failure = classify(wrapped);
    expect(failure.code).toBe('tls');
    expect(failure.message).toMatch(/trust a private CA with NODE_EXTRA_CA_CERTS=ca\.pem, or skip verification with -k$/);
  });
});

describe('classify: proxies', () => {
  test('a TLS failure with an https proxy is tls, whatever its message says', () => {
    const failure = classify(withCode('UND_ERR_PRX_TLS', 'Secure Proxy Connection failed'));
    expect(failure.code).toBe('tls');
    expect(failure.retryable).toBe(false);
  });
});

describe('proxyAuthRefusal', () => {
  test('is undici\'s invalid-argument error for a proxy\'s 407, and nothing else', () => {
    expect(proxyAuthRefusal(withCode('UND_ERR_INVALID_ARG', 'Proxy Authentication Required (407)'))).toBe(true);
    expect(proxyAuthRefusal(withCode('UND_ERR_INVALID_ARG', 'Proxy Authentication Required (407) or not'))).toBe(false);
    expect(proxyAuthRefusal(withCode('UND_ERR_INVALID_ARG', 'invalid header'))).toBe(false);
    expect(proxyAuthRefusal(withCode('ECONNRESET', 'Proxy Authentication Required (407)'))).toBe(false);
  });
});

describe('classify: the way out of a TLS failure', () => {
  test('an untrusted certificate points to NODE_EXTRA_CA_CERTS and -k; a wrong host name only to -k', () => {
    const untrusted = classify(Object.assign(new Error('self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca'), {code: 'SELF_SIGNED_CERT_IN_CHAIN'}));
    expect(untrusted.code).toBe('tls');
    expect(untrusted.message).toBe('TLS failure: self-signed certificate (SELF_SIGNED_CERT_IN_CHAIN) — trust a private CA with NODE_EXTRA_CA_CERTS=ca.pem, or skip verification with -k');
    const altname = classify(Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {code: 'ERR_TLS_CERT_ALTNAME_INVALID'}));
    expect(altname.message).toMatch(/another host name; -k skips verification$/);
    expect(altname.message).not.toMatch(/NODE_EXTRA_CA_CERTS/);
  });
});

describe('classify: every certificate verification failure is tls', () => {
  // Node names OpenSSL's verification results by code, and calls those it has no name for UNSPECIFIED:
  // none of them says TLS or certificate in its message, so only the code can tell.
  test.each([
    ['PATH_LENGTH_EXCEEDED', 'path length constraint exceeded'],
    ['UNSPECIFIED', 'CA signature digest algorithm too weak'],
    ['INVALID_PURPOSE', 'unsuitable certificate purpose'],
    ['UNABLE_TO_GET_CRL', 'unable to get CRL'],
    ['HOSTNAME_MISMATCH', 'Hostname mismatch'],
    ['OUT_OF_MEM', 'out of memory'],
  ])('%s', (code, message) => {
    const failure = classify(withCode(code, message));
    expect(failure.code).toBe('tls');
    expect(failure.retryable).toBe(false);
  });
});

describe('tunnelRefusal', () => {
  test('reads the status of a proxy that refused CONNECT from undici\'s words, and nothing else', () => {
    expect(tunnelRefusal(new errors.RequestAbortedError('Proxy response (502) !== 200 when HTTP Tunneling'))).toBe(502);
    expect(tunnelRefusal(new errors.RequestAbortedError('Request aborted'))).toBeUndefined();
    expect(tunnelRefusal('Proxy response (502) !== 200 when HTTP Tunneling')).toBeUndefined();
  });
});

describe('classify: TLS advice that fits the failure', () => {
  test('a leaf that does not verify may lack its intermediate; an empty list of names is not shown as one', () => {
    const leaf = classify(withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'));
    expect(leaf.message).toMatch(/may leave out an intermediate certificate/);
    const altname = classify(withCode('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: "));
    expect(altname.message).toBe("TLS failure: Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not among the certificate's names (ERR_TLS_CERT_ALTNAME_INVALID) — the certificate is for another host name; -k skips verification");
  });
});

describe('classify: out of file descriptors', () => {
  test('EMFILE and ENFILE on connecting are connect failures, retried', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const failure = classify(withCode(code, `connect ${code} 127.0.0.1:8080 - Local (undefined:undefined)`));
      expect(failure.code).toBe('connect');
      expect(failure.retryable).toBe(true);
      // Node's tail about a local address the socket never had is left out.
      expect(failure.message).toBe(`could not connect: connect ${code} 127.0.0.1:8080`);
    }
  });
});

describe('classify: errors as Node really makes them', () => {
  test('every address of a host refused (Happy Eyeballs\' AggregateError, no message of its own): both are named', async () => {
    // A name with two addresses, as `localhost` has on most systems (::1 and 127.0.0.1); port 1 is closed.
    const twoAddresses = ((_host: string, _options: unknown, callback: (e: null, a: {address: string; family: number}[]) => void) =>
      callback(null, [{address: '::1', family: 6}, {address: '127.0.0.1', family: 4}])) as unknown as LookupFunction;
    const socket = connect({host: 'dual.test', port: 1, lookup: twoAddresses, autoSelectFamily: true});
    const [error] = (await once(socket, 'error').catch((e: unknown) => [e])) as [Error];
    expect(error.message).toBe('');
    const classified = classify(error);
    expect(classified.code).toBe('connect');
    expect(classified.message).toMatch(/^could not connect: connect E\w+ ::1:1; connect ECONNREFUSED 127\.0\.0\.1:1$/);
  });

  test('a host name too long to resolve (getaddrinfo EINVAL) is `dns`, not `protocol`', async () => {
    const host = `${'a'.repeat(50)}.`.repeat(5) + 'test';
    const error = await lookup(host).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({code: 'EINVAL', syscall: 'getaddrinfo'});
    expect(classify(error)).toMatchObject({code: 'dns', retryable: true});
  });
});

describe('untakenTransferCoding', () => {
  test('takes chunked (its last element), identity, and none; refuses the rest of a body that is kept', () => {
    for (const value of ['chunked', 'Chunked', ', chunked', 'identity', 'identity, chunked', '', undefined]) {
      expect(untakenTransferCoding('GET', 200, value), String(value)).toBeUndefined();
    }
    for (const value of ['chunked,', 'gzip, chunked', 'gzip', 'chunked, identity', 'chunked, chunked', 'xchunked']) {
      expect(untakenTransferCoding('GET', 200, value), value).toBe(value);
    }
    expect(untakenTransferCoding('GET', 200, ['gzip', 'chunked'])).toBe('gzip, chunked');
    expect(untakenTransferCoding('HEAD', 200, 'gzip')).toBeUndefined();
    expect(untakenTransferCoding('GET', 304, 'gzip')).toBeUndefined();
  });
});
