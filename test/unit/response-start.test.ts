// The look at a response's first bytes before undici's parser: drop interim heads, hold a status line
// until it is whole, hand over at once whatever cannot become a valid one.
import {describe, expect, test} from 'vitest';
import {responseStart} from '../../src/http/response-start.js';

const at = (text: string): number => responseStart(Buffer.from(text, 'latin1'));

describe('responseStart', () => {
  test('drops a whole interim head, any 1xx but 101, with or without headers', () => {
    expect(at('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(25);
    expect(at('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nrest')).toBe(40);
    expect(at('HTTP/1.0 102\r\n\r\n')).toBe(16);
    expect(at('HTTP/1.1 199 \r\nX: y\r\nZ: w\r\n\r\n')).toBe(29);
  });

  test('drops empty lines before a status line', () => {
    expect(at('\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(4);
    expect(at('\nHTTP/1.1 200 OK\r\n')).toBe(1);
  });

  test('hands over a whole final status line, and a 101', () => {
    expect(at('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')).toBe(0);
    expect(at('HTTP/1.1 404\r\n')).toBe(0);
    expect(at('HTTP/1.1 404 N\u00e4 gefunden\r\n')).toBe(0);
    expect(at('HTTP/1.1 101 Switching Protocols\r\n\r\n')).toBe(0);
  });

  test('waits while the bytes can still become a status line or an interim head', () => {
    for (const prefix of ['', 'H', 'HTTP/1.', 'HTTP/1.1 ', 'HTTP/1.1 40', 'HTTP/1.1 404', 'HTTP/1.1 404 Not F', 'HTTP/1.1 404 Not Found\r']) {
      expect(at(prefix), JSON.stringify(prefix)).toBe(-1);
    }
    for (const prefix of ['HTTP/1.1 100 Continue\r\n', 'HTTP/1.1 103 Early\r\nLink: </a>', 'HTTP/1.1 103 Early\r\nLink: </a>\r\n', 'HTTP/1.1 103 Early\r\nLink: </a>\r\n\r']) {
      expect(at(prefix), JSON.stringify(prefix)).toBe(-1);
    }
  });

  test('hands over at once what cannot become a valid status line or head, for undici to refuse', () => {
    for (const bytes of [
      'HTTP/2 200 OK\r\n',
      'HTTP/1.2 200 OK\r\n',
      'HTTP/1.1 2x0 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1 200 OK\rContent-Length: 5\r\r',
      'HTTP/1.1 200 OK\n',
      'HTTP/1.1 200 O\x01K',
      'HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\n',
      'HTTP/1.1 100 Continue\r\nX: y\nZ',
      'HTTP/1.1 100 Continue\r\nX: y\rZ',
      'HTTP/1.1 103 Early\r\nfoo\r\n\r\n',
      'HTTP/1.1 103 Early\r\nX Y: z\r\n\r\n',
      'HTTP/1.1 103 Early\r\nLink: </a>\r\n  folded\r\n\r\n',
      'HTTP/1.1 103 Early\r\n: empty name\r\n\r\n',
      '<html>',
    ]) {
      expect(at(bytes), JSON.stringify(bytes)).toBe(0);
    }
  });

  test('a status line or an interim head past its bound is handed over as it is', () => {
    expect(at(`HTTP/1.1 200 ${'x'.repeat(9000)}`)).toBe(0);
    expect(at(`HTTP/1.1 100 Continue\r\nX: ${'y'.repeat(70_000)}`)).toBe(0);
  });
});
