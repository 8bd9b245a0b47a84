// `npm run demo`: fetchall at work with no network. Serves a small local site (demo/site.js), writes its
// URL list to a temp folder, runs the built CLI on it with progress, then checks the report against what
// the site was built to do: every page saved, and exactly the deliberate failures failed.
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {startSite} from './site.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'fetchall.js');

function say(line) {
  process.stderr.write(`demo: ${line}\n`);
}

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  say('fetchall is not built yet: run `npm run build` (or `npm install`), then `npm run demo` again.');
  process.exit(2);
}

/** Count regular files under dir, recursively. */
function countFiles(dir) {
  let n = 0;
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (entry.isDirectory()) n += countFiles(join(dir, entry.name));
    else if (entry.isFile()) n++;
  }
  return n;
}

/** Compare the report with the outcomes the site was built to produce; returns a list of problems. */
function check(reportPath, outDir, expect) {
  const problems = [];
  const records = readFileSync(reportPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  if (records.length !== expect.length) problems.push(`${records.length} records in the report, expected ${expect.length}`);
  const byIndex = new Map(records.map((r) => [r.index, r]));
  expect.forEach(({url, outcome}, i) => {
    const r = byIndex.get(i + 1);
    if (r === undefined) return void problems.push(`no record for entry ${i + 1} (${url})`);
    const got = r.ok ? 'ok' : r.error?.code;
    if (r.url !== url || got !== outcome) problems.push(`entry ${i + 1} ${url}: expected ${outcome}, got ${got}`);
    if (r.ok && (r.file === null || !existsSync(r.file) || statSync(r.file).size !== r.bytes)) {
      problems.push(`entry ${i + 1} ${url}: file ${r.file} missing or not ${r.bytes} bytes`);
    }
  });
  const okCount = expect.filter((e) => e.outcome === 'ok').length;
  const files = existsSync(outDir) ? countFiles(outDir) : 0;
  if (files !== okCount) problems.push(`${files} files in ${outDir}, expected ${okCount}`);
  return {problems, records};
}

const work = mkdtempSync(join(tmpdir(), 'fetchall-demo-'));
const listPath = join(work, 'demo-urls.txt');
const outDir = join(work, 'demo-out');
const reportPath = join(work, 'demo-report.jsonl');

const site = await startSite();
writeFileSync(listPath, site.list);
const failures = site.expect.filter((e) => e.outcome !== 'ok');
say(`serving ${site.expect.length} URLs on ${site.origin} (${failures.length} fail on purpose: 404s, 500s, a dropped connection; a few answer slowly)`);
const args = [cli, listPath, '-c', '8', '-o', outDir, '--report', reportPath, '--progress'];
say(`running: fetchall ${args.slice(1).join(' ')}\n`);

const child = spawn(process.execPath, args, {stdio: 'inherit'});
// Ctrl-C reaches the child too (same process group): let it clean up, then close the site and leave.
let interrupted = false;
const onSignal = (signal) => {
  interrupted = true;
  child.kill(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Bounded: the demo is built to end in seconds; a run past a minute is a bug, not a slow network.
const guard = setTimeout(() => {
  say('fetchall is still running after 60 s; stopping it');
  child.kill('SIGTERM');
}, 60_000);
const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])));
clearTimeout(guard);
await site.close();

process.stderr.write('\n');
if (interrupted || signal !== null) {
  say(`interrupted (fetchall exit ${code ?? signal}); partial results in ${work}`);
  process.exit(130);
}
const {problems, records} = existsSync(reportPath) ? check(reportPath, outDir, site.expect) : {problems: ['no report was written'], records: []};
const okCount = records.filter((r) => r.ok).length;
if (code === 1 && problems.length === 0) {
  say(`fetchall exited 1, as expected: the ${failures.length} deliberate failures (${summarize(records)}) failed, every other URL succeeded.`);
} else {
  if (code !== 1) problems.unshift(`fetchall exited ${code}, expected 1 (the deliberate failures)`);
}
say(`files:  ${outDir}  (${okCount} saved)`);
say(`report: ${reportPath}`);
say(`        e.g. jq -c 'select(.ok|not) | {url, status, error: .error.code}' ${reportPath}`);
say(`list:   ${listPath}  (the site is gone now; the list is there to read)`);
if (problems.length > 0) {
  say('the run did NOT behave as designed:');
  for (const p of problems.slice(0, 20)) say(`  - ${p}`);
  process.exit(1);
}
say('the run behaved as designed.');

function summarize(recs) {
  const counts = new Map();
  for (const r of recs) {
    if (r.ok) continue;
    const key = r.error.code === 'http_status' ? String(r.status) : r.error.code;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}
