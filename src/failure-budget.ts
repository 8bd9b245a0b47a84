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
  // A percentage as an exact fraction: in floating point 18.4 × 375 is 6899.999…, so 69 failures of
  // 375 (exactly 18.4%) were taken for more than 18.4%.
  readonly #percent: {numerator: bigint; denominator: bigint} | undefined;
  #finished = 0;
  #failed = 0;

  constructor(failFast: boolean, budget: Budget | undefined) {
    this.#failFast = failFast;
    this.#budget = budget;
    this.#percent = budget?.kind === 'percent' ? exactDecimal(budget.value) : undefined;
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
    const percent = this.#percent;
    const over = percent === undefined
      ? this.#failed > budget.value
      : this.#finished >= 20 && BigInt(this.#failed) * 100n * percent.denominator > percent.numerator * BigInt(this.#finished);
    return over ? 'max-failures' : undefined;
  }
}

/**
 * A number as the decimal fraction its shortest spelling says (what the user wrote, `18.4%`).
 * @example exactDecimal(18.4) // {numerator: 184n, denominator: 10n}
 */
function exactDecimal(value: number): {numerator: bigint; denominator: bigint} {
  const [mantissa = '0', exponent = '0'] = String(value).split('e');
  const [whole = '0', fraction = ''] = mantissa.split('.');
  const shift = Number(exponent) - fraction.length;
  const digits = BigInt(whole + fraction);
  return shift >= 0 ? {numerator: digits * 10n ** BigInt(shift), denominator: 1n} : {numerator: digits, denominator: 10n ** BigInt(-shift)};
}
