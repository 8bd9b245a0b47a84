// The live progress line on a terminal, the plain periodic status line elsewhere, and the ticker that draws them.
import {performance} from 'node:perf_hooks';
import type {ChalkInstance} from 'chalk';
import type {RunStats} from './stats.js';
import {formatBytes, formatCount, formatRate, ratePerSecond} from './summary.js';

/** Erase the whole current line and return to its start. */
const CLEAR_LINE = '\r\x1b[2K';
/** Erase from the cursor to the end of the line. */
const CLEAR_TO_END = '\x1b[K';

/** Default redraw interval on a terminal: at most ten redraws a second. */
export const TTY_INTERVAL_MS = 100;
/** Default interval of the plain `--progress` status line. */
export const PLAIN_INTERVAL_MS = 10_000;

interface Piece {
  readonly text: string;
  readonly style?: ((text: string) => string) | undefined;
  /** Follows the previous piece with no separator (a byte rate after its byte count). */
  readonly joined?: boolean;
  /** On a terminal too narrow for the whole line, fields are dropped lowest rank first; never when unset. */
  readonly drop?: number;
}

/** An ETA in whole seconds, rounded up: `15s`, `2m05s`, `1h02m`. */
function formatEta(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.ceil(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** Remaining time from the average pace so far; undefined when the total is unknown or nothing is done. */
function etaMs(stats: RunStats, elapsed: number): number | undefined {
  if (stats.total === null || stats.done === 0 || stats.done >= stats.total) return undefined;
  return ((stats.total - stats.done) * elapsed) / stats.done;
}

/** The fields after the done/total counter, shared by the terminal and the plain line. */
function statusPieces(stats: RunStats, now: number, chalk: ChalkInstance | undefined): Piece[] {
  const elapsed = stats.elapsedMs(now);
  // Bytes as they arrive (a long download moves the line); records' bytes where nobody counts them live.
  const bytes = Math.max(stats.received, stats.bytes);
  const pieces: Piece[] = [
    {text: `${formatCount(stats.ok)} ok`, style: chalk?.green},
    {text: `${formatCount(stats.failed)} failed`, style: stats.failed > 0 ? chalk?.red : undefined},
    {text: `${formatCount(stats.skipped)} skipped`, style: stats.skipped > 0 ? chalk?.yellow : undefined, drop: stats.skipped > 0 ? 4 : 1},
    {text: `${formatRate(ratePerSecond(stats.requestsStarted, elapsed))} req/s`, drop: 3},
    {text: formatBytes(bytes), drop: 5},
    {text: ` (${formatBytes(ratePerSecond(bytes, elapsed))}/s)`, joined: true, drop: 2},
  ];
  const eta = etaMs(stats, elapsed);
  if (eta !== undefined) pieces.push({text: `ETA ${formatEta(eta)}`, style: chalk?.cyan});
  return pieces;
}

function withSeparators(pieces: readonly Piece[], separator: Piece): Piece[] {
  return pieces.flatMap((piece, i) => (i === 0 || piece.joined === true ? [piece] : [separator, piece]));
}

/** The pieces without their lowest-ranked droppable field, or undefined when none is left to drop. */
function withoutLeastUseful(pieces: readonly Piece[]): Piece[] | undefined {
  let least: Piece | undefined;
  for (const piece of pieces) if (piece.drop !== undefined && (least === undefined || piece.drop < least.drop!)) least = piece;
  return least === undefined ? undefined : pieces.filter((piece) => piece !== least);
}

function visibleLength(pieces: readonly Piece[]): number {
  return pieces.reduce((sum, piece) => sum + piece.text.length, 0);
}

/** Join pieces, styling each, cut to `width` visible columns (the text is ASCII plus `·` and `…`). */
function fit(pieces: readonly Piece[], width: number): string {
  let budget = Math.max(0, Math.floor(width));
  let out = '';
  for (const piece of pieces) {
    if (budget <= 0) break;
    let text = piece.text;
    if (text.length > budget) text = `${text.slice(0, budget - 1)}…`;
    budget -= text.length;
    out += piece.style === undefined ? text : piece.style(text);
  }
  return out;
}

/**
 * The live progress line: one line, at most `width` columns (cut with `…`), no newline. The done count
 * is padded to the total's width so the line does not jitter; an unknown total shows as `?` and there is
 * then no ETA. Rates are averages since the start.
 *
 * @example
 * renderProgress(stats, performance.now(), 100, chalk)
 * // → '[ 1,234/5,000 ] 1,200 ok · 30 failed · 4 skipped · 245.0 req/s · 12.3 MB (2.1 MB/s) · ETA 15s'
 */
export function renderProgress(stats: RunStats, now: number, width: number, chalk: ChalkInstance): string {
  const total = stats.total === null ? '?' : formatCount(stats.total);
  const done = formatCount(stats.done).padStart(stats.total === null ? 0 : total.length);
  const counter: Piece = {text: `[ ${done}/${total} ]`, style: chalk.bold};
  const separator: Piece = {text: ' · ', style: chalk.dim};
  // Too wide for the terminal: drop whole fields, least useful first (the ETA and the counts stay),
  // before the rest is cut with an ellipsis.
  let pieces: Piece[] | undefined = statusPieces(stats, now, chalk);
  let line = [counter, {text: ' '}, ...withSeparators(pieces, separator)];
  while (visibleLength(line) > width && (pieces = withoutLeastUseful(pieces)) !== undefined) {
    line = [counter, {text: ' '}, ...withSeparators(pieces, separator)];
  }
  return fit(line, width);
}

/**
 * The plain status line of `--progress` when stderr is not a terminal: the same fields, no colour, no
 * padding, no newline.
 *
 * @example
 * renderPlainStatus(stats, performance.now())
 * // → 'fetchall: progress 1,234/? · 1,200 ok · 30 failed · 4 skipped · 245.0 req/s · 12.3 MB (2.1 MB/s)'
 */
export function renderPlainStatus(stats: RunStats, now: number): string {
  const total = stats.total === null ? '?' : formatCount(stats.total);
  const pieces = [{text: `${formatCount(stats.done)}/${total}`}, ...statusPieces(stats, now, undefined)];
  return `fetchall: progress ${withSeparators(pieces, {text: ' · '}).map((piece) => piece.text).join('')}`;
}

/** The stream the ticker writes to (stderr in the CLI); `columns` sets the line's width on a terminal. */
export type ProgressStream = NodeJS.WritableStream & {isTTY?: boolean; columns?: number};

export interface ProgressTickerOptions {
  readonly stream: ProgressStream;
  readonly stats: RunStats;
  readonly chalk: ChalkInstance;
  /** `tty`: one line redrawn in place; `plain`: a status line per interval; `off`: nothing. */
  readonly mode: 'tty' | 'plain' | 'off';
  /** Defaults: {@link TTY_INTERVAL_MS} for `tty`, {@link PLAIN_INTERVAL_MS} for `plain`. */
  readonly intervalMs?: number;
  /** Clock in ms, for tests; defaults to `performance.now`. */
  readonly now?: () => number;
  /**
   * A terminal that knows no control sequences (`TERM=dumb`: Emacs' shell, some IDE consoles): the
   * line is erased by writing spaces over it, as git does there, instead of with `ESC[K`.
   */
  readonly dumb?: boolean;
}

// What a line takes on screen: its text without colour sequences (the rest is ASCII plus `·` and `…`).
function screenWidth(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/**
 * Draws progress on a stream on a timer that never keeps the process alive (`unref`). In `tty` mode it
 * owns the last line of the terminal: anything else printed to the same stream while it runs must go
 * through {@link ProgressTicker.printAbove}, and {@link ProgressTicker.stop} must be called (it clears the
 * line) before the summary. `start` and `stop` may be called more than once.
 *
 * @example
 * const ticker = new ProgressTicker({stream: process.stderr, stats, chalk, mode: process.stderr.isTTY ? 'tty' : 'off'});
 * ticker.start();
 * for await (const record of fetchAll(entries, options)) {
 *   stats.add(record);
 *   if (verbose) ticker.printAbove(formatVerboseLine(record, chalk));
 * }
 * ticker.stop();
 * for (const line of formatSummary(stats, chalk, performance.now())) process.stderr.write(`${line}\n`);
 */
export class ProgressTicker {
  readonly #stream: ProgressStream;
  readonly #stats: RunStats;
  readonly #chalk: ChalkInstance;
  readonly #mode: 'tty' | 'plain' | 'off';
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** The line now on screen in tty mode; undefined when none is. */
  #drawn: string | undefined;
  readonly #dumb: boolean;

  constructor(options: ProgressTickerOptions) {
    this.#stream = options.stream;
    this.#stats = options.stats;
    this.#chalk = options.chalk;
    this.#mode = options.mode;
    this.#intervalMs = options.intervalMs ?? (options.mode === 'plain' ? PLAIN_INTERVAL_MS : TTY_INTERVAL_MS);
    this.#now = options.now ?? (() => performance.now());
    this.#dumb = options.dumb === true;
  }

  /** Erase the line on screen and return to its start. */
  #erase(): string {
    return this.#dumb ? `\r${' '.repeat(screenWidth(this.#drawn ?? ''))}\r` : CLEAR_LINE;
  }

  /** Whether the timer runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Start the timer; in `tty` mode draw the line at once. Does nothing in `off` mode or when running. */
  start(): void {
    if (this.#mode === 'off' || this.#timer !== undefined) return;
    const tick = this.#mode === 'tty' ? () => this.redraw() : () => this.#printPlain();
    this.#timer = setInterval(tick, this.#intervalMs);
    this.#timer.unref();
    if (this.#mode === 'tty') this.redraw();
  }

  /** Stop the timer and, in `tty` mode, clear the line so the summary starts on a clean line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }

  /** Erase the progress line, if one is drawn (tty mode). The next tick draws it again. */
  clear(): void {
    if (this.#drawn === undefined) return;
    const erase = this.#erase();
    this.#drawn = undefined;
    this.#stream.write(erase);
  }

  /** Draw the line now (tty mode while running); skipped when it would not change. */
  redraw(): void {
    if (this.#mode !== 'tty' || this.#timer === undefined) return;
    const line = this.#render();
    if (line === this.#drawn) return;
    // Spaces over what a longer line before it left (git's way on such a terminal).
    const rest = this.#dumb ? Math.max(0, screenWidth(this.#drawn ?? '') - screenWidth(line)) : 0;
    this.#drawn = line;
    this.#stream.write(this.#dumb ? `\r${line}${' '.repeat(rest)}` : `\r${line}${CLEAR_TO_END}`);
  }

  /**
   * Print one line (given without its newline, already escaped) above the progress line: in tty mode the
   * bar is cleared, the line written and the bar drawn again, in one write; otherwise the line is just
   * written.
   *
   * @example ticker.printAbove(formatVerboseLine(record, chalk))
   */
  printAbove(line: string): void {
    if (this.#mode !== 'tty' || this.#timer === undefined) {
      this.#stream.write(`${line}\n`);
      return;
    }
    const bar = this.#render();
    const erase = this.#erase();
    this.#drawn = bar;
    this.#stream.write(`${erase}${line}\n${bar}`);
  }

  #render(): string {
    // Three columns short of the width: some terminals wrap as soon as the last column is written, and
    // the `^C` a terminal echoes after the line must fit on its row too, or it wraps and the clear
    // before the summary erases only the new row, leaving the line above it. A pseudo-terminal with no
    // size set (`script`, some CI runners) reports 0 columns: assume 80.
    const columns = this.#stream.columns !== undefined && this.#stream.columns > 0 ? this.#stream.columns : 80;
    const width = Math.max(1, columns - 3);
    return renderProgress(this.#stats, this.#now(), width, this.#chalk);
  }

  #printPlain(): void {
    this.#stream.write(`${renderPlainStatus(this.#stats, this.#now())}\n`);
  }
}
