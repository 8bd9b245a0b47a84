// One entry from first attempt to final verdict: gates, shared permit, p-retry policy, timeouts.
import pRetry, {AbortError, type Options as PRetryOptions} from 'p-retry';
import {classify} from '../classify.js';
import {FetchallError, OutputError} from '../errors.js';
import type {Release, Semaphore} from '../semaphore.js';
import {sleep} from '../sleep.js';
import {attempt, AttemptClock, hostKey, type AttemptEnvironment, type EntryState, type HeldPermits} from './attempt.js';
import type {HostGate} from './host-gate.js';
import {retryWait} from './retry-policy.js';

/** Everything shared by the run that one entry needs. */
export interface EntryEnvironment extends AttemptEnvironment {
  /** The run's one semaphore: every attempt holds one of its permits, and only while it runs. */
  readonly global: Semaphore;
  readonly hosts: HostGate;
  readonly signal: AbortSignal;
  /**
   * Told of an entry's final failure (no retry left) while its attempt still holds its permits,
   * so `--fail-fast` can stop the run before the freed slot starts another entry.
   */
  readonly onFinalFailure?: ((error: FetchallError) => void) | undefined;
}

/** How many attempts started, and the final error if the entry failed. */
export interface EntryOutcome {
  attempts: number;
  error: FetchallError | undefined;
  /**
   * The global permit of the attempt that decided the entry, still held: the caller gives it back once
   * the entry's verdict (checksum and commit included) is counted, so a stop that this verdict causes
   * (--fail-fast, --max-failures) lands before the freed slot can start another entry.
   */
  release: Release | undefined;
}

/**
 * Fetch one entry with retries. `prepaid` is a global permit the caller already holds for the first
 * attempt; it is used only when the host is free right now, else given back before waiting.
 * Fatal output errors are rethrown; every other failure ends in the outcome's `error`.
 */
export async function fetchEntry(env: EntryEnvironment, state: EntryState, prepaid: Release | undefined): Promise<EntryOutcome> {
  const {options, signal} = env;
  const host = hostKey(state.entry.target!);
  const outcome: EntryOutcome = {attempts: 0, error: undefined, release: undefined};
  let permit = prepaid;
  // Set once an attempt failed for good: a stop that this failure itself causes must not relabel it.
  let finalFailure: FetchallError | undefined;
  const once = async (): Promise<void> => {
    // The attempt's permits live here, where a redirect to another host can swap them (enterHost).
    const held: HeldPermits = {hostKey: host, host: undefined, global: undefined};
    state.permits = held;
    // Whether this attempt decides the entry (success or failure for good): it then keeps its slot.
    let decisive = false;
    try {
      // Order matters: host pause, then the host's permit, then the global permit. Waiting for a
      // busy or paused host must never hold a global slot.
      const ready = permit === undefined ? undefined : env.hosts.tryAcquire(host);
      if (ready !== undefined) {
        held.global = permit;
        permit = undefined;
        held.host = ready;
      } else if (permit !== undefined && env.hosts.isOpen(host)) {
        held.global = permit;
        permit = undefined;
        held.host = await env.hosts.acquire(host, signal);
      } else {
        permit?.();
        permit = undefined;
        await waitForHost(env, held, host, signal);
      }
      outcome.attempts++;
      state.attempts = outcome.attempts;
      await attemptWithTimeout(env, state);
      decisive = true;
    } catch (error) {
      decisive = true;
      if (signal.aborted) throw new AbortError(abortedError(signal));
      if (error instanceof OutputError) throw new AbortError(error);
      const failure = classify(error);
      if (!failure.retryable || outcome.attempts > options.retries) {
        finalFailure = failure;
        env.onFinalFailure?.(failure);
      } else {
        // A retry follows: its wait must not hold a slot.
        decisive = false;
      }
      throw failure;
    } finally {
      state.permits = undefined;
      if (decisive && held.global !== undefined) outcome.release = held.global;
      else held.global?.();
      held.host?.();
    }
  };
  try {
    // The first attempt runs here, p-retry only takes over after a retryable failure: nearly every
    // entry needs one attempt, and a p-retry call (its options copied and validated, its own async
    // frame) was a measurable part of a small request's cost. The steps mirror p-retry's own.
    signal.throwIfAborted();
    let done = true;
    try {
      await once();
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof AbortError) throw error.originalError;
      if (options.retries <= 0) throw error;
      const first = retryPolicy(env, 0);
      if (!(await first.shouldRetry!({error: error as Error, attemptNumber: 1, retriesLeft: options.retries, retriesConsumed: 0, retryDelay: 0}))) throw error;
      signal.throwIfAborted();
      done = false;
    }
    if (done) signal.throwIfAborted();
    else await pRetry(once, retryPolicy(env, 1));
  } catch (error) {
    if (error instanceof OutputError) {
      outcome.release?.();
      outcome.release = undefined;
      throw error;
    }
    outcome.error = finalFailure ?? (signal.aborted ? abortedError(signal) : classify(error));
  } finally {
    permit?.();
  }
  return outcome;
}

/** The gates an entry passes: per host, then the run's one semaphore. */
interface Gates {
  readonly hosts: HostGate;
  readonly global: Semaphore;
}

/**
 * Take `host`'s permit (after its pause), then a global one, into `held` (which holds neither): a
 * Retry-After that paused the host while this waited for a slot holds this request too.
 */
async function waitForHost(gates: Gates, held: HeldPermits, host: string, signal: AbortSignal): Promise<void> {
  held.hostKey = host;
  held.host = await gates.hosts.acquire(host, signal);
  held.global = await gates.global.acquire(signal);
  while (gates.hosts.pausedFor(host) > 0) {
    held.global();
    held.host();
    held.global = held.host = undefined;
    held.host = await gates.hosts.acquire(host, signal);
    held.global = await gates.global.acquire(signal);
  }
}

/**
 * A redirect hop to another host: give back the current host's permit first (holding it while waiting
 * for the next could deadlock two entries redirected at each other's hosts), then take the new one's,
 * at once when it is free and not paused, else waiting without the global slot.
 * @example await enterHost(env, state, 'cdn.test:443', signal);
 */
export async function enterHost(gates: Gates, state: EntryState, host: string, signal: AbortSignal): Promise<void> {
  const held = state.permits;
  if (held === undefined || held.hostKey === host) return;
  held.host?.();
  held.host = undefined;
  const ready = gates.hosts.tryAcquire(host);
  if (ready !== undefined) {
    held.hostKey = host;
    held.host = ready;
    return;
  }
  held.global?.();
  held.global = undefined;
  await waitForHost(gates, held, host, signal);
}

/**
 * The request about to go is for a paused host: give back the attempt's permits, wait out the pause
 * (and the host's permit, then a global slot, as any entry waits), and resolve true. Resolves false
 * when the attempt holds no permits to trade (the pause is then the caller's to honour).
 * @example if (gates.hosts.pausedFor(host) > 0) await waitOutPause(gates, state, host, signal);
 */
export async function waitOutPause(gates: Gates, state: EntryState, host: string, signal: AbortSignal): Promise<boolean> {
  const held = state.permits;
  if (held === undefined) return false;
  held.global?.();
  held.host?.();
  held.global = held.host = undefined;
  await waitForHost(gates, held, host, signal);
  return true;
}

// The policy depends only on the run: built once per run, not once per URL (one for the first
// attempt's failure, one for p-retry's attempts after it).
const policies = new WeakMap<EntryEnvironment, [PRetryOptions, PRetryOptions]>();

/**
 * Every p-retry option, explicitly (its defaults are not ours). `done` attempts already ran outside
 * p-retry: its attempt numbers and retry budget start after them.
 */
function retryPolicy(env: EntryEnvironment, done: 0 | 1): PRetryOptions {
  let pair = policies.get(env);
  if (pair === undefined) {
    pair = [buildPolicy(env, 0), buildPolicy(env, 1)];
    policies.set(env, pair);
  }
  return pair[done];
}

function buildPolicy(env: EntryEnvironment, done: number): PRetryOptions {
  const {options, signal} = env;
  return {
    retries: Math.max(0, options.retries - done),
    factor: 1,
    // p-retry waits nothing itself: the wait happens in shouldRetry, after the permits are released.
    minTimeout: 0,
    maxTimeout: 0,
    randomize: false,
    maxRetryTime: Infinity,
    unref: false,
    signal,
    shouldConsumeRetry: () => true,
    onFailedAttempt: () => {},
    shouldRetry: async ({error, attemptNumber}) => {
      if (!(error instanceof FetchallError) || !error.retryable) return false;
      await sleep(retryWait(attemptNumber + done, error.retryAfterMs, options.retryDelay, options.retryMaxDelay), signal);
      return true;
    },
  };
}

function abortedError(signal: AbortSignal): FetchallError {
  const reason: unknown = signal.reason;
  // The code already says "aborted": the message says why, without repeating it.
  const why = reason instanceof Error && reason.message !== '' && reason.name !== 'AbortError' ? reason.message : 'the run was stopped';
  return new FetchallError('aborted', why);
}

function attemptWithTimeout(env: EntryEnvironment, state: EntryState): Promise<void> {
  // Without --timeout (the default) no frame of its own: one async frame less per attempt.
  return env.options.timeout <= 0 ? attempt(env, state, env.signal) : attemptWithinTimeout(env, state, env.options.timeout);
}

async function attemptWithinTimeout(env: EntryEnvironment, state: EntryState, timeout: number): Promise<void> {
  const controller = new AbortController();
  const expired = new FetchallError('timeout', `no complete answer within --timeout ${timeout} ms`, {retryable: true});
  // Started by the attempt at its first request, held while it waits at a gate.
  const clock = new AttemptClock(timeout, () => controller.abort(expired));
  const forward = (): void => controller.abort(env.signal.reason);
  env.signal.addEventListener('abort', forward, {once: true});
  try {
    await attempt(env, state, controller.signal, clock);
  } catch (error) {
    // An error status already in hand stays the verdict when only its page's body was still coming
    // (as with --idle-timeout, which cuts that body quietly): a 503 is a 503, however slow its page.
    const statusKnown = error instanceof FetchallError && error.code === 'http_status';
    if (controller.signal.aborted && !env.signal.aborted && !statusKnown) throw expired;
    throw error;
  } finally {
    clock.hold();
    env.signal.removeEventListener('abort', forward);
  }
}
