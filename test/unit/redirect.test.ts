// nextHop and locationOf: where a redirect goes, and when it is refused.
import {describe, expect, test} from 'vitest';
import {FetchallError} from '../../src/errors.js';
import {locationOf, nextHop} from '../../src/http/redirect.js';

/** nextHop's failure, as [code, message]. */
function refusal(run: () => unknown): [string, string] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FetchallError);
    return [(error as FetchallError).code, (error as FetchallError).message];
  }
  throw new Error('nextHop did not refuse');
}

describe('nextHop', () => {
  const from = new URL('http://a.test/dir/x?q=1#f');

  test.each([
    ['/y', 'http://a.test/y'],
    ['y', 'http://a.test/dir/y'],
    ['//b.test/z#frag', 'http://b.test/z'],
    ['https://c.test:8443/w?v', 'https://c.test:8443/w?v'],
    [' /padded\t', 'http://a.test/padded'],
    ['/caf\u00c3\u00a9', 'http://a.test/caf%C3%A9'],
  ])('%j from %s goes to %s', (location, expected) => {
    expect(nextHop(from, location, new Set(), 1, 10).href).toBe(expected);
  });

  test.each([
    ['ftp://a.test/f', 'protocol', 'redirect to unsupported scheme "ftp"'],
    ['/a\tb', 'protocol', 'redirect to an invalid Location "/a\tb": it holds a tab'],
    ['http://[bad', 'protocol', 'redirect to an invalid Location "http://[bad"'],
  ])('%j is refused as %s', (location, code, message) => {
    expect(refusal(() => nextHop(from, location, new Set(), 1, 10))).toEqual([code, message]);
  });

  test('a URL already visited (compared without credentials) is a loop; one hop too many says how many were allowed', () => {
    const visited = new Set(['http://a.test/y']);
    expect(refusal(() => nextHop(from, 'http://u:p@a.test/y', visited, 1, 10))).toEqual(['too_many_redirects', 'redirect loop: http://a.test/y was already visited']);
    expect(refusal(() => nextHop(from, '/z', new Set(), 2, 1))).toEqual(['too_many_redirects', 'more than 1 redirect']);
    expect(refusal(() => nextHop(from, '/z', new Set(), 4, 3))).toEqual(['too_many_redirects', 'more than 3 redirects']);
    expect(nextHop(from, '/z', new Set(), 3, 3).href).toBe('http://a.test/z');
  });
});

describe('locationOf', () => {
  test('a Location sent twice counts once: the first that is not empty', () => {
    expect(locationOf(undefined)).toBeUndefined();
    expect(locationOf('/a')).toBe('/a');
    expect(locationOf(['', ' ', '/b', '/c'])).toBe('/b');
    expect(locationOf(['', ''])).toBe('');
  });
});
