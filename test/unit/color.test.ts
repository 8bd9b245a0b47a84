// The contract's colour rule, case by case.
import {describe, expect, test} from 'vitest';
import {colorLevel, makeChalk} from '../../src/report/color.js';

type Env = Record<string, string | undefined>;

describe('colorLevel', () => {
  test.each<[string, boolean, Env, boolean, 0 | 1 | 2 | 3]>([
    // --no-color beats everything
    ['--no-color on a terminal', true, {}, true, 0],
    ['--no-color beats FORCE_COLOR', true, {FORCE_COLOR: '3'}, true, 0],
    // FORCE_COLOR
    ['FORCE_COLOR=1 off a terminal', false, {FORCE_COLOR: '1'}, false, 1],
    ['FORCE_COLOR=true', false, {FORCE_COLOR: 'true'}, false, 1],
    ['FORCE_COLOR empty', false, {FORCE_COLOR: ''}, false, 1],
    ['FORCE_COLOR=2', false, {FORCE_COLOR: '2'}, false, 2],
    ['FORCE_COLOR=3', false, {FORCE_COLOR: '3'}, false, 3],
    ['FORCE_COLOR=0 on a terminal', false, {FORCE_COLOR: '0'}, true, 0],
    ['FORCE_COLOR=false on a terminal', false, {FORCE_COLOR: 'false'}, true, 0],
    ['FORCE_COLOR=FALSE on a terminal', false, {FORCE_COLOR: 'FALSE'}, true, 0],
    ['FORCE_COLOR beats NO_COLOR', false, {FORCE_COLOR: '1', NO_COLOR: '1'}, false, 1],
    ['FORCE_COLOR=0 beats a terminal and COLORTERM', false, {FORCE_COLOR: '0', COLORTERM: 'truecolor'}, true, 0],
    // NO_COLOR
    ['NO_COLOR on a terminal', false, {NO_COLOR: '1'}, true, 0],
    ['NO_COLOR=0 still turns it off (non-empty)', false, {NO_COLOR: '0'}, true, 0],
    ['NO_COLOR empty is ignored', false, {NO_COLOR: ''}, true, 1],
    // terminal or not
    ['terminal, plain TERM', false, {TERM: 'xterm'}, true, 1],
    ['terminal, no TERM', false, {}, true, 1],
    ['terminal, TERM 256color', false, {TERM: 'xterm-256color'}, true, 2],
    ['terminal, COLORTERM 256color', false, {COLORTERM: 'rxvt-256color'}, true, 2],
    ['terminal, COLORTERM truecolor', false, {COLORTERM: 'truecolor', TERM: 'xterm-256color'}, true, 3],
    ['terminal, COLORTERM 24bit', false, {COLORTERM: '24bit'}, true, 3],
    ['not a terminal', false, {TERM: 'xterm-256color', COLORTERM: 'truecolor'}, false, 0],
    ['not a terminal, nothing set', false, {}, false, 0],
  ])('%s', (_name, noColorFlag, env, isTTY, expected) => {
    expect(colorLevel({noColorFlag, env, isTTY})).toBe(expected);
  });
});

describe('makeChalk', () => {
  test('pins the level whatever the environment says', () => {
    expect(makeChalk(0).red('x')).toBe('x');
    expect(makeChalk(1).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(makeChalk(3).level).toBe(3);
  });
});
