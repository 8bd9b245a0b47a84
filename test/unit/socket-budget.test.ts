// The run's connection bound: idle connections closed at random, a busy one never.
import {once} from 'node:events';
import {Socket} from 'node:net';
import {describe, expect, test} from 'vitest';
import {wrapConnector} from '../../src/http/connector.js';
import {connectionBudget} from '../../src/http/dispatcher.js';
import {markBusy, markIdle, SocketBudget} from '../../src/http/socket-budget.js';

describe('SocketBudget', () => {
  test('past its bound, closes idle connections down to seven eighths of it, and never a busy one', () => {
    for (let round = 0; round < 20; round++) {
      const budget = new SocketBudget(8);
      const sockets = Array.from({length: 8}, () => new Socket());
      for (const socket of sockets) budget.add(socket);
      // Five idle, one idle then reused (busy again), two never idle yet.
      for (const socket of sockets.slice(0, 6)) markIdle(socket);
      markBusy(sockets[5]!);
      const fresh = new Socket();
      budget.add(fresh);
      // Nine past a bound of eight: down to 7, so two go, both among the five idle ones.
      expect(sockets.slice(0, 5).filter((s) => s.destroyed)).toHaveLength(2);
      expect([...sockets.slice(5), fresh].some((s) => s.destroyed)).toBe(false);
      expect(budget.size).toBe(7);
    }
  });

  test('at its bound exactly, closes nothing: only a connection past it does', () => {
    const budget = new SocketBudget(4);
    const sockets = Array.from({length: 4}, () => new Socket());
    for (const socket of sockets) {
      budget.add(socket);
      markIdle(socket);
    }
    expect(sockets.some((s) => s.destroyed)).toBe(false);
    expect(budget.size).toBe(4);
    const fifth = new Socket();
    budget.add(fifth);
    expect(sockets.filter((s) => s.destroyed)).toHaveLength(2);
    expect(budget.size).toBe(3);
  });

  test('a connection that closes stops counting, so it closes no idle one later', async () => {
    const budget = new SocketBudget(2);
    const [a, b, c] = [new Socket(), new Socket(), new Socket()];
    budget.add(a);
    budget.add(b);
    markIdle(b);
    const closed = once(a, 'close');
    a.destroy();
    await closed;
    expect(budget.size).toBe(1);
    // Two live again (b idle, c new): within the bound, b stays open.
    budget.add(c);
    expect(budget.size).toBe(2);
    expect(b.destroyed).toBe(false);
    b.destroy();
    c.destroy();
  });

  test('with nothing idle, closes nothing', () => {
    const budget = new SocketBudget(1);
    const sockets = [new Socket(), new Socket(), new Socket()];
    for (const socket of sockets) budget.add(socket);
    expect(sockets.every((s) => !s.destroyed)).toBe(true);
    expect(budget.size).toBe(3);
  });
});

describe('connectionBudget', () => {
  test('-c in use plus max(2 × -c, 4,096) idle, within half the descriptor limit, never below -c + 32', () => {
    expect(connectionBudget(8, 1_048_576)).toBe(4104);
    expect(connectionBudget(8, undefined)).toBe(4104);
    expect(connectionBudget(3000, 1_000_000)).toBe(9000);
    expect(connectionBudget(8, 1024)).toBe(512);
    expect(connectionBudget(8, 40)).toBe(40);
  });
});

describe('the connector and the budget', () => {
  test('a connection counts from the start of its connect, once', () => {
    const budget = new SocketBudget(100);
    const connecting = new Socket();
    let connected: (() => void) | undefined;
    const fake = ((_options: unknown, callback: (error: null, socket: Socket) => void) => {
      connected = () => callback(null, connecting);
      return connecting;
    }) as unknown as Parameters<typeof wrapConnector>[0];
    const connect = wrapConnector(fake, 0, budget);
    connect({hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'http:', port: '80'} as Parameters<typeof connect>[0], () => {});
    // Still connecting: many at once must not pass the bound unseen.
    expect(budget.size).toBe(1);
    connected!();
    expect(budget.size).toBe(1);
    connecting.destroy();
  });
});
