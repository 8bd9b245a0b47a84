// Slots: O(1) add and remove by slot number; values() holds exactly what was added and not removed.
import {describe, expect, test} from 'vitest';
import {Slots} from '../../src/slots.js';

describe('Slots', () => {
  test('values() lists what was added and not removed, in slot order; a freed slot is reused', () => {
    const slots = new Slots<string>();
    const a = slots.add('a');
    const b = slots.add('b');
    const c = slots.add('c');
    expect([...slots.values()]).toEqual(['a', 'b', 'c']);
    slots.remove(b);
    expect([...slots.values()]).toEqual(['a', 'c']);
    expect(slots.add('d')).toBe(b);
    expect([...slots.values()]).toEqual(['a', 'd', 'c']);
    slots.remove(a);
    slots.remove(c);
    expect([...slots.values()]).toEqual(['d']);
  });

  test('clear() empties it, and later adds start afresh', () => {
    const slots = new Slots<number>();
    for (let i = 0; i < 5; i++) slots.add(i);
    slots.clear();
    expect([...slots.values()]).toEqual([]);
    expect(slots.add(7)).toBe(0);
    expect([...slots.values()]).toEqual([7]);
  });
});
