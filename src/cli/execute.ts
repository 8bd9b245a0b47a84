// The CLI's run: lists → fetchAll → records to stdout/report, progress and summary to stderr → exit code.
import {readlinkSync} from 'node:fs';
import {OutputError, UsageError} from '../errors.js';
import {countEntries} from '../input/count.js';
import {closeLists, listAtPath, openLists, readEntries, type OpenList} from '../input/read-lists.js';
import type {RunOptions} from '../options.js';
import {recordToJson, type FetchRecord} from '../record.js';
import {colorLevel, makeChalk} from '../report/color.js';
import {ProgressTicker} from '../report/progress.js';
import {readOkUrls, ReportFile, type ResumeSet} from '../report/report-file.js';
import {RunStats} from '../report/stats.js';
import {formatCount, formatFailureLine, formatSummary, formatVerboseLine, shownUrl} from '../report/summary.js';
import {escapeText, safeUrl} from '../report/escape.js';
import {planEntries, untilStopped} from '../plan.js';
import {runEntries, type RunHandle} from '../run.js';
import {FileSink} from '../sinks/file-sink.js';
import {StdoutSink} from '../sinks/stdout-sink.js';
import {StreamWriter} from '../sinks/stream-writer.js';
import type {BodySink} from '../sinks/types.js';
import type {RawFlags} from './program.js';
import {EXIT, makeOutputDir, type CliIo} from '../cli.js';

/** Run with validated options and resolve with the exit code. */
export async function execute(io: CliIo, flags: RawFlags, listPaths: string[], options: RunOptions): Promise<number> {
  const out = new StreamWriter(io.stdout, 'standard output');
  // stdout and stderr on one terminal: a body that ends mid-line would have the next line of stderr
  // (the summary, a -v line) glued to its end. Start that line on a row of its own.
  const sameTerminal = io.stdout.isTTY === true && io.stderr.isTTY === true;
  let brokenAt = -1;
  const freshLine = (): void => {
    if (!sameTerminal || !out.endsMidLine || out.accepted === brokenAt) return;
    brokenAt = out.accepted;
    io.stderr.write('\n');
  };
  const err = (line: string): void => {
    freshLine();
    io.stderr.write(line + '\n');
  };
  let lists: OpenList[];
  try {
    lists = await openLists(listPaths, () => io.stdin);
  } catch (error) {
    if (error instanceof UsageError) {
      err(`fetchall: ${escapeText(error.message)}`);
      return EXIT.usage;
    }
    throw error;
  }
  const looping = flags.report === undefined ? undefined : listAtPath(lists, flags.report);
  if (looping !== undefined) {
    closeLists(lists);
    err(`fetchall: --report ${flags.report} is the list ${looping.name} itself: its records would be read back as entries`);
    return EXIT.usage;
  }
  if (flags.dryRun === true) {
    // The plan shows what --resume would skip: the report is read (never created or written).
    let planResume: ResumeSet | undefined;
    try {
      if (flags.report !== undefined && flags.resume === true) planResume = await readOkUrls(flags.report);
    } catch (error) {
      closeLists(lists);
      if (!(error instanceof OutputError)) throw error;
      err(`fetchall: ${escapeText(error.message)}`);
      return EXIT.output;
    }
    return dryRun(lists, options, flags, out, err, planResume);
  }

  let report: ReportFile | undefined;
  let resumeOk: ResumeSet | undefined;
  try {
    if (options.outputDir !== undefined) makeOutputDir(options.outputDir, {fsync: options.fsync});
    if (flags.report !== undefined && flags.resume === true) resumeOk = await readOkUrls(flags.report);
    if (flags.report !== undefined) report = ReportFile.open(flags.report);
  } catch (error) {
    closeLists(lists);
    if (error instanceof OutputError) {
      err(`fetchall: ${escapeText(error.message)}`);
      return EXIT.output;
    }
    throw error;
  }

  const level = colorLevel({noColorFlag: !flags.color, env: io.env, isTTY: io.stderr.isTTY === true});
  const chalk = makeChalk(level);
  const stats = new RunStats({total: null});
  // Bodies or records going to the same terminal would be glued to a live line redrawn in their midst
  // (curl turns its meter off then too): the line is drawn only when stdout is not a terminal, or
  // carries nothing (-o without --json, or HEAD, which writes no body).
  const stdoutBusy = io.stdout.isTTY === true && (flags.json === true || (options.outputDir === undefined && options.method !== 'HEAD'));
  const mode = flags.quiet === true ? 'off' : io.stderr.isTTY === true && !stdoutBusy ? 'tty' : flags.progress === true ? 'plain' : 'off';
  const ticker = new ProgressTicker({stream: io.stderr, stats, chalk, mode, dumb: io.env['TERM'] === 'dumb', ...progressInterval(io.env, mode)});
  // Count ahead for the progress total, and for the summary's "not started" when the run stops early.
  const counting = new AbortController();
  let counted: Promise<void> | undefined;
  const sources = lists.map((l) => l.countFrom);
  if (flags.quiet !== true && sources.every((s) => s !== undefined)) {
    counted = countEntries(sources, options.shard, counting.signal).then(
      (total) => {
        stats.total = total;
      },
      () => {},
    );
  }

  const controller = new AbortController();
  // The first cause that stops the run sets the exit status. A signal counts only if it comes first;
  // one after another cause (or a second one) skips the waits and exits with the status set so far.
  let signalled: NodeJS.Signals | undefined;
  let outputFailure: OutputError | undefined;
  let fatal: OutputError | undefined;
  let run: RunHandle | undefined;
  // The CLI's own handling of each record as its entry completes (set below, once the run is made).
  let tell: ((record: FetchRecord) => void) | undefined;
  let sink: BodySink | undefined;
  let ended = false;
  const stoppedBefore = (): boolean => run?.stopReason !== undefined || outputFailure !== undefined || fatal !== undefined;
  // The output failure that stopped the run, if one did (the run's own: a body's file or stdout).
  const failed = (): OutputError | undefined => outputFailure ?? fatal ?? run?.fatal;
  const removeSignals = io.onSignal((signal) => {
    // SIGQUIT (Ctrl-\\) is the quit-now key: no wait for transfers to wind down, as a second signal,
    // but the same cleanup, records and summary; exit 131 unless another cause came first.
    if (signal === 'SIGQUIT' && signalled === undefined && !stoppedBefore()) signalled = signal;
    else if (signalled === undefined && !ended && !stoppedBefore()) {
      signalled = signal;
      controller.abort(new Error(`interrupted by ${signal}`));
      return;
    }
    if (signalled === undefined && ended && !stoppedBefore()) {
      // The run had ended by itself: this signal only sets the status (the last writes still go out).
      signalled = signal;
      return;
    }
    // A second signal, or one after the run already stopped: skip the wait, but leave no temporary file,
    // and still say how the run went (stderr writes are synchronous: they land before the exit). Every
    // entry started and not yet recorded gets its `aborted` record in the report and the counts.
    sink?.cleanupSync?.();
    if (tell !== undefined) for (const record of run?.abandon(`interrupted by ${signal} before it finished`) ?? []) tell(record);
    const status = exitStatus();
    ticker.stop();
    sayEnd(status);
    process.exit(status);
  });
  // What stopped the run, for the summary line (a fatal output error has a line of its own); a cause
  // that came when every entry had its record (a --fail-fast on the last URL) cut nothing short.
  const stopCause = (): string | undefined => {
    if (signalled !== undefined) return `stopped by ${signalled}`;
    if (failed() !== undefined) return undefined;
    const cutShort = stats.total === null || stats.done < stats.total || (stats.failureGroups.get('aborted') ?? 0) > 0;
    if (!cutShort) return undefined;
    switch (run?.stopReason) {
      case 'deadline':
        return 'stopped: --deadline reached';
      case 'fail-fast':
        return 'stopped by --fail-fast';
      case 'max-failures':
        return `stopped: more than --max-failures ${flags.maxFailures ?? ''} failed`;
      default:
        return undefined;
    }
  };
  const exitStatus = (): number => {
    if (signalled !== undefined) return signalCode(signalled);
    const failure = failed();
    if (failure !== undefined) return failure.code === 'EPIPE' ? EXIT.pipe : EXIT.output;
    switch (run?.stopReason) {
      case 'deadline':
        return EXIT.deadline;
      case 'fail-fast':
      case 'max-failures':
        return EXIT.failed;
      default:
        return stats.failed > 0 ? EXIT.failed : EXIT.ok;
    }
  };
  // The summary (or with -q the failed URLs) and the fatal error's line, once, unless the reader is gone.
  let said = false;
  const sayEnd = (status: number): void => {
    if (said || status === EXIT.pipe) return;
    said = true;
    printEnd(flags, stats, chalk, err, stopCause());
    const failure = failed();
    if (status === EXIT.output && failure !== undefined) err(`fetchall: ${escapeText(failure.message)}`);
  };
  // stdout failing (a reader gone, a full disk) stops the run at once, not at the next record or body.
  out.onFailure = (failure) => {
    if (signalled === undefined && !stoppedBefore()) outputFailure = failure;
    controller.abort(failure);
  };

  try {
    const bodiesToStdout = options.outputDir === undefined && flags.json !== true;
    // No download may replace the report or a list being read.
    const protect = [...(flags.report === undefined ? [] : [flags.report]), ...lists.flatMap((list) => {
      const path = list.path ?? (list.identity === undefined ? undefined : pathOfStdin());
      return path === undefined ? [] : [path];
    })];
    sink = options.outputDir !== undefined ? new FileSink(options.outputDir, {fsync: options.fsync, protect}) : bodiesToStdout ? new StdoutSink(out) : undefined;
    // Each record as its entry completes: counted, reported, shown with -v (in completion order, even
    // with --ordered). A report that cannot be written stops the run (exit 3).
    const onComplete = (record: FetchRecord): void => {
      stats.add(record);
      if (report !== undefined) {
        try {
          report.append(recordToJson(record));
        } catch (error) {
          if (!(error instanceof OutputError)) throw error;
          if (signalled === undefined && !stoppedBefore()) fatal = error;
          controller.abort(error);
        }
      }
      if (flags.verbose === true) {
        freshLine();
        ticker.printAbove(formatVerboseLine(record, chalk));
      }
    };
    tell = onComplete;
    // Each record in output order (input order with --ordered): its JSON line on stdout. A full stdout
    // pauses the run.
    const takeRecord = flags.json === true ? (record: FetchRecord): Promise<void> | void => out.write(recordToJson(record) + '\n') : noop;
    // --ordered orders what stdout carries; with -o and no --json it carries nothing, and holding
    // finished entries back for a slow first one would only narrow the run to the reader's window.
    const ordering = options.ordered && (flags.json === true || options.outputDir === undefined) ? options : {...options, ordered: false};
    run = runEntries(readEntries(lists), ordering, controller.signal, {
      sink,
      resumeOk,
      env: io.env,
      // --deadline bounds the whole command, counted from the process start (performance.now()'s origin).
      deadlineFrom: 0,
      onRequest: () => {
        stats.requestsStarted++;
      },
      onBodyBytes: mode !== 'off' ? (bytes) => {
        stats.received += bytes;
      } : undefined,
      onComplete,
      onRecord: takeRecord,
    });
    ticker.start();
    let internal: unknown;
    let unreadable: UsageError | undefined;
    try {
      // Records arrive through onRecord (no async-iteration round trip each); iterating drives the run.
      const driving = run[Symbol.asyncIterator]();
      while ((await driving.next()).done !== true) {
        // nothing is yielded when onRecord is given
      }
    } catch (error) {
      if (error instanceof OutputError) fatal ??= error;
      else if (error instanceof UsageError) unreadable = error;
      else internal = error;
    } finally {
      ended = true;
      ticker.stop();
      report?.close();
    }
    if (internal !== undefined) {
      counting.abort();
      throw internal;
    }
    // A stopped run's summary says how many entries were never started: give the count a moment to
    // finish (a signal during the wait is a second one, which exits at once).
    if (counted !== undefined && stats.total === null && (signalled !== undefined || run.stopReason !== undefined)) {
      await Promise.race([counted, new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    counting.abort();

    // Records and bodies gathered for one write go out before anything else is decided.
    await out.flush();
    if (unreadable !== undefined) {
      printEnd(flags, stats, chalk, err);
      err(`fetchall: ${escapeText(unreadable.message)}`);
      return EXIT.usage;
    }
    const status = exitStatus();
    sayEnd(status);
    return status;
  } finally {
    removeSignals();
  }
}

function noop(): void {}

/** The file standard input was redirected from (`< urls.txt`), where the system says (Linux). */
function pathOfStdin(): string | undefined {
  try {
    const path = readlinkSync('/proc/self/fd/0');
    return path.startsWith('/') ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Test-only, undocumented on purpose: FETCHALL_PROGRESS_INTERVAL_MS overrides the plain `--progress`
 * interval (10 s), so an end-to-end test can see the status line without a 10-second run. Not part of
 * the interface; ignored unless it is a whole number from 10 to 600000, and never applied to the
 * terminal redraw rate.
 */
function progressInterval(env: CliIo['env'], mode: 'tty' | 'plain' | 'off'): {intervalMs?: number} {
  const raw = env['FETCHALL_PROGRESS_INTERVAL_MS'];
  if (mode !== 'plain' || raw === undefined || !/^\d+$/.test(raw)) return {};
  const ms = Number(raw);
  return ms >= 10 && ms <= 600_000 ? {intervalMs: ms} : {};
}

function signalCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? EXIT.sigint : signal === 'SIGQUIT' ? EXIT.sigquit : EXIT.sigterm;
}

function printEnd(flags: RawFlags, stats: RunStats, chalk: ReturnType<typeof makeChalk>, err: (line: string) => void, stopped?: string): void {
  if (flags.quiet === true) {
    for (const failure of stats.failures) err(formatFailureLine(failureRecord(failure), chalk));
    const more = stats.failed - stats.failures.length;
    if (more > 0) err(`… and ${formatCount(more)} more`);
    return;
  }
  for (const line of formatSummary(stats, chalk, performance.now(), stopped)) err(line);
}

function failureRecord(failure: RunStats['failures'][number]): FetchRecord {
  return {
    index: failure.index, url: failure.url, ok: false, status: failure.status, final_url: null, bytes: 0,
    duration_ms: 0, attempts: 0, file: null, skipped: false, sha256: null,
    error: failure.code === null ? null : {code: failure.code, message: failure.message},
  };
}

/** --dry-run: the plan, one `URL<TAB>FILE` per selected entry (or the would-be records); no request. */
async function dryRun(lists: OpenList[], options: RunOptions, flags: RawFlags, out: StreamWriter, err: (line: string) => void, resumeOk: ResumeSet | undefined): Promise<number> {
  let invalid = 0;
  // --deadline bounds a dry run too (a list read from a slow pipe), counted from the process start.
  const deadline = options.deadline > 0 ? AbortSignal.timeout(Math.max(1, Math.ceil(options.deadline - performance.now()))) : undefined;
  try {
    invalid = await printPlan(lists, options, flags, out, err, resumeOk, deadline);
  } catch (error) {
    // A list that fails while it is read (an I/O error) is the user's input: exit 2, naming it.
    if (!(error instanceof UsageError)) throw error;
    err(`fetchall: ${escapeText(error.message)}`);
    return EXIT.usage;
  }
  if (invalid < 0) return outputFailed(out, err);
  await out.flush();
  if (out.failure !== undefined) return outputFailed(out, err);
  if (deadline?.aborted === true) {
    if (flags.quiet !== true) err('fetchall: --deadline reached: the plan stops here');
    return EXIT.deadline;
  }
  return invalid > 0 ? EXIT.failed : EXIT.ok;
}

/** Print the plan; resolves with the number of invalid entries, or -1 once stdout has failed. */
async function printPlan(lists: OpenList[], options: RunOptions, flags: RawFlags, out: StreamWriter, err: (line: string) => void, resumeOk: ResumeSet | undefined, stop: AbortSignal | undefined): Promise<number> {
  let invalid = 0;
  for await (const {entry, file, record} of untilStopped(planEntries(readEntries(lists), options, resumeOk), stop)) {
    if (entry.invalid !== undefined) {
      invalid++;
      if (flags.quiet !== true && flags.json !== true) err(`fetchall: ${escapeText(entry.invalid)}`);
    } else if (record.error !== null && flags.quiet !== true && flags.json !== true) {
      // A name under an earlier file: the line is valid (exit 0), but the run would fail it as `write`.
      err(`fetchall: ${shownUrl(entry.url)}: ${safeUrl(record.error.message)}`);
    }
    const line = flags.json === true
      ? recordToJson(record)
      : // Only an invalid entry's URL can hold a control character: escaped, it cannot break the TAB format.
        `${escapeText(entry.url)}\t${file ?? '-'}`;
    const pending = out.write(line + '\n');
    if (pending !== undefined) {
      try {
        await pending;
      } catch {
        return -1;
      }
    }
  }
  return invalid;
}

/** A plan that could not be written: a reader gone is 141, quietly; any other failure 3, in one line. */
function outputFailed(out: StreamWriter, err: (line: string) => void): number {
  if (out.failure?.code === 'EPIPE') return EXIT.pipe;
  if (out.failure !== undefined) err(`fetchall: ${escapeText(out.failure.message)}`);
  return EXIT.output;
}
