// InputTail: the last bytes given to a gunzip, to tell what it left unread NUL padding or not.
import {describe, expect, test} from 'vitest';
import {InputTail} from '../../src/http/decode-body.js';

describe('InputTail', () => {
  test('looks at the last bytes across chunk boundaries', () => {
    const tail = new InputTail();
    tail.add(Buffer.from('abc'));
    tail.add(Buffer.alloc(2));
    tail.add(Buffer.concat([Buffer.alloc(1), Buffer.from('x'), Buffer.alloc(3)]));
    expect(tail.allNul(3)).toBe(true);
    expect(tail.allNul(4)).toBe(false);
    expect(tail.allNul(0)).toBe(true);
    // More than it was given: not known to be padding.
    expect(tail.allNul(11)).toBe(false);
  });

  test('keeps at least 64 KiB however small the chunks (a body in 1-byte chunks), and lets older bytes go', () => {
    const tail = new InputTail();
    tail.add(Buffer.from('junk'));
    for (let i = 0; i < 200_000; i++) tail.add(Buffer.alloc(1));
    expect(tail.allNul(64 * 1024)).toBe(true);
    // The junk is 200,000 bytes back: no longer held, so a count reaching it is not judged padding.
    expect(tail.allNul(200_004)).toBe(false);
    tail.add(Buffer.from('J'));
    for (let i = 0; i < 65_535; i++) tail.add(Buffer.alloc(1));
    expect(tail.allNul(65_535)).toBe(true);
    expect(tail.allNul(65_536)).toBe(false);
  });
});
