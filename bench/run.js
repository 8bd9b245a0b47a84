// `npm run bench`: fetchall against curl and the other bulk fetchers on the same list, same machine, same
// run, tools interleaved, medians of verified runs. The server is a tuned nginx on loopback (config
// written to a temp dir, started as a child, stopped at the end) so the figures measure the clients.
// bench/README.md says what each workload measures and how to read the table.
import {spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import {createServer, request} from 'node:http';
import {cpus, loadavg, tmpdir} from 'node:os';
import {delimiter, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

const USAGE = `Usage: npm run bench -- [options]

  --quick            fewer requests (W1 2,000, W2 500) and shorter wrk runs: a smoke test, not a figure
  --runs N           measured runs per tool and workload (default 3, at least 3 for a reported figure)
  --workloads LIST   comma-separated: W1,W2 (default both)
  --tools LIST       comma-separated subset: fetchall,curl,wget2,aria2c,xargs-curl,node-fetch,wrk
  --install-peers    apt-get install wget2, aria2 and wrk first (root only); they are skipped when absent
  --keep             keep the temp dir (nginx config, lists) for inspection
  -h, --help         this help

Needs nginx and curl (installed with apt-get when missing and running as root) and a built fetchall
(npm run build). Keep the machine otherwise idle: 2 shared cores make every figure noisy.`;

const {values: opts} = parseArgs({
  options: {
    quick: {type: 'boolean', default: false},
    runs: {type: 'string', default: '3'},
    workloads: {type: 'string', default: 'W1,W2'},
    tools: {type: 'string'},
    'install-peers': {type: 'boolean', default: false},
    keep: {type: 'boolean', default: false},
    help: {type: 'boolean', short: 'h', default: false},
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const RUNS = Number(opts.runs);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) fail(`--runs must be a whole number from 1 to 20, got "${opts.runs}"`);
const WORKLOADS = opts.workloads.split(',').map((w) => w.trim().toUpperCase()).filter(Boolean);
for (const w of WORKLOADS) if (w !== 'W1' && w !== 'W2') fail(`--workloads knows W1 and W2, got "${w}"`);
const ONLY = opts.tools === undefined ? undefined : new Set(opts.tools.split(',').map((t) => t.trim()));

// Workload sizes. W1: many tiny bodies, discarded: per-request overhead. W2: small files: per-file overhead.
const W1 = {id: 'W1', count: opts.quick ? 2_000 : 20_000, size: 1024, concurrency: 32, unit: 'req/s'};
const W2 = {id: 'W2', count: opts.quick ? 500 : 5_000, size: 16 * 1024, concurrency: 16, unit: 'files/s'};
const WRK_SECONDS = opts.quick ? 2 : 4;
const RUN_TIMEOUT_MS = 60_000; // one tool run; a run past this is killed, does not count, and drops the tool
const SPAWN_BUDGET_S = 40; // xargs-curl is skipped when its projected run time (one process per URL) is longer

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'fetchall.js');

function log(line) {
  process.stderr.write(`bench: ${line}\n`);
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** The absolute path of an executable on PATH (plus the sbin folders, where nginx lives), or undefined. */
function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function aptInstall(packages, why) {
  if (process.getuid?.() !== 0 || which('apt-get') === undefined) {
    fail(`${why}: install ${packages.join(' ')} (e.g. sudo apt-get install -y ${packages.join(' ')}) and run again`);
  }
  log(`${why}: apt-get install -y ${packages.join(' ')}`);
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
  spawnSync('apt-get', ['update'], {stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000});
  const r = spawnSync('apt-get', ['install', '-y', ...packages], {stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 600_000});
  if (r.status !== 0) fail(`apt-get install ${packages.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, {encoding: 'utf8', timeout: 10_000});
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? '?';
}

// ---------------------------------------------------------------------------------------------------
// Prerequisites

if (!existsSync(join(root, 'dist', 'cli.js'))) fail('fetchall is not built: run `npm run build` first');
if (which('nginx') === undefined || which('curl') === undefined) aptInstall(['nginx', 'curl'], 'nginx or curl is missing');
if (opts['install-peers']) {
  const missing = [['wget2', 'wget2'], ['aria2c', 'aria2'], ['wrk', 'wrk']].filter(([bin]) => which(bin) === undefined).map(([, pkg]) => pkg);
  if (missing.length > 0) aptInstall(missing, '--install-peers');
}
const NGINX = which('nginx');
const CURL = which('curl');

// ---------------------------------------------------------------------------------------------------
// The server: nginx on 127.0.0.1, one worker, no access log, keep-alive for the whole run.

const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fetchall-bench-'));
const www = join(work, 'www');
mkdirSync(www);
mkdirSync(join(work, 'temp'));
// nginx's worker may run as an unprivileged user: it must be able to read the document root.
chmodSync(work, 0o755);
const bodies = {W1: randomBytes(W1.size), W2: randomBytes(W2.size)};
writeFileSync(join(www, '1k.bin'), bodies.W1);
writeFileSync(join(www, '16k.bin'), bodies.W2);
const digests = {W1: sha256(bodies.W1), W2: sha256(bodies.W2)};

function randomBytes(n) {
  // Deterministic filler: no dependency on /dev/urandom speed, same bytes every run.
  const buf = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const t = (name) => join(work, 'temp', name);
// Every path under /w1/ and /w2/ answers with the same static file: distinct URLs, no per-URL file I/O.
const conf = `worker_processes 1;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  open_file_cache max=16 inactive=600s;
  default_type application/octet-stream;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
    location = /nginx-status { stub_status; }
    location /w1/ { try_files /1k.bin =404; }
    location /w2/ { try_files /16k.bin =404; }
  }
}
`;
writeFileSync(join(work, 'nginx.conf'), conf);

let nginx;
let current; // the tool run in flight, killed on Ctrl-C
let cleaned = false;

/** Kill a run's whole process group (sh, the tool, and anything it spawned: xargs's curls). */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function nginxWorkers() {
  try {
    return readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (current !== undefined) killGroup(current);
  if (nginx !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
    // SIGKILL on the master alone would orphan its worker: kill the worker first.
    for (const pid of nginxWorkers()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    nginx.kill('SIGKILL');
  }
  if (!opts.keep) rmSync(work, {recursive: true, force: true});
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function get(path) {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, {agent: false, timeout: 2000}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({status: res.statusCode, body}));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** nginx's count of requests served so far (stub_status); this request itself included. */
async function served() {
  const {body} = await get('/nginx-status');
  const m = /\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n/.exec(body);
  if (m === null) throw new Error(`unexpected stub_status answer: ${body}`);
  return Number(m[3]);
}

/** CPU seconds used so far by nginx's worker (from /proc), or NaN where /proc is not there. */
function nginxCpu() {
  try {
    let ticks = 0;
    for (const pid of nginxWorkers()) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    }
    return ticks / 100;
  } catch {
    return Number.NaN;
  }
}

async function startNginx() {
  nginx = spawn(NGINX, ['-p', work, '-c', join(work, 'nginx.conf'), '-e', join(work, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    if (nginx.exitCode !== null) break;
    try {
      if ((await get('/nginx-status')).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const errors = existsSync(join(work, 'error.log')) ? readFileSync(join(work, 'error.log'), 'utf8') : '';
  fail(`nginx did not start on ${origin}:\n${errors}`);
}

async function stopNginx() {
  if (nginx === undefined || nginx.exitCode !== null) return;
  const exited = new Promise((resolve) => nginx.once('exit', resolve));
  nginx.kill('SIGQUIT'); // graceful: finish, then exit
  const timer = setTimeout(() => nginx.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------
// Lists: the same URLs for every tool, in the form each one reads.

function writeLists(w) {
  const prefix = join(work, w.id.toLowerCase());
  const names = Array.from({length: w.count}, (_, i) => `${String(i + 1).padStart(5, '0')}.bin`);
  const urls = names.map((n) => `${origin}/${w.id.toLowerCase()}/${n}`);
  writeFileSync(`${prefix}.txt`, urls.join('\n') + '\n');
  // curl: one url/output pair per transfer; W1 discards to /dev/null, W2 names files under --output-dir.
  const curlConf = w.id === 'W1'
    ? urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join('')
    : urls.map((u, i) => `url = "${u}"\noutput = "${names[i]}"\n`).join('');
  writeFileSync(`${prefix}.curl`, curlConf);
  // wrk: a Lua script walking the same paths.
  writeFileSync(`${prefix}.lua`, `local i = 0
request = function()
  i = i % ${w.count} + 1
  return wrk.format("GET", string.format("/${w.id.toLowerCase()}/%05d.bin", i))
end
`);
  return {list: `${prefix}.txt`, curlConf: `${prefix}.curl`, lua: `${prefix}.lua`};
}

// The naive baseline: what a first Node script does (Node's bundled fetch, a pool of async workers).
const NAIVE_POOL = `
import {readFileSync, writeFileSync} from 'node:fs';
const [list, c, dir] = process.argv.slice(1);
const urls = readFileSync(list, 'utf8').split('\\n').filter(Boolean);
let next = 0, failed = 0;
async function worker() {
  while (next < urls.length) {
    const url = urls[next++];
    try {
      const res = await fetch(url);
      const body = Buffer.from(await res.arrayBuffer());
      if (!res.ok) failed++;
      else if (dir) writeFileSync(dir + '/' + url.slice(url.lastIndexOf('/') + 1), body);
    } catch { failed++; }
  }
}
await Promise.all(Array.from({length: Number(c)}, worker));
process.exit(failed === 0 ? 0 : 1);
`;

/**
 * The tools. Each gives, for a workload, the command (argv), where stdout goes, and its working folder.
 * `files`: whether it writes files under `dir` (then verified one by one).
 */
function toolsFor(w, lists) {
  const c = String(w.concurrency);
  const toFiles = w.id === 'W2';
  const tools = [
    {
      name: 'fetchall',
      label: toFiles ? `fetchall -c ${c} -o` : `fetchall -c ${c} > /dev/null`,
      available: true,
      files: toFiles,
      argv: (dir) => toFiles
        ? [process.execPath, cli, '-c', c, '-q', '-o', dir, lists.list]
        : [process.execPath, cli, '-c', c, '-q', lists.list],
    },
    {
      name: 'curl',
      label: `curl -Z --parallel-max ${c}`,
      available: true,
      files: toFiles,
      argv: (dir) => toFiles
        ? [CURL, '-Z', '--parallel-max', c, '-s', '-S', '--fail', '--output-dir', dir, '--config', lists.curlConf]
        : [CURL, '-Z', '--parallel-max', c, '-s', '-S', '--fail', '--config', lists.curlConf],
    },
    {
      name: 'wget2',
      label: `wget2 --max-threads=${c}`,
      available: which('wget2') !== undefined,
      files: toFiles,
      argv: (dir) => toFiles
        ? [which('wget2'), '-q', `--max-threads=${c}`, '--no-directories', '-P', dir, '-i', lists.list]
        : [which('wget2'), '-q', `--max-threads=${c}`, '-O', '/dev/null', '-i', lists.list],
    },
    {
      name: 'aria2c',
      // aria2c cannot discard bodies: in W1 it writes them to tmpfs, which costs it a little.
      label: toFiles ? `aria2c -j ${c}` : `aria2c -j ${c} (to tmpfs)`,
      available: which('aria2c') !== undefined,
      files: true,
      argv: (dir) => [which('aria2c'), '-q', '-j', c, '-d', dir, '-i', lists.list, '--file-allocation=none',
        '--allow-overwrite=true', '--auto-file-renaming=false', '--console-log-level=error', '--summary-interval=0',
        '--max-connection-per-server=1', '--split=1', '--conditional-get=false', '--remote-time=false', '--check-certificate=false'],
    },
    {
      name: 'xargs-curl',
      label: `xargs -P ${c} curl`,
      available: which('xargs') !== undefined,
      files: toFiles,
      stdin: lists.list,
      cwd: toFiles, // curl -O writes into the working folder
      argv: () => toFiles
        ? [which('xargs'), '-P', c, '-n', '1', CURL, '-s', '-S', '--fail', '-O']
        : [which('xargs'), '-P', c, '-n', '1', CURL, '-s', '-S', '--fail', '-o', '/dev/null'],
    },
    {
      name: 'node-fetch',
      label: `naive Node fetch pool (${c})`,
      available: true,
      files: toFiles,
      argv: (dir) => [process.execPath, '--input-type=module', '-e', NAIVE_POOL, lists.list, c, ...(toFiles ? [dir] : [])],
    },
  ];
  return tools.filter((tool) => tool.available && (ONLY === undefined || ONLY.has(tool.name)));
}

// ---------------------------------------------------------------------------------------------------
// One measured run: spawn under `sh -c '…; times'` so the tool's own CPU time (children included) comes
// back on fd 3; wall time from spawn to exit; then verify.

function parseTimes(text) {
  // POSIX `times`: line 1 the shell, line 2 its children: "0m1.230000s 0m0.450000s".
  const line = text.trim().split('\n')[1] ?? '';
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return secs.length === 2 ? secs[0] + secs[1] : Number.NaN;
}

async function runOnce(tool, w, dir) {
  if (tool.files) mkdirSync(dir, {recursive: true});
  const argv = tool.argv(dir);
  const stdin = tool.stdin === undefined ? 'ignore' : openSync(tool.stdin, 'r');
  const stdout = openSync('/dev/null', 'w');
  const before = await served();
  const cpu0 = nginxCpu();
  const start = process.hrtime.bigint();
  const child = spawn('/bin/sh', ['-c', '"$@"; rc=$?; times >&3; exit $rc', 'sh', ...argv], {
    stdio: [stdin, stdout, 'pipe', 'pipe'],
    cwd: tool.cwd ? dir : work,
    detached: true, // its own process group, so a timeout or Ctrl-C kills the tool and its children too
  });
  current = child;
  let stderr = '';
  let times = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (stderr.length < 4000) stderr += d;
  });
  child.stdio[3].setEncoding('utf8').on('data', (d) => (times += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, RUN_TIMEOUT_MS);
  const code = await new Promise((resolve) => child.once('close', (c, s) => resolve(c ?? s)));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  clearTimeout(timer);
  current = undefined;
  if (typeof stdin === 'number') closeSync(stdin);
  closeSync(stdout);
  const serverCpu = nginxCpu() - cpu0;
  const requests = (await served()) - before - 1;
  const problems = [];
  if (timedOut) problems.push(`killed after ${RUN_TIMEOUT_MS / 1000} s`);
  else if (code !== 0) problems.push(`exit ${code}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`);
  if (requests !== w.count) problems.push(`nginx served ${requests} requests, expected ${w.count}`);
  if (tool.files) problems.push(...verifyFiles(dir, w));
  if (tool.files) rmSync(dir, {recursive: true, force: true});
  return {ok: problems.length === 0, problems, timedOut, wall, rate: w.count / wall, cpuPerReq: parseTimes(times) / w.count, serverCpu: serverCpu / wall};
}

/** Every file there, the right size and the right bytes; returns the problems found. */
function verifyFiles(dir, w) {
  const problems = [];
  let entries;
  try {
    entries = readdirSync(dir).filter((n) => !n.endsWith('.aria2'));
  } catch (error) {
    return [`cannot read ${dir}: ${error.message}`];
  }
  if (entries.length !== w.count) problems.push(`${entries.length} files, expected ${w.count}`);
  let bad = 0;
  for (const name of entries) {
    const body = readFileSync(join(dir, name));
    if (body.length !== w.size || sha256(body) !== digests[w.id]) bad++;
  }
  if (bad > 0) problems.push(`${bad} files with the wrong size or bytes`);
  return problems;
}

/** Time xargs-curl on the first 100 URLs (not measured) and project the whole list's run time. */
async function projectXargs(tool, w, lists) {
  const sample = Math.min(100, w.count);
  const path = join(work, 'xargs-sample.txt');
  writeFileSync(path, readFileSync(lists.list, 'utf8').split('\n').slice(0, sample).join('\n') + '\n');
  const dir = join(work, 'xargs-sample');
  mkdirSync(dir, {recursive: true});
  const argv = tool.argv(dir);
  const stdin = openSync(path, 'r');
  const start = process.hrtime.bigint();
  spawnSync(argv[0], argv.slice(1), {stdio: [stdin, 'ignore', 'ignore'], cwd: dir, timeout: 30_000});
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(stdin);
  rmSync(dir, {recursive: true, force: true});
  return (wall * w.count) / sample;
}

async function runWrk(w, lists) {
  const wrk = which('wrk');
  const r = await new Promise((resolve) => {
    const child = spawn(wrk, ['-t2', `-c${w.concurrency}`, `-d${WRK_SECONDS}s`, '-s', lists.lua, `${origin}/`], {stdio: ['ignore', 'pipe', 'pipe'], detached: true});
    current = child;
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    const timer = setTimeout(() => killGroup(child), (WRK_SECONDS + 30) * 1000);
    child.once('close', (code) => {
      clearTimeout(timer);
      current = undefined;
      resolve({code, out});
    });
  });
  const rate = Number(/Requests\/sec:\s*([\d.]+)/.exec(r.out)?.[1]);
  const problems = [];
  if (r.code !== 0 || !Number.isFinite(rate)) problems.push(`exit ${r.code}: ${r.out.trim().split('\n').pop()}`);
  if (/Non-2xx|Socket errors/.test(r.out)) problems.push(r.out.match(/(Non-2xx.*|Socket errors.*)/)[0]);
  return {ok: problems.length === 0, problems, wall: WRK_SECONDS, rate, cpuPerReq: Number.NaN, serverCpu: Number.NaN};
}

// ---------------------------------------------------------------------------------------------------
// The run

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

const load0 = loadavg()[0];
const commit = spawnSync('git', ['-C', root, 'describe', '--always', '--dirty'], {encoding: 'utf8'}).stdout?.trim() || '?';
const env = [
  `fetchall ${versionOf(process.execPath, [cli, '--version'])} (${commit}) on Node ${process.version}`,
  versionOf(CURL, ['--version']).split(' ').slice(0, 2).join(' '),
  versionOf(NGINX, ['-v']).replace('nginx version: ', ''),
  ...['wget2', 'aria2c', 'wrk'].filter((b) => which(b) !== undefined)
    .map((b) => `${b} ${/\d+\.\d+(\.\d+)?/.exec(versionOf(which(b), ['--version']))?.[0] ?? '?'}`),
  `${cpus().length} CPUs`,
];
log(env.join(' · '));
await startNginx();
log(`nginx on ${origin}, files under ${work}`);
if (load0 > 1) log(`load average is ${load0.toFixed(2)} before starting: other work shares these cores, figures will be noisy`);

const results = []; // {workload, tool, label, runs: [...]}
for (const w of [W1, W2].filter((x) => WORKLOADS.includes(x.id))) {
  const lists = writeLists(w);
  const tools = toolsFor(w, lists);
  // Warm-up, not measured: nginx's file cache, the page cache, the loopback path.
  spawnSync(CURL, ['-Z', '--parallel-max', '8', '-s', '--config', lists.curlConf, ...(w.id === 'W2' ? ['--output-dir', join(work, 'warm')] : []), '--create-dirs'], {timeout: 60_000});
  rmSync(join(work, 'warm'), {recursive: true, force: true});
  const rows = tools.map((tool) => ({workload: w, tool: tool.name, label: tool.label, runs: [], dropped: undefined}));
  const xargs = rows.find((r) => r.tool === 'xargs-curl');
  if (xargs !== undefined) {
    // One process per URL: where spawning is slow (a loaded or sandboxed box) it would take minutes.
    const projected = await projectXargs(tools.find((x) => x.name === 'xargs-curl'), w, lists);
    if (projected > SPAWN_BUDGET_S) {
      xargs.dropped = `skipped: ${Math.round(projected)} s projected for one run (process spawn cost here)`;
      log(`  ${w.id} xargs-curl ${xargs.dropped}`);
    }
  }
  const wrkRow = which('wrk') !== undefined && w.id === 'W1' && (ONLY === undefined || ONLY.has('wrk'))
    ? {workload: w, tool: 'wrk', label: `wrk -t2 -c${w.concurrency} (ceiling)`, runs: []}
    : undefined;
  log(`${w.id}: ${w.count.toLocaleString('en-US')} × ${w.size / 1024} KiB, -c ${w.concurrency}, ${RUNS} runs of ${rows.length + (wrkRow ? 1 : 0)} tools, interleaved`);
  for (let round = 0; round < RUNS; round++) {
    // Rotate the order each round so no tool always runs right after the same neighbour.
    const order = rows.map((_, i) => (i + round) % rows.length);
    for (const i of order) {
      const row = rows[i];
      const tool = tools[i];
      if (row.dropped !== undefined) continue;
      const r = await runOnce(tool, w, join(work, 'out', `${w.id}-${tool.name}-${round}`));
      row.runs.push(r);
      if (r.timedOut) row.dropped = `killed after ${RUN_TIMEOUT_MS / 1000} s`;
      log(`  ${w.id} ${tool.name.padEnd(10)} run ${round + 1}: ${fmt(r.rate)} ${w.unit} in ${r.wall.toFixed(2)}s`
        + `${Number.isFinite(r.cpuPerReq) ? `, ${Math.round(r.cpuPerReq * 1e6)} µs CPU/req` : ''}`
        + `${Number.isFinite(r.serverCpu) ? `, nginx ${Math.round(r.serverCpu * 100)}% CPU` : ''}`
        + `${r.ok ? '' : `  NOT COUNTED: ${r.problems.join('; ')}`}`);
    }
    if (wrkRow !== undefined) {
      const r = await runWrk(w, lists);
      wrkRow.runs.push(r);
      log(`  ${w.id} wrk        run ${round + 1}: ${fmt(r.rate)} req/s${r.ok ? '' : `  NOT COUNTED: ${r.problems.join('; ')}`}`);
    }
  }
  results.push(...rows, ...(wrkRow ? [wrkRow] : []));
}
await stopNginx();
const load1 = loadavg()[0];

// ---------------------------------------------------------------------------------------------------
// The table

const table = [['workload', 'tool', 'median', 'unit', 'min–max', 'ok runs', 'client CPU/req', 'nginx CPU', 'fetchall ÷ tool']];
for (const w of [W1, W2]) {
  const rows = results.filter((r) => r.workload === w);
  if (rows.length === 0) continue;
  const stat = (row) => {
    const ok = row.runs.filter((r) => r.ok);
    return {
      ok,
      median: median(ok.map((r) => r.rate)),
      min: Math.min(...ok.map((r) => r.rate)),
      max: Math.max(...ok.map((r) => r.rate)),
      cpu: median(ok.map((r) => r.cpuPerReq).filter(Number.isFinite)),
      server: median(ok.map((r) => r.serverCpu).filter(Number.isFinite)),
    };
  };
  const ours = stat(rows.find((r) => r.tool === 'fetchall') ?? {runs: []});
  const what = `${w.id} ${w.count.toLocaleString('en-US')} × ${w.size / 1024} KiB${w.id === 'W2' ? ' to files' : ''}`;
  for (const row of rows) {
    const s = stat(row);
    const ratio = row.tool === 'fetchall' ? '—' : Number.isFinite(ours.median) && Number.isFinite(s.median) ? `${(ours.median / s.median).toFixed(2)}×` : 'n/a';
    table.push([
      what,
      row.label,
      s.ok.length > 0 ? fmt(s.median) : row.dropped?.startsWith('skipped') ? 'skipped' : 'failed',
      w.unit,
      s.ok.length > 0 ? `${fmt(s.min)}–${fmt(s.max)}` : '—',
      `${s.ok.length}/${row.runs.length}`,
      Number.isFinite(s.cpu) ? `${Math.round(s.cpu * 1e6)} µs` : '—',
      Number.isFinite(s.server) ? `${Math.round(s.server * 100)}%` : '—',
      ratio,
    ]);
  }
}
const widths = table[0].map((_, c) => Math.max(...table.map((r) => [...r[c]].length)));
const right = new Set([2, 4, 5, 6, 7, 8]);
const line = (r) => '| ' + r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ') + ' |';
const out = [line(table[0]), '|' + widths.map((wd, c) => (right.has(c) ? '-'.repeat(wd + 1) + ':' : '-'.repeat(wd + 2))).join('|') + '|', ...table.slice(1).map(line)];
console.log('');
console.log(out.join('\n'));
console.log('');
console.log(`${env.join(' · ')}; load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after.`);
console.log(`Medians of verified runs (exit 0, nginx request count, and for files every size and SHA-256); tools interleaved.`);
const failedRuns = results.flatMap((r) => r.runs.filter((x) => !x.ok).map((x) => `${r.workload.id} ${r.tool}: ${x.problems.join('; ')}`));
for (const r of results) if (r.dropped !== undefined) console.log(`${r.workload.id} ${r.tool}: ${r.dropped}.`);
if (failedRuns.length > 0) {
  console.log(`Runs not counted (${failedRuns.length}):`);
  for (const f of failedRuns.slice(0, 20)) console.log(`  ${f}`);
}
if (opts.keep) console.log(`Kept: ${work}`);
const oursMissing = results.some((r) => r.tool === 'fetchall' && r.runs.every((x) => !x.ok));
process.exitCode = oursMissing ? 1 : 0;
