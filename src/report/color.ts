// The contract's colour rule, decided once; chalk's own detection does not follow it.
import {Chalk, type ChalkInstance} from 'chalk';

/** A chalk colour level: 0 off, 1 basic 16 colours, 2 256 colours, 3 truecolor. */
export type ColorLevel = 0 | 1 | 2 | 3;

export interface ColorLevelInput {
  /** `--no-color` was given. */
  readonly noColorFlag: boolean;
  /** The environment (`process.env` in the CLI). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stderr, where all colour goes, is a terminal. */
  readonly isTTY: boolean;
}

/**
 * Decide the colour level by the contract's rule, in this order:
 * 1. `--no-color` → 0.
 * 2. `FORCE_COLOR` set: `0` or `false` (any case) → 0; `2` or `3` → that level; anything else, the empty
 *    string included → 1.
 * 3. A non-empty `NO_COLOR` → 0.
 * 4. stderr a terminal → on: 3 when `COLORTERM` is `truecolor` or `24bit`, 2 when `COLORTERM` or `TERM`
 *    mentions `256color`, else 1. Not a terminal → 0.
 *
 * `TERM=dumb` is not special-cased: the contract says colour is on whenever stderr is a terminal.
 *
 * @example
 * colorLevel({noColorFlag: false, env: {NO_COLOR: '1'}, isTTY: true})       // → 0
 * colorLevel({noColorFlag: false, env: {FORCE_COLOR: '1'}, isTTY: false})   // → 1
 * colorLevel({noColorFlag: false, env: {TERM: 'xterm-256color'}, isTTY: true}) // → 2
 */
export function colorLevel(opts: ColorLevelInput): ColorLevel {
  if (opts.noColorFlag) return 0;
  const force = opts.env['FORCE_COLOR'];
  if (force !== undefined) {
    const value = force.trim().toLowerCase();
    if (value === '0' || value === 'false') return 0;
    if (value === '2') return 2;
    if (value === '3') return 3;
    return 1;
  }
  const noColor = opts.env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return 0;
  if (!opts.isTTY) return 0;
  const colorterm = (opts.env['COLORTERM'] ?? '').toLowerCase();
  if (colorterm === 'truecolor' || colorterm === '24bit') return 3;
  const term = (opts.env['TERM'] ?? '').toLowerCase();
  if (colorterm.includes('256color') || term.includes('256color')) return 2;
  return 1;
}

/**
 * A chalk instance pinned to `level`, whatever chalk would have detected.
 *
 * @example
 * const chalk = makeChalk(colorLevel({noColorFlag: false, env: process.env, isTTY: process.stderr.isTTY}));
 * chalk.red('failed') // → '\x1b[31mfailed\x1b[39m' at level ≥ 1, 'failed' at 0
 */
export function makeChalk(level: ColorLevel): ChalkInstance {
  return new Chalk({level});
}
