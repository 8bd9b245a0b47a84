// fetchAll(): entries → names → shard/resume/skip filters → host gates → shared semaphore → attempt → sink → records.
import {join} from 'node:path';
import type {Dispatcher} from 'undici';
import {FetchallError, OutputError} from './errors.js';
import {createDispatcher} from './http/dispatcher.js';
import {enterHost, waitOutPause, fetchEntry, type EntryEnvironment} from './http/fetch-entry.js';
import {HostGate} from './http/host-gate.js';
import {hostKey, type EntryState} from './http/attempt.js';
import type {RunOptions} from './options.js';
import {RateLimiter} from './rate-limit.js';
import {blockedRecord, invalidRecord, skippedRecord, type Entry, type FetchRecord} from './record.js';
import {Slots} from './slots.js';
import {Semaphore, type Release} from './semaphore.js';
import {blockedMessage, NameAssigner} from './sinks/naming.js';
import {inShard} from './parse/shard.js';
import type {BodySink, BodyTarget} from './sinks/types.js';
import {FileSink} from './sinks/file-sink.js';
import {Completions, WakeUp} from './completions.js';
import {FailureBudget} from './failure-budget.js';
import {existingMatches, savedPathOrNull} from './sinks/existing.js';
import type {ResumeSet} from './report/report-file.js';

/** Why a run stopped before its list ended. */
export type StopReason = 'aborted' | 'fail-fast' | 'max-failures' | 'deadline' | 'output';

/** Hooks and injections the CLI (and tests) use; not part of the documented library surface. */
export interface RunInternals {
  /** Where bodies go when there is no output folder (the CLI's stdout sink); default: discarded. */
  readonly sink?: BodySink | undefined;
  /** URLs whose latest report record is ok (`--resume`): skipped without a request. */
  readonly resumeOk?: Pick<ResumeSet, 'isOk'> | undefined;
  readonly dispatcher?: Dispatcher | undefined;
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Called for every request sent (first attempts, retries, redirect hops). */
  readonly onRequest?: (() => void) | undefined;
  /** Told of body bytes as they arrive, every attempt's (decoded with --compressed): the live byte count. */
  readonly onBodyBytes?: ((bytes: number) => void) | undefined;
  /**
   * Takes each record in place of the iteration (which then yields nothing and ends with the run):
   * no async-generator round trip per record. A returned promise is awaited before the next record.
   */
  readonly onRecord?: ((record: FetchRecord) => Promise<void> | void) | undefined;
  /** Called when an entry is selected (passed shard filter), for progress totals. */
  readonly onSelected?: ((entry: Entry) => void) | undefined;
  /** Files no download may replace (the report): a name that leads to one fails as `write`. */
  readonly protect?: readonly string[] | undefined;
  /**
   * Told of each record as its entry completes, before `ordered` puts records in input order: a
   * report, progress counts and `-v` lines follow completion, only stdout follows the order.
   */
  readonly onComplete?: ((record: FetchRecord) => void) | undefined;
  /**
   * The `performance.now()` time `deadline` counts from; default: when the run starts. The CLI passes 0
   * (its process start), so `--deadline 2s` bounds the whole command, start-up included.
   */
  readonly deadlineFrom?: number | undefined;
}

/** The async iterable fetchAll returns, which also tells why it stopped early, if it did. */
export interface FetchAllRun extends AsyncIterable<FetchRecord> {
  /** Set once the run stopped before the end of its list. */
  readonly stopReason: StopReason | undefined;
  /** The fatal output error that stopped the run, if any. */
  readonly fatal: OutputError | undefined;
}

/** The CLI's handle on a run: the library's, plus what a process about to exit needs. */
export interface RunHandle extends FetchAllRun {
  /**
   * For an exit that cannot wait (a second signal): the records of every entry started and not yet
   * told of, as `aborted` with `message` (in flight, or its body held for a slow stdout). They are
   * then counted as told, so none is given twice. Synchronous.
   */
  abandon(message: string): FetchRecord[];
}

interface RunState {
  stopReason: StopReason | undefined;
  fatal: OutputError | undefined;
  abandon: ((message: string) => FetchRecord[]) | undefined;
}

/**
 * Run entries through the pipeline; records come out as entries finish (in input order with `ordered`).
 * The caller's options must already be normalised.
 */
export function runEntries(entries: AsyncIterable<Entry> | Iterable<Entry>, options: RunOptions, signal: AbortSignal | undefined, internals: RunInternals = {}): RunHandle {
  const state: RunState = {stopReason: undefined, fatal: undefined, abandon: undefined};
  const iterable: RunHandle = {
    get stopReason() {
      return state.stopReason;
    },
    get fatal() {
      return state.fatal;
    },
    abandon: (message) => state.abandon?.(message) ?? [],
    [Symbol.asyncIterator]: () => execute(entries, options, signal, internals, state)[Symbol.asyncIterator](),
  };
  return iterable;
}

interface Pending {
  readonly seq: number;
  /** Its slot among the records waiting to be told of (a body still to be written to stdout). */
  untold?: number | undefined;
  /** null for an entry the run stopped before it sent anything: it has no record (never started). */
  record: FetchRecord | null;
  target: BodyTarget | undefined;
}

async function* execute(
  entries: AsyncIterable<Entry> | Iterable<Entry>,
  options: RunOptions,
  outerSignal: AbortSignal | undefined,
  internals: RunInternals,
  state: RunState,
): AsyncGenerator<FetchRecord> {
  const controller = new AbortController();
  const stop = (reason: StopReason, error?: Error): void => {
    if (controller.signal.aborted) return;
    state.stopReason = reason;
    controller.abort(error ?? new Error(reason === 'aborted' ? 'the run was stopped' : `stopped by ${reason}`));
  };
  const onOuterAbort = (): void => stop('aborted');
  if (outerSignal?.aborted) stop('aborted');
  outerSignal?.addEventListener('abort', onOuterAbort, {once: true});
  const deadlineLeft = options.deadline - (internals.deadlineFrom === undefined ? 0 : performance.now() - internals.deadlineFrom);
  const deadlineReached = (): void => stop('deadline', new Error('the --deadline was reached'));
  if (options.deadline > 0 && deadlineLeft <= 0) deadlineReached();
  const deadline = options.deadline > 0 && deadlineLeft > 0 ? setTimeout(deadlineReached, deadlineLeft) : undefined;

  const signal = controller.signal;
  const ownDispatcher = internals.dispatcher === undefined;
  const dispatcher = internals.dispatcher ?? createDispatcher(options, internals.env ?? {});
  const sink: BodySink | undefined = internals.sink ?? (options.outputDir !== undefined ? new FileSink(options.outputDir, {fsync: options.fsync, protect: internals.protect}) : undefined);
  const global = new Semaphore(options.concurrency);
  const hosts = new HostGate(options.perHost);
  const rate = options.rate === undefined ? undefined : new RateLimiter(options.rate);
  const onRequest = internals.onRequest;
  const onRecord = internals.onRecord;
  const env: EntryEnvironment = {
    options,
    dispatcher,
    sink,
    global,
    hosts,
    signal,
    beforeRequest: rate === undefined
      ? (onRequest === undefined ? noop : onRequest)
      : (s) => {
          const wait = rate.take(s);
          if (wait === undefined) return onRequest?.();
          return wait.then(() => onRequest?.());
        },
    pauseHost: (host, ms) => hosts.pause(host, ms),
    enterHost: (state, host, s) => enterHost({hosts, global}, state, host, s),
    waitOutPause: (state, url, s) => {
      if (!hosts.anyPaused) return undefined;
      const host = hostKey(url);
      return hosts.pausedFor(host) > 0 ? waitOutPause({hosts, global}, state, host, s) : undefined;
    },
    onSent: rate === undefined ? undefined : () => rate.sent(performance.now()),
    onBodyBytes: internals.onBodyBytes,
    // Stop while the failing attempt still holds its slot, so no other entry starts in the gap.
    onFinalFailure: options.failFast ? () => stop('fail-fast') : undefined,
  };
  const names = options.outputDir === undefined ? undefined : new NameAssigner(options.name);
  const completions = new Completions<Pending>(options.ordered);
  // The reader may run ahead of the oldest unfinished entry by this many entries, no more.
  const window = Math.max(1024, options.concurrency * 4);
  let active = 0;
  let seq = 0;
  let emitted = 0;
  let pumpDone = false;
  let pumpError: unknown;
  // What closing the entries' source threw (its return(), its finally): the caller's if it left.
  let closeError: unknown;
  const slotFreed = new WakeUp();

  const budget = new FailureBudget(options.failFast, options.maxFailures);
  const judge = (record: FetchRecord): void => {
    const reason = budget.add(record);
    if (reason !== undefined) stop(reason);
  };

  const told = internals.onComplete;
  // Entries started and not yet told of: in flight (by their state), or done with a body still to be
  // written to stdout (by their record). What a run abandoned at exit reports as aborted.
  const inFlight = new Slots<EntryState>();
  const untold = new Slots<FetchRecord>();
  let abandoned = false;
  state.abandon = (message) => {
    abandoned = true;
    const records: FetchRecord[] = [];
    for (const record of untold.values()) records.push(undelivered(record, 'aborted', message));
    for (const entryState of inFlight.values()) {
      // Started: at least its first attempt was under way.
      if (entryState.startedAt !== undefined) records.push(entryRecord(entryState, options, {started: entryState.startedAt, attempts: 1, file: null, sha256: null, error: {code: 'aborted', message}}));
    }
    untold.clear();
    inFlight.clear();
    return records.sort((a, b) => a.index - b.index);
  };
  // A report that cannot take a record (a full disk) stops the run as any fatal output error does:
  // this record and the later ones are still yielded, and the iteration throws it at the end.
  const onComplete = told === undefined ? undefined : (record: FetchRecord): void => {
    // After abandon() every entry still going was told of, as aborted.
    if (abandoned) return;
    try {
      told(record);
    } catch (error) {
      if (!(error instanceof OutputError)) throw error;
      if (state.stopReason === undefined) state.fatal ??= error;
      stop('output', error);
    }
  };
  // A held body's record, told of once the body is out: no longer among those an abandoned run owes.
  const tellHeld = (owed: number | undefined, record: FetchRecord): void => {
    if (owed !== undefined) untold.remove(owed);
    onComplete?.(record);
  };
  const finish = (pending: Pending): void => {
    if (pending.record !== null) {
      judge(pending.record);
      // A body still to be written to stdout is told of once it is there (below), not before.
      if (pending.target?.publish === undefined) onComplete?.(pending.record);
      else pending.untold = untold.add(pending.record);
    }
    completions.push(pending);
  };

  const runOne = async (entry: Entry, mySeq: number, name: string | undefined, permit: Release | undefined): Promise<void> => {
    // The deciding attempt's global slot, given back only once this entry's verdict is counted.
    let slot: Release | undefined;
    const entryState: EntryState = {entry, name, target: undefined, hash: undefined, bytes: 0, status: null, finalUrl: null, attempts: 0, resume: undefined, discarded: 0, permits: undefined, startedAt: undefined};
    const inFlightSlot = inFlight.add(entryState);
    try {
      const started = performance.now();
      let error: FetchallError | undefined;
      let attempts = 0;
      let file: string | null = null;
      let sha: string | null = null;
      try {
        const outcome = await fetchEntry(env, entryState, permit);
        slot = outcome.release;
        attempts = outcome.attempts;
        error = outcome.error;
        if (error === undefined) {
          const digest = entryState.hash?.digest('hex');
          sha = digest ?? null;
          // HEAD and a 304 have no body to check (a link check over a list with digests): no digest asked.
          if (entry.sha256 !== undefined && digest !== undefined && digest !== entry.sha256) {
            error = new FetchallError('checksum', `body SHA-256 is ${digest}, expected ${entry.sha256}`);
          }
        }
        if (error === undefined && entryState.target !== undefined) {
          // A body that arrived whole is kept even if the run is stopping: it is no longer in flight.
          const committing = entryState.target.commit(signal);
          file = committing instanceof Promise ? await committing : committing;
        }
      } catch (thrown) {
        // A file that cannot be put in place (a directory at its name) fails this URL as `write`.
        if (thrown instanceof FetchallError) {
          error = thrown;
        } else {
          if (!(thrown instanceof OutputError)) throw thrown;
          // Another entry's fatal error, as the reason the run stopped: this one was only in flight.
          const casualty = signal.aborted && signal.reason === thrown;
          // Fatal only as the first cause: after a --deadline or --fail-fast it is one more casualty.
          if (state.stopReason === undefined) state.fatal ??= thrown;
          stop('output', thrown);
          // Its own file (or spool) could not be written: `write`, as for a non-fatal write failure.
          error = new FetchallError(casualty ? 'aborted' : 'write', thrown.message);
        }
      }
      if (error !== undefined) {
        if (error.code !== 'checksum') sha = null;
        await entryState.target?.discard();
      }
      if (error?.code === 'aborted' && entryState.startedAt === undefined) {
        // Stopped while it waited at a gate (a per-host permit, a host's pause, --rate) before its
        // first request: never started, like an entry still waiting for a slot. No record; the
        // summary counts it as not started, and --resume fetches it.
        finish({seq: mySeq, target: undefined, record: null});
        return;
      }
      const ok = error === undefined;
      finish({
        seq: mySeq,
        target: ok ? entryState.target : undefined,
        record: entryRecord(entryState, options, {started, attempts, file, sha256: sha, error: error === undefined ? null : {code: error.code, message: error.message}}),
      });
    } finally {
      inFlight.remove(inFlightSlot);
      slot?.();
    }
  };

  const launch = (entry: Entry, name: string | undefined, permit: Release | undefined): void => {
    const mySeq = seq++;
    active++;
    const done = (): void => {
      active--;
      slotFreed.notify();
      completions.wake();
    };
    if (entry.invalid !== undefined || entry.target === undefined) {
      // Counted before the slot is given back, like any verdict (an invalid line is a failure).
      finish({seq: mySeq, target: undefined, record: invalidRecord(entry)});
      permit?.();
      done();
      return;
    }
    runOne(entry, mySeq, name, permit).then(done, (error: unknown) => {
      pumpError ??= error;
      stop('aborted', error instanceof Error ? error : new Error(String(error)));
      done();
    });
  };

  /** A verdict known before any request (a skip, a blocked name): counted, then the slot given back. */
  const settle = (record: FetchRecord, permit: Release): void => {
    finish({seq: seq++, target: undefined, record});
    permit();
    completions.wake();
  };

  // One abort listener for the whole pump, not one per entry: it wakes a pending read, if any.
  let wakeRead: (() => void) | undefined;
  signal.addEventListener('abort', () => wakeRead?.(), {once: true});
  /** The iterator's next step, or undefined as soon as the run stops (the pending step is abandoned). */
  const nextUnlessAborted = (iterator: AsyncIterator<Entry> | Iterator<Entry>): Promise<IteratorResult<Entry> | undefined> | IteratorResult<Entry> | undefined => {
    if (signal.aborted) return undefined;
    const next = iterator.next();
    if (!(next instanceof Promise)) return next;
    return new Promise((resolve, reject) => {
      wakeRead = () => {
        next.catch(() => {});
        resolve(undefined);
      };
      next.then(
        (step) => {
          wakeRead = undefined;
          resolve(step);
        },
        (error: unknown) => {
          wakeRead = undefined;
          reject(error);
        },
      );
    });
  };

  // A global slot for the next entry: without a promise when one is free (one microtask turn less per
  // entry), else a wait that ends with the run.
  const takeSlot = (): Release | Promise<Release> => global.tryAcquire() ?? global.acquire(signal);

  const pump = async (): Promise<void> => {
    try {
      let abandoned = false;
      const iterator = (Symbol.asyncIterator in entries ? (entries as AsyncIterable<Entry>)[Symbol.asyncIterator]() : (entries as Iterable<Entry>)[Symbol.iterator]()) as AsyncIterator<Entry> | Iterator<Entry>;
      try {
        for (;;) {
          while (seq - emitted >= window && !signal.aborted) await slotFreed.wait();
          if (signal.aborted) break;
          // Read the next entry only once a slot is free: the list is never read far ahead.
          let permit = takeSlot();
          if (permit instanceof Promise) {
            try {
              permit = await permit;
            } catch {
              break;
            }
          }
          // A stop must not wait for an input that is slow to give its next entry (a pipe, a generator).
          const next = nextUnlessAborted(iterator);
          let step: IteratorResult<Entry> | undefined;
          if (next instanceof Promise) {
            // The input makes us wait: no slot is parked here meanwhile (a retry or a redirect hop
            // waiting for one would wait for the producer's next line). Taken again once it comes.
            permit();
            permit = noop;
            step = await next;
            if (step !== undefined && step.done !== true && !signal.aborted) {
              const again = takeSlot();
              try {
                permit = again instanceof Promise ? await again : again;
              } catch {
                break;
              }
            }
          } else {
            step = next;
          }
          if (step === undefined) abandoned = true;
          if (step === undefined || step.done === true || signal.aborted) {
            permit();
            break;
          }
          const entry = step.value;
          const assigned = names?.assign(entry) ?? undefined;
          const name = assigned?.name;
          if (options.shard !== undefined && !inShard(entry.index, options.shard)) {
            permit();
            continue;
          }
          internals.onSelected?.(entry);
          const resumeFile = name === undefined || options.outputDir === undefined ? null : join(options.outputDir, name);
          if (entry.target !== undefined && internals.resumeOk?.isOk(entry.url, resumeFile) === true) {
            settle(skippedRecord(entry, savedPathOrNull(resumeFile)), permit);
            continue;
          }
          if (options.skipExisting && name !== undefined && entry.target !== undefined && options.outputDir !== undefined) {
            const path = join(options.outputDir, name);
            const matches = await existingMatches(path, entry.sha256, options.outputDir, signal);
            if (signal.aborted) {
              // Stopped while a long file was hashed: not started.
              permit();
              break;
            }
            if (matches) {
              // With an expected digest the file was hashed to match it: the record says so.
              settle(skippedRecord(entry, path, entry.sha256 ?? null), permit);
              continue;
            }
          }
          // After the skips: a file saved by an earlier run (under a folder, then) is still done.
          if (assigned?.blockedBy !== undefined && entry.invalid === undefined && options.method !== 'HEAD') {
            settle(blockedRecord(entry, blockedMessage(options.outputDir!, assigned.name, assigned.blockedBy)), permit);
            continue;
          }
          launch(entry, name, permit);
        }
      } finally {
        // With a step still pending, an async generator's return() would wait for it: do not wait.
        const closing = Promise.resolve((iterator as AsyncIterator<Entry>).return?.());
        if (abandoned) closing.catch(() => {});
        else await closing.catch((error: unknown) => {
          closeError = error;
          throw error;
        });
      }
    } catch (error) {
      pumpError ??= error;
      stop('aborted', error instanceof Error ? error : new Error(String(error)));
    } finally {
      pumpDone = true;
      completions.wake();
    }
  };

  const pumping = pump();
  // The chain of stdout bodies waiting to be confirmed written, and whether stdout has failed.
  let delivery: Promise<void> = Promise.resolve();
  let outputBroken = false;
  // How the iteration ended: through its end, by an error, or (neither) by the caller leaving it.
  let ended = false;
  let threw = false;
  try {
    for (;;) {
      const next = completions.take();
      if (next !== undefined) {
        // A body that completed is written even when the run is stopping; only a failed output
        // itself stops the writing. Its record says ok only once the body is out: one that could
        // not be written is `write`, one left unwritten after the output failed is `aborted`, so a
        // report never calls ok a body the reader did not get (and --resume fetches it again).
        if (next.target?.publish !== undefined && next.record !== null) {
          if (state.stopReason !== 'output' && !outputBroken) {
            try {
              const publishing = next.target.publish();
              if (publishing !== undefined) await publishing;
            } catch (error) {
              if (!(error instanceof OutputError)) throw error;
              if (state.stopReason === undefined) state.fatal ??= error;
              outputBroken = true;
              stop('output', error);
              next.record = undelivered(next.record, 'write', error.message);
            }
          } else {
            next.record = undelivered(next.record, 'aborted', 'not written: the output had failed');
          }
          // Told once the bytes are really out (gathered writes go out a moment later): in order,
          // without waiting here, so small bodies still share one write.
          const record = next.record;
          const owed = next.untold;
          const delivering = record.ok ? next.target.delivered?.() : undefined;
          if (delivering === undefined) {
            tellHeld(owed, record);
          } else {
            // Handled now: a failure before its turn in the chain must not count as unhandled.
            delivering.catch(noop);
            delivery = delivery.then(() => delivering).then(
              () => tellHeld(owed, record),
              (error: unknown) => {
                outputBroken = true;
                tellHeld(owed, undelivered(record, 'write', error instanceof Error ? error.message : String(error)));
              },
            );
          }
        }
        emitted++;
        slotFreed.notify();
        if (next.record === null) continue;
        if (onRecord === undefined) {
          yield next.record;
        } else {
          const taking = onRecord(next.record);
          if (taking !== undefined) await taking;
        }
        continue;
      }
      if (pumpDone && active === 0 && completions.size === 0) break;
      await completions.waitForMore();
    }
    await pumping;
    await delivery;
    if (pumpError !== undefined) throw pumpError;
    ended = true;
  } catch (error) {
    threw = true;
    throw error;
  } finally {
    // Whatever ended the iteration (the list, a stop, the caller leaving), nothing may stay in flight.
    if (!controller.signal.aborted) controller.abort(new Error('the run ended'));
    if (deadline !== undefined) clearTimeout(deadline);
    outerSignal?.removeEventListener('abort', onOuterAbort);
    await pumping;
    while (active > 0) await slotFreed.wait();
    for (let leftover = completions.drain(); leftover !== undefined; leftover = completions.drain()) await leftover.target?.discard();
    await sink?.close();
    if (ownDispatcher) await dispatcher.destroy().catch(() => {});
    // The caller left (`break`), and closing the entries' source failed (its `finally` threw): that
    // error is the caller's, as a `for await` over the source itself would throw it at the `break`.
    // An error of a next() the reading ahead made, which the caller never asked for, is not.
    if (!ended && !threw && closeError !== undefined) throw closeError;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function noop(): void {}

/**
 * An entry's record from what its state holds: status, final URL and bytes of the last response, the
 * duration from its first request (else from `started`), the attempts counted either way.
 */
function entryRecord(state: EntryState, options: RunOptions, outcome: {started: number; attempts: number; file: string | null; sha256: string | null; error: FetchRecord['error']}): FetchRecord {
  return {
    index: state.entry.index,
    url: state.entry.url,
    ok: outcome.error === null,
    status: state.status,
    final_url: state.finalUrl,
    bytes: options.method === 'HEAD' ? 0 : state.bytes,
    duration_ms: round(performance.now() - (state.startedAt ?? outcome.started)),
    attempts: Math.max(outcome.attempts, state.attempts),
    file: outcome.file,
    skipped: false,
    sha256: outcome.sha256,
    error: outcome.error,
  };
}

/** An ok record whose body never reached its output: failed, with nothing saved. */
function undelivered(record: FetchRecord, code: 'write' | 'aborted', message: string): FetchRecord {
  return {...record, ok: false, file: null, sha256: null, error: {code, message}};
}
