// The run's connection bound: idle connections closed oldest first, a busy one never.
import {Socket} from 'node:net';
import {describe, expect, test} from 'vitest';
import {markBusy, markIdle, SocketBudget} from '../../src/http/socket-budget.js';

describe('SocketBudget', () => {
  test('past its bound, closes idle connections oldest first, and never a busy one', () => {
    const budget = new SocketBudget(4);
    const [older, busy, newer, reused, fresh] = Array.from({length: 5}, () => new Socket());
    for (const socket of [older!, busy!, newer!, reused!]) budget.add(socket);
    markIdle(older!);
    markIdle(reused!);
    markIdle(newer!);
    markBusy(reused!);
    // busy: never idle yet; reused: idle, then a request went out on it.
    budget.add(fresh!);
    // Five past a bound of four: down to seven eighths of it (3), so two go, the oldest idle ones.
    expect([older, busy, newer, reused, fresh].map((s) => s!.destroyed)).toEqual([true, false, true, false, false]);
    expect(budget.size).toBe(3);
  });

  test('with nothing idle, closes nothing', () => {
    const budget = new SocketBudget(1);
    const sockets = [new Socket(), new Socket(), new Socket()];
    for (const socket of sockets) budget.add(socket);
    expect(sockets.every((s) => !s.destroyed)).toBe(true);
    expect(budget.size).toBe(3);
  });
});
