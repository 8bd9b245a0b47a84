// --fail-fast and --max-failures as one pure rule: given each finished record, say when to stop.
import type {FailureBudget as Budget} from './options.js';
import type {FetchRecord} from './record.js';

/**
 * Counts finished URLs and failures (skips and aborts count for neither) and names the stop
 * reason once the run has failed too much.
 * @example const budget = new FailureBudget(false, {kind: 'count', value: 3}); budget.add(record);
 */
export class FailureBudget {
  readonly #failFast: boolean;
  readonly #budget: Budget | undefined;
  #finished = 0;
  #failed = 0;

  constructor(failFast: boolean, budget: Budget | undefined) {
    this.#failFast = failFast;
    this.#budget = budget;
  }

  /** Count one record; returns the reason to stop, if the run must stop now. */
  add(record: FetchRecord): 'fail-fast' | 'max-failures' | undefined {
    if (record.skipped || record.error?.code === 'aborted') return undefined;
    this.#finished++;
    if (!record.ok) {
      this.#failed++;
      if (this.#failFast) return 'fail-fast';
    }
    // A percentage is judged after every finished URL, ok ones too: early failures count once 20 have finished.
    const budget = this.#budget;
    if (budget === undefined || this.#failed === 0) return undefined;
    const over = budget.kind === 'count'
      ? this.#failed > budget.value
      : this.#finished >= 20 && this.#failed * 100 > budget.value * this.#finished;
    return over ? 'max-failures' : undefined;
  }
}
