// The proxy variables as curl reads them (the lowercase form wins when set and not empty), and the
// credentials a proxy URL with an empty user name carries.
import {describe, expect, test} from 'vitest';
import {emptyUserToken} from '../../src/http/dispatcher.js';
import {proxyVariable, variableValue} from '../../src/http/proxy-env.js';

describe('proxy variables', () => {
  test('the lowercase form wins when set; an empty lowercase form falls back to the uppercase one', () => {
    expect(variableValue({no_proxy: 'a.test', NO_PROXY: 'b.test'}, 'no_proxy')).toBe('a.test');
    expect(variableValue({no_proxy: '', NO_PROXY: 'b.test'}, 'no_proxy')).toBe('b.test');
    expect(proxyVariable({http_proxy: '', HTTP_PROXY: 'proxy.test:3128'}, 'http_proxy')).toEqual({name: 'HTTP_PROXY', url: 'http://proxy.test:3128'});
  });

  test('set to the empty string in both forms, a variable is unset', () => {
    expect(variableValue({no_proxy: '', NO_PROXY: ''}, 'no_proxy')).toBeUndefined();
    expect(proxyVariable({https_proxy: '', HTTPS_PROXY: ''}, 'https_proxy')).toBeUndefined();
  });
});

describe('emptyUserToken', () => {
  test('only a password with an empty user name makes a token; no credentials at all make none', () => {
    expect(emptyUserToken('http://:s%20cret@proxy.test:3128')).toBe(`Basic ${Buffer.from(':s cret').toString('base64')}`);
    expect(emptyUserToken('http://proxy.test:3128')).toBeUndefined();
    expect(emptyUserToken('http://user:pw@proxy.test:3128')).toBeUndefined();
    expect(emptyUserToken('http://user@proxy.test:3128')).toBeUndefined();
  });
});
