// FailureBudget: --fail-fast and --max-failures N / N% decided from finished records alone.
import {describe, expect, test} from 'vitest';
import {FailureBudget} from '../../src/failure-budget.js';
import type {FetchRecord} from '../../src/record.js';

function record(kind: 'ok' | 'fail' | 'skip' | 'abort'): FetchRecord {
  return {
    index: 1, url: 'http://a.test/', ok: kind === 'ok' || kind === 'skip', status: null, final_url: null, bytes: 0,
    duration_ms: 0, attempts: 1, file: null, skipped: kind === 'skip', sha256: null,
    error: kind === 'fail' ? {code: 'http_status', message: 'HTTP 404'} : kind === 'abort' ? {code: 'aborted', message: 'stopped'} : null,
  };
}

/** Feed a sequence; the 1-based position of the first stop and its reason, or undefined. */
function firstStop(budget: FailureBudget, sequence: string): [number, string] | undefined {
  const kinds: Record<string, 'ok' | 'fail' | 'skip' | 'abort'> = {o: 'ok', f: 'fail', s: 'skip', a: 'abort'};
  for (let i = 0; i < sequence.length; i++) {
    const reason = budget.add(record(kinds[sequence[i]!]!));
    if (reason !== undefined) return [i + 1, reason];
  }
  return undefined;
}

describe('FailureBudget: percentages are exact', () => {
  test.each([
    // 69 of 375 is exactly 18.4%: not more than it (in floating point 18.4 × 375 = 6899.999…).
    [18.4, 375, 69, undefined],
    [18.4, 375, 70, 'max-failures'],
    [9.2, 750, 69, undefined],
    [2.3, 3000, 69, undefined],
    [0.0000001, 20, 1, 'max-failures'],
    // 1e-7 is spelled with an exponent by String(): 1 of 200 (0.5%) is far more than it.
    [0.0000001, 200, 1, 'max-failures'],
    [0.5, 200, 1, undefined],
    [0.5, 199, 1, 'max-failures'],
    [100, 20, 20, undefined],
  ])('%s percent: %s finished, %s failed', (value, finished, failed, expected) => {
    const budget = new FailureBudget(false, {kind: 'percent', value});
    let reason: string | undefined;
    for (let i = 0; i < finished; i++) reason = budget.add(record(i < finished - failed ? 'ok' : 'fail')) ?? reason;
    expect(reason).toBe(expected);
  });
});

describe('FailureBudget', () => {
  test.each([
    ['no budget never stops', false, undefined, 'ffffff', undefined],
    ['--fail-fast stops at the first failure', true, undefined, 'oosf', [4, 'fail-fast']],
    ['--fail-fast ignores aborts and skips', true, undefined, 'ssaa', undefined],
    ['--max-failures 3 stops at the 4th failure', false, {kind: 'count', value: 3}, 'fofofof', [7, 'max-failures']],
    ['--max-failures 0 stops at the first failure', false, {kind: 'count', value: 0}, 'oof', [3, 'max-failures']],
    ['--max-failures 5% waits for 20 finished', false, {kind: 'percent', value: 5}, 'ff' + 'o'.repeat(17), undefined],
    ['--max-failures 5% judges at 20 finished', false, {kind: 'percent', value: 5}, 'ff' + 'o'.repeat(18), [20, 'max-failures']],
    ['--max-failures 10% with 2 of 20 is not over', false, {kind: 'percent', value: 10}, 'ff' + 'o'.repeat(18), undefined],
    ['skips and aborts do not count as finished', false, {kind: 'percent', value: 5}, 'ff' + 's'.repeat(18) + 'a'.repeat(5), undefined],
  ] as const)('%s', (_name, failFast, budget, sequence, expected) => {
    expect(firstStop(new FailureBudget(failFast, budget), sequence)).toEqual(expected);
  });
});
