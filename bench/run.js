// `npm run bench`: fetchall against curl and the other bulk fetchers on the same list, same machine, same
// run, tools interleaved, medians of verified runs. The server is a tuned nginx on loopback (config
// written to a temp dir, started as a child, stopped at the end) so the figures measure the clients.
// bench/README.md says what each workload measures and how to read the table.
import {spawn, spawnSync} from 'node:child_process';
import {createCipheriv, createHash} from 'node:crypto';
import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statfsSync, statSync,
  writeFileSync, writeSync,
} from 'node:fs';
import {createServer, request} from 'node:http';
import {cpus, loadavg, tmpdir} from 'node:os';
import {delimiter, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

const USAGE = `Usage: npm run bench -- [options]

  --quick            smaller workloads (W1 2,000, W2 500, W3 8 × 32 MiB, W4 100,000 vs 10,000 lines) and
                     shorter wrk runs: a smoke test of the harness, not a figure
  --runs N           measured runs per tool and workload (default 3, at least 3 for a reported figure;
                     W3 always does at least 5)
  --workloads LIST   comma-separated: W1,W2,W3,W4,startup, or all (default W1,W2,startup: a few
                     minutes; W3 adds ~3 min, W4 ~4 min)
  --tools LIST       comma-separated subset: fetchall,curl,wget2,aria2c,xargs-curl,node-fetch,node-floor,
                     undici-floor,wrk,ceiling (wrk is W1's ceiling, ceiling W3's one curl -o /dev/null;
                     node-floor and undici-floor what Node and undici cost alone: not peers; start-up
                     ignores --tools)
  --install-peers    apt-get install wget2, aria2 and wrk first (root only); they are skipped when absent
  --keep             keep the temp dir (nginx config, lists) for inspection
  -h, --help         this help

Needs nginx and curl (installed with apt-get when missing and running as root) and a built fetchall
(npm run build). Keep the machine otherwise idle: 2 shared cores make every figure noisy.`;

const {values: opts} = parseArgs({
  options: {
    quick: {type: 'boolean', default: false},
    runs: {type: 'string', default: '3'},
    workloads: {type: 'string', default: 'W1,W2,startup'},
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
const KNOWN = ['W1', 'W2', 'W3', 'W4', 'startup'];
const WORKLOADS = opts.workloads.split(',').map((w) => w.trim()).filter(Boolean)
  .flatMap((w) => (w.toLowerCase() === 'all' ? KNOWN : [w.toLowerCase() === 'startup' ? 'startup' : w.toUpperCase()]));
for (const w of WORKLOADS) if (!KNOWN.includes(w)) fail(`--workloads knows ${KNOWN.join(', ')} and all, got "${w}"`);
const ONLY = opts.tools === undefined ? undefined : new Set(opts.tools.split(',').map((t) => t.trim()));

// Workload sizes. W1: many tiny bodies, discarded: per-request overhead. W2: small files: per-file overhead.
// W3: large files: bytes per second and memory under backpressure. W4: a long list: memory against list
// length. start-up: process start to exit on `--version`. `timeout`: one tool run past this is killed,
// does not count, and drops the tool from the workload.
const MiB = 1024 * 1024;
const W1 = {id: 'W1', count: opts.quick ? 2_000 : 20_000, size: 1024, concurrency: 32, unit: 'req/s', runs: RUNS, timeout: 60_000};
const W2 = {id: 'W2', count: opts.quick ? 500 : 5_000, size: 16 * 1024, concurrency: 16, unit: 'files/s', runs: RUNS, timeout: 60_000};
// W3: curl's own spread over runs is ~3× here, so at least 5 runs. The size may shrink to fit /dev/shm.
const W3 = {id: 'W3', count: 8, size: (opts.quick ? 32 : 256) * MiB, concurrency: 4, unit: 'MB/s', runs: Math.max(RUNS, 5), timeout: 60_000};
// W4: one run per tool and list length; peak RSS is the figure, so the bound is generous.
const W4 = {id: 'W4', count: opts.quick ? 100_000 : 1_000_000, small: opts.quick ? 10_000 : 100_000, size: 2, concurrency: 32,
  unit: 'MiB', runs: 1, timeout: 180_000};
const STARTUP = {id: 'startup', unit: 'ms', runs: opts.quick ? 10 : 20};
const WRK_SECONDS = opts.quick ? 2 : 4;
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
// GNU time's -f %M (peak RSS in KiB) where it is there; without it the peak RSS column stays empty.
const TIME = ['/usr/bin/time'].find((path) => /^\d+\s*$/.test(spawnSync(path, ['-f', '%M', 'true'], {encoding: 'utf8'}).stderr ?? ''));

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

const chunk = Buffer.allocUnsafe(8 * MiB);

/** SHA-256 and size of a file, read in 8 MiB chunks (W3's files are never held in memory whole). */
function fileDigest(path) {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return {size, digest: hash.digest('hex')};
}

/** A file of `bytes` incompressible, deterministic bytes (AES-128-CTR keystream, ~600 MB/s), written in chunks. */
function generateFile(path, bytes, seed) {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < bytes; done += zeros.length) {
      writeSync(fd, cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - done))));
    }
  } finally {
    closeSync(fd);
  }
}

/** Bytes that can still be written under `path`; on tmpfs also bounded by the RAM the kernel has left. */
function spaceFor(path) {
  let free = Number.POSITIVE_INFINITY;
  try {
    const s = statfsSync(path);
    free = s.bavail * s.bsize;
  } catch {
    // no statfs: rely on /proc/meminfo alone
  }
  if (path.startsWith('/dev/shm')) {
    const kib = /MemAvailable:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    if (kib !== undefined) free = Math.min(free, Number(kib) * 1024);
  }
  return free;
}

const size = (bytes) => (bytes >= 1024 * MiB ? `${bytes / 1024 / MiB} GiB` : bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`);

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
// Every path under /w1/, /w2/ and /w3/ answers with the same static file: distinct URLs, no per-URL file
// I/O. /ceiling.bin is W3's one large file (count × size); /w4/ answers "ok" from the config.
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
    location /w3/ { try_files /w3.bin =404; }
    location = /ceiling.bin { }
    location /w4/ { return 200 "ok"; }
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

/** Bodies discarded (W1, W4) rather than written to files (W2, W3). */
const discards = (w) => w.id === 'W1' || w.id === 'W4';

function writeLists(w, count = w.count) {
  const prefix = join(work, `${w.id.toLowerCase()}-${count}`);
  const names = Array.from({length: count}, (_, i) => (w.id === 'W4' ? String(i + 1).padStart(7, '0') : `${String(i + 1).padStart(5, '0')}.bin`));
  const urls = names.map((n) => `${origin}/${w.id.toLowerCase()}/${n}`);
  writeFileSync(`${prefix}.txt`, urls.join('\n') + '\n');
  // curl: one url/output pair per transfer; W1 and W4 discard to /dev/null, W2 and W3 name files under --output-dir.
  const curlConf = discards(w)
    ? urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join('')
    : urls.map((u, i) => `url = "${u}"\noutput = "${names[i]}"\n`).join('');
  writeFileSync(`${prefix}.curl`, curlConf);
  if (w.id !== 'W1') return {list: `${prefix}.txt`, curlConf: `${prefix}.curl`, count};
  // wrk: a Lua script walking the same paths.
  writeFileSync(`${prefix}.lua`, `local i = 0
request = function()
  i = i % ${w.count} + 1
  return wrk.format("GET", string.format("/${w.id.toLowerCase()}/%05d.bin", i))
end
`);
  return {list: `${prefix}.txt`, curlConf: `${prefix}.curl`, lua: `${prefix}.lua`, count};
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

// Node's floor: the least a Node client can do per URL. Kept-alive sockets (one per slot) that read
// into one reused 1 MiB buffer (net's `onread`: no buffer allocated per read, and reads of up to 1 MiB
// where a stream reads 64 KiB: 2-3x the throughput of 'data' events on large bodies here), a request
// line written by hand, Content-Length found with a regex, the body discarded or written with writeSync
// straight from that buffer. No HTTP parser, no chunked bodies, no errors handled, no retries, no names
// checked: not a peer and not usable, only the cost of Node's own event loop and sockets.
const NODE_FLOOR = `
import net from 'node:net';
import {readFileSync, openSync, writeSync, closeSync} from 'node:fs';
const [list, c, dir] = process.argv.slice(1);
const urls = readFileSync(list, 'utf8').split('\\n').filter(Boolean).map((u) => new URL(u));
let next = 0, done = 0;
function slot() {
  let head = null, left = -1, fd = -1;
  const socket = net.connect({
    port: Number(urls[0].port), host: urls[0].hostname,
    onread: {buffer: Buffer.allocUnsafe(1 << 20), callback: (n, buffer) => void received(buffer.subarray(0, n))},
  });
  socket.setNoDelay(true);
  const send = () => {
    if (next >= urls.length) return void socket.end();
    const u = urls[next++];
    if (dir) fd = openSync(dir + '/' + u.pathname.slice(u.pathname.lastIndexOf('/') + 1), 'w');
    socket.write('GET ' + u.pathname + ' HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\n\\r\\n');
  };
  const body = (b) => {
    const n = Math.min(left, b.length);
    if (fd >= 0 && n > 0) writeSync(fd, b, 0, n);
    left -= n;
    if (left > 0) return null;
    if (fd >= 0) closeSync(fd), fd = -1;
    left = -1;
    if (++done === urls.length) process.exit(0);
    send();
    return n < b.length ? b.subarray(n) : null;
  };
  // b is a view of the reused buffer: a head split across reads is copied out before the next read.
  const received = (b) => {
    while (b !== null) {
      if (left >= 0) { b = body(b); continue; }
      head = head === null ? b : Buffer.concat([head, b]);
      const end = head.indexOf('\\r\\n\\r\\n');
      if (end < 0) { head = Buffer.from(head); return; }
      const text = head.toString('latin1', 0, end);
      if (!text.startsWith('HTTP/1.1 200')) { console.error(text.split('\\r\\n')[0]); process.exit(1); }
      left = Number(/content-length: *(\\d+)/i.exec(text)[1]);
      b = head.subarray(end + 4);
      head = null;
      if (b.length === 0 && left > 0) return;
    }
  };
  socket.on('connect', send);
  socket.on('error', (e) => { console.error(e.message); process.exit(1); });
}
for (let i = 0; i < Math.min(Number(c), urls.length); i++) slot();
`;

// undici's floor (W1 only): the same Agent fetchall builds, driven by 32 loops of dispatch() with an
// empty handler, bodies dropped. What undici itself costs per request, without any of fetchall's work.
const UNDICI_FLOOR = `
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
const require = createRequire(process.cwd() + '/');
const Agent = require(${JSON.stringify(fileURLToPath(new URL('../node_modules/undici/lib/dispatcher/agent.js', import.meta.url)))});
const [list, c] = process.argv.slice(1);
const urls = readFileSync(list, 'utf8').split('\\n').filter(Boolean).map((u) => new URL(u));
const agent = new Agent({keepAliveTimeout: 4000});
let next = 0;
const one = (u) => new Promise((resolve, reject) => {
  agent.dispatch({origin: u.origin, path: u.pathname, method: 'GET', headers: {}}, {
    onRequestStart() {}, onResponseStart(_c, status) { if (status !== 200) reject(new Error('status ' + status)); },
    onResponseData() {}, onResponseEnd: resolve, onResponseError: (_c, e) => reject(e),
  });
});
async function loop() { while (next < urls.length) await one(urls[next++]); }
await Promise.all(Array.from({length: Number(c)}, loop));
await agent.close();
`;

/**
 * The tools. Each gives, for a workload, the command (argv), where stdout goes, and its working folder.
 * `files`: whether it writes files under `dir` (then verified one by one).
 */
function toolsFor(w, lists) {
  const c = String(w.concurrency);
  const toFiles = !discards(w);
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
  if (w.id === 'W1') {
    tools.push({
      name: 'undici-floor',
      label: `undici's floor: Agent.dispatch(), empty handler (${c})`,
      available: true,
      files: false,
      argv: () => [process.execPath, '--input-type=module', '-e', UNDICI_FLOOR, lists.list, c],
    });
  }
  if (w.id !== 'W4') {
    tools.push({
      name: 'node-floor',
      label: `Node's floor: bare sockets, no HTTP parser (${c})`,
      available: true,
      files: toFiles,
      argv: (dir) => [process.execPath, '--input-type=module', '-e', NODE_FLOOR, lists.list, c, ...(toFiles ? [dir] : [])],
    });
  }
  if (w.id === 'W3') {
    // The issue's reference: one curl of one file of the same total size, nothing written. Not a peer.
    const bytes = w.count * w.size;
    tools.push({
      name: 'ceiling',
      label: `curl -o /dev/null, one ${size(bytes)} file (ceiling)`,
      available: true,
      files: false,
      requests: 1,
      bytes,
      captureStdout: true,
      argv: () => [CURL, '-s', '-S', '--fail', '-o', '/dev/null', '-w', '%{size_download}', `${origin}/ceiling.bin`],
      verify: (stdout) => (Number(stdout) === bytes ? [] : [`downloaded ${stdout || '?'} bytes, expected ${bytes}`]),
    });
  }
  if (w.id === 'W3') {
    // The naive pool holds each 256 MiB body in memory and takes ~30 s a run: only when asked for by name.
    return tools.filter((tool) => tool.available && (ONLY === undefined ? tool.name !== 'node-fetch' : ONLY.has(tool.name)));
  }
  if (w.id === 'W4') {
    // No xargs-curl (a million processes) and no naive pool (its list in memory is the known answer).
    return tools.filter((tool) => ['fetchall', 'curl', 'wget2', 'aria2c'].includes(tool.name))
      .filter((tool) => tool.available && (ONLY === undefined || ONLY.has(tool.name)));
  }
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

async function runOnce(tool, w, dir, count = w.count) {
  if (tool.files) mkdirSync(dir, {recursive: true});
  const argv = tool.argv(dir);
  const stdin = tool.stdin === undefined ? 'ignore' : openSync(tool.stdin, 'r');
  const stdout = tool.captureStdout ? 'pipe' : openSync('/dev/null', 'w');
  const rssFile = join(work, 'rss.txt');
  rmSync(rssFile, {force: true});
  // GNU time reports the peak RSS of the largest process it waited for (xargs's curls: one of them).
  const timed = TIME === undefined ? argv : [TIME, '-f', '%M', '-o', rssFile, ...argv];
  const before = await served();
  const cpu0 = nginxCpu();
  const start = process.hrtime.bigint();
  const child = spawn('/bin/sh', ['-c', '"$@"; rc=$?; times >&3; exit $rc', 'sh', ...timed], {
    stdio: [stdin, stdout, 'pipe', 'pipe'],
    cwd: tool.cwd ? dir : work,
    detached: true, // its own process group, so a timeout or Ctrl-C kills the tool and its children too
  });
  current = child;
  let stderr = '';
  let times = '';
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    if (stderr.length < 4000) stderr += d;
  });
  child.stdio[3].setEncoding('utf8').on('data', (d) => (times += d));
  if (tool.captureStdout) child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, w.timeout);
  const code = await new Promise((resolve) => child.once('close', (c, s) => resolve(c ?? s)));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  clearTimeout(timer);
  current = undefined;
  if (typeof stdin === 'number') closeSync(stdin);
  if (typeof stdout === 'number') closeSync(stdout);
  const serverCpu = nginxCpu() - cpu0;
  const requests = (await served()) - before - 1;
  const expected = tool.requests ?? count;
  const problems = [];
  if (timedOut) problems.push(`killed after ${w.timeout / 1000} s`);
  else if (code !== 0) problems.push(`exit ${code}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`);
  if (requests !== expected) problems.push(`nginx served ${requests} requests, expected ${expected}`);
  if (tool.verify !== undefined && !timedOut) problems.push(...tool.verify(out.trim()));
  if (tool.files) problems.push(...verifyFiles(dir, w, count));
  if (tool.files) rmSync(dir, {recursive: true, force: true});
  const kib = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : Number.NaN;
  const rss = Number.isFinite(kib) && kib > 0 ? kib / 1024 : Number.NaN;
  // The figure: requests or files per second; MB/s (10^6 bytes) in W3; peak RSS in MiB in W4.
  const rate = w.id === 'W3' ? (tool.bytes ?? count * w.size) / 1e6 / wall : count / wall;
  const cpu = parseTimes(times);
  return {
    ok: problems.length === 0, problems, timedOut, wall, rate, value: w.id === 'W4' ? rss : rate, rss, count,
    // client CPU per request; in W3 per GB (10^9 bytes) moved
    cpu: w.id === 'W3' ? cpu / ((tool.bytes ?? count * w.size) / 1e9) : cpu / count,
    serverCpu: serverCpu / wall,
  };
}

/** Every file there, the right size and the right bytes (W4's 2-byte "ok" bodies: size only); returns the problems found. */
function verifyFiles(dir, w, count = w.count) {
  const problems = [];
  let entries;
  try {
    entries = readdirSync(dir).filter((n) => !n.endsWith('.aria2'));
  } catch (error) {
    return [`cannot read ${dir}: ${error.message}`];
  }
  if (entries.length !== count) problems.push(`${entries.length} files, expected ${count}`);
  let bad = 0;
  for (const name of entries) {
    const path = join(dir, name);
    if (w.id === 'W4') {
      if (statSync(path).size !== w.size) bad++;
      continue;
    }
    const {size: got, digest} = fileDigest(path);
    if (got !== w.size || digest !== digests[w.id]) bad++;
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
  return {ok: problems.length === 0, problems, wall: WRK_SECONDS, rate, value: rate, rss: Number.NaN, cpu: Number.NaN, serverCpu: Number.NaN};
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

const results = []; // {workload, tool, label, runs: [...], dropped, main, info}
const notes = []; // printed under the table

const n = (k) => k.toLocaleString('en-US');

function logRun(w, name, run, r) {
  const figure = w.id === 'W4' ? `${fmt(r.rss)} MiB peak RSS (${n(r.count)} lines, ${fmt(r.rate)} req/s)` : `${fmt(r.rate)} ${w.unit}`;
  log(`  ${w.id} ${name.padEnd(10)} run ${run}: ${figure} in ${r.wall.toFixed(2)}s`
    + `${Number.isFinite(r.cpu) ? `, ${w.id === 'W3' ? `${r.cpu.toFixed(2)} s CPU/GB` : `${Math.round(r.cpu * 1e6)} µs CPU/req`}` : ''}`
    + `${w.id !== 'W4' && Number.isFinite(r.rss) ? `, ${fmt(r.rss)} MiB peak RSS` : ''}`
    + `${Number.isFinite(r.serverCpu) ? `, nginx ${Math.round(r.serverCpu * 100)}% CPU` : ''}`
    + `${r.ok ? '' : `  NOT COUNTED: ${r.problems.join('; ')}`}`);
}

/** W3's files: one source every /w3/ path answers, and the ceiling's one file of the whole run's size. */
function prepareW3() {
  const wanted = W3.size;
  const ceiling = ONLY === undefined || ONLY.has('ceiling');
  // The source, the ceiling file, one run's outputs (removed after each run), and some slack.
  const need = (sz) => sz + (ceiling ? W3.count * sz : 0) + W3.count * sz + 256 * MiB;
  const free = spaceFor(work);
  while (W3.size > 16 * MiB && need(W3.size) > free) W3.size /= 2;
  if (need(W3.size) > free) return `${size(free)} free under ${work}, ${size(need(W3.size))} needed even at 8 × ${size(W3.size)}`;
  if (W3.size !== wanted) {
    notes.push(`W3 shrunk to ${W3.count} × ${size(W3.size)}: ${size(free)} free for ${work}, ${W3.count} × ${size(wanted)} needs ${size(need(wanted))}.`);
    log(`W3: only ${size(free)} free, files shrunk to ${size(W3.size)}`);
  }
  log(`W3: writing the ${size(W3.size)} source${ceiling ? ` and the ${size(W3.count * W3.size)} ceiling file` : ''}`);
  generateFile(join(www, 'w3.bin'), W3.size, 3);
  digests.W3 = fileDigest(join(www, 'w3.bin')).digest; // hashed once, as nginx will serve it
  if (ceiling) generateFile(join(www, 'ceiling.bin'), W3.count * W3.size, 4);
  return undefined;
}

/** W1, W2, W3: every tool once per round, order rotated, `w.runs` rounds. */
async function interleaved(w) {
  const lists = writeLists(w);
  const tools = toolsFor(w, lists);
  // Warm-up, not measured: nginx's file cache, the page cache, the loopback path.
  if (w.id === 'W3') {
    spawnSync(CURL, ['-s', '-o', '/dev/null', `${origin}/w3/00001.bin`], {timeout: 60_000});
  } else {
    spawnSync(CURL, ['-Z', '--parallel-max', '8', '-s', '--config', lists.curlConf, ...(w.id === 'W2' ? ['--output-dir', join(work, 'warm')] : []), '--create-dirs'], {timeout: 60_000});
    rmSync(join(work, 'warm'), {recursive: true, force: true});
  }
  const rows = tools.map((tool) => ({workload: w, tool: tool.name, label: tool.label, runs: [], dropped: undefined}));
  const xargs = rows.find((r) => r.tool === 'xargs-curl');
  if (xargs !== undefined && w.count >= 1000) {
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
  log(`${w.id}: ${n(w.count)} × ${size(w.size)}, -c ${w.concurrency}, ${w.runs} runs of ${rows.length + (wrkRow ? 1 : 0)} tools, interleaved`);
  for (let round = 0; round < w.runs; round++) {
    // Rotate the order each round so no tool always runs right after the same neighbour.
    const order = rows.map((_, i) => (i + round) % rows.length);
    for (const i of order) {
      const row = rows[i];
      const tool = tools[i];
      if (row.dropped !== undefined) continue;
      const r = await runOnce(tool, w, join(work, 'out', `${w.id}-${tool.name}-${round}`));
      row.runs.push(r);
      if (r.timedOut) row.dropped = `killed after ${w.timeout / 1000} s`;
      logRun(w, tool.name, round + 1, r);
    }
    if (wrkRow !== undefined) {
      const r = await runWrk(w, lists);
      wrkRow.runs.push(r);
      log(`  ${w.id} wrk        run ${round + 1}: ${fmt(r.rate)} req/s${r.ok ? '' : `  NOT COUNTED: ${r.problems.join('; ')}`}`);
    }
  }
  results.push(...rows, ...(wrkRow ? [wrkRow] : []));
}

/**
 * W4: peak RSS against list length. fetchall on the short and the long list; each peer on the short one
 * first, then on the long one only where the short run projects (×10) inside 80% of the bound — else the
 * short list's figure is reported and the label says so.
 */
async function runW4() {
  if (TIME === undefined) {
    notes.push('W4 skipped: it needs GNU time (/usr/bin/time -f %M) for peak RSS.');
    return;
  }
  const long = writeLists(W4, W4.count);
  const short = writeLists(W4, W4.small);
  const longTools = toolsFor(W4, long);
  const shortTools = toolsFor(W4, short);
  const bound = W4.timeout / 1000;
  log(`W4: ${n(W4.count)} and ${n(W4.small)} lines of tiny bodies, -c ${W4.concurrency}, one run each, killed after ${bound} s`);
  for (let i = 0; i < shortTools.length; i++) {
    const name = shortTools[i].name;
    const dir = join(work, 'out', `W4-${name}`);
    const small = await runOnce(shortTools[i], W4, dir, W4.small);
    logRun(W4, name, 1, small);
    const smallRow = {workload: W4, tool: name, label: `${shortTools[i].label}, ${n(W4.small)} lines`, runs: [small]};
    const projected = (small.wall * W4.count) / W4.small;
    if (name !== 'fetchall' && !small.ok) {
      results.push(smallRow);
      continue;
    }
    if (name !== 'fetchall' && projected > 0.8 * bound) {
      smallRow.label += ` (${n(W4.count)}: ~${Math.round(projected)} s projected, over the ${bound} s bound)`;
      results.push(smallRow);
      continue;
    }
    const big = await runOnce(longTools[i], W4, dir, W4.count);
    logRun(W4, name, 1, big);
    if (name === 'fetchall') {
      results.push({workload: W4, tool: name, label: `${longTools[i].label}, ${n(W4.count)} lines`, runs: [big], main: true});
      smallRow.tool = 'fetchall-short';
      results.push(smallRow);
    } else if (big.ok) {
      results.push({workload: W4, tool: name, label: `${longTools[i].label}, ${n(W4.count)} lines`, runs: [big]});
    } else {
      smallRow.label += ` (${n(W4.count)} not counted)`;
      notes.push(`W4 ${name} on ${n(W4.count)} lines not counted: ${big.problems.join('; ')}.`);
      results.push(smallRow);
    }
  }
}

/** Start-up: wall time from spawn to exit, commands interleaved, a few warm-up rounds first. */
function runStartup() {
  const local = join(root, 'node_modules', '.bin', 'node');
  const node = existsSync(local) ? local : process.execPath;
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const cmds = [
    {tool: 'node', label: 'node -e 0', argv: [node, '-e', '0']},
    {tool: 'fetchall', label: 'fetchall --version', argv: [node, cli, '--version'], expect: `${version}\n`, main: true},
    {tool: 'fetchall-empty', label: 'fetchall /dev/null (empty list; information)', argv: [node, cli, '/dev/null'], info: true},
  ];
  const rows = cmds.map((c) => ({workload: STARTUP, tool: c.tool, label: c.label, runs: [], main: c.main, info: c.info}));
  log(`start-up: ${cmds.length} commands, ${STARTUP.runs} runs each after 3 warm-up rounds, interleaved (${node}, Node ${versionOf(node, ['--version'])})`);
  for (let round = -3; round < STARTUP.runs; round++) {
    for (let j = 0; j < cmds.length; j++) {
      const i = (j + Math.max(round, 0)) % cmds.length;
      const c = cmds[i];
      const start = process.hrtime.bigint();
      const r = spawnSync(c.argv[0], c.argv.slice(1), {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000});
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (round < 0) continue;
      const problems = [];
      if (r.status !== 0) problems.push(`exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n')[0]}`);
      if (c.expect !== undefined && r.stdout !== c.expect) problems.push(`printed ${JSON.stringify(r.stdout)}, expected ${JSON.stringify(c.expect)}`);
      rows[i].runs.push({ok: problems.length === 0, problems, wall: ms / 1000, value: ms, rss: Number.NaN, cpu: Number.NaN, serverCpu: Number.NaN});
    }
  }
  for (const row of rows) {
    const ok = row.runs.filter((r) => r.ok);
    log(`  start-up ${row.label}: median ${median(ok.map((r) => r.value)).toFixed(1)} ms (${ok.length}/${row.runs.length} ok)`);
  }
  results.push(...rows);
}

for (const w of [W1, W2, W3].filter((x) => WORKLOADS.includes(x.id))) {
  if (w.id === 'W3') {
    const why = prepareW3();
    if (why !== undefined) {
      notes.push(`W3 skipped: ${why}.`);
      continue;
    }
  }
  await interleaved(w);
  if (w.id === 'W3') for (const f of ['w3.bin', 'ceiling.bin']) rmSync(join(www, f), {force: true});
}
if (WORKLOADS.includes('W4')) await runW4();
await stopNginx();
if (WORKLOADS.includes('startup')) runStartup();
const load1 = loadavg()[0];

// ---------------------------------------------------------------------------------------------------
// The table

const header = ['workload', 'tool', 'median', 'unit', 'min–max', 'ok runs', 'peak RSS', 'client CPU', 'nginx CPU', 'fetchall ÷ tool'];
const table = [header];
const stat = (row) => {
  const ok = (row?.runs ?? []).filter((r) => r.ok);
  const values = ok.map((r) => r.value).filter(Number.isFinite);
  return {
    ok,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    rss: median(ok.map((r) => r.rss).filter(Number.isFinite)),
    cpu: median(ok.map((r) => r.cpu).filter(Number.isFinite)),
    server: median(ok.map((r) => r.serverCpu).filter(Number.isFinite)),
  };
};
const ALL = [W1, W2, W3, W4, STARTUP];
/** fetchall's row of a workload: the long list in W4, `--version` at start-up. */
const oursOf = (w) => results.find((r) => r.workload === w && r.tool === 'fetchall');
const value = (w, v) => (!Number.isFinite(v) ? '—' : w === STARTUP ? v.toFixed(1) : fmt(v));
for (const w of ALL) {
  const rows = results.filter((r) => r.workload === w);
  if (rows.length === 0) continue;
  const ours = stat(oursOf(w));
  const what = {
    W1: `W1 ${n(W1.count)} × 1 KiB`,
    W2: `W2 ${n(W2.count)} × 16 KiB to files`,
    W3: `W3 ${W3.count} × ${size(W3.size)} to files`,
    W4: 'W4 long list, 2-byte bodies',
    startup: `start-up, ${STARTUP.runs} runs`,
  }[w.id];
  for (const row of rows) {
    const s = stat(row);
    const ratio = row === oursOf(w) || row.info ? '—' : Number.isFinite(ours.median) && Number.isFinite(s.median) ? `${(ours.median / s.median).toFixed(2)}×` : 'n/a';
    table.push([
      what,
      row.label,
      s.ok.length > 0 ? value(w, s.median) : row.dropped?.startsWith('skipped') ? 'skipped' : 'failed',
      w === W4 ? 'MiB peak RSS' : w.unit,
      s.ok.length > 1 ? `${value(w, s.min)}–${value(w, s.max)}` : '—',
      `${s.ok.length}/${row.runs.length}`,
      Number.isFinite(s.rss) ? `${fmt(s.rss)} MiB` : '—',
      !Number.isFinite(s.cpu) ? '—' : w === W3 ? `${s.cpu.toFixed(2)} s/GB` : `${Math.round(s.cpu * 1e6)} µs/req`,
      Number.isFinite(s.server) ? `${Math.round(s.server * 100)}%` : '—',
      ratio,
    ]);
  }
}
const widths = table[0].map((_, c) => Math.max(...table.map((r) => [...r[c]].length)));
const right = new Set([2, 4, 5, 6, 7, 8, 9]);
const line = (r) => '| ' + r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ') + ' |';
const out = [line(table[0]), '|' + widths.map((wd, c) => (right.has(c) ? '-'.repeat(wd + 1) + ':' : '-'.repeat(wd + 2))).join('|') + '|', ...table.slice(1).map(line)];

// The targets of issue 6, each as measured in this run.
const targets = [];
const ratioTo = (w, tool) => stat(oursOf(w)).median / stat(results.find((r) => r.workload === w && r.tool === tool)).median;
const check = (what, got, goal, atLeast, unit = '×') => {
  if (!Number.isFinite(got)) return;
  const shown = unit === '×' ? `${got.toFixed(2)}×` : `${got.toFixed(0)} ${unit}`;
  const met = atLeast ? got >= goal : got <= goal;
  targets.push(`  ${what}: ${shown} (target ${atLeast ? '≥' : '≤'} ${goal}${unit === '×' ? '×' : ` ${unit}`}) ${met ? 'met' : 'NOT MET'}`);
};
if (WORKLOADS.includes('W1')) {
  check('W1 fetchall ÷ curl', ratioTo(W1, 'curl'), 1.2, true);
  check('W1 fetchall ÷ wrk', ratioTo(W1, 'wrk'), 0.7, true);
}
if (WORKLOADS.includes('W2')) check('W2 fetchall ÷ curl', ratioTo(W2, 'curl'), 1.3, true);
if (WORKLOADS.includes('W3')) check('W3 fetchall ÷ one curl -o /dev/null (ceiling)', ratioTo(W3, 'ceiling'), 0.75, true);
if (WORKLOADS.includes('W4')) {
  check(`W4 fetchall peak RSS, ${n(W4.count)} lines`, stat(oursOf(W4)).median, 80, false, 'MiB');
  check(`W4 fetchall ${n(W4.count)} ÷ ${n(W4.small)} lines`, ratioTo(W4, 'fetchall-short'), 1.1, false);
}
if (WORKLOADS.includes('startup')) check('start-up fetchall --version ÷ node -e 0', ratioTo(STARTUP, 'node'), 1.5, false);

console.log('');
console.log(out.join('\n'));
console.log('');
console.log(`${env.join(' · ')}; load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after.`);
console.log(`Medians of verified runs (exit 0, nginx request count, and for files every size and SHA-256); tools interleaved.`
  + ` fetchall ÷ tool: above 1.00× fetchall is faster for req/s, files/s and MB/s; below 1.00× it is leaner or quicker for MiB and ms.`);
if (targets.length > 0) console.log(`Targets (issue 6):\n${targets.join('\n')}`);
for (const note of notes) console.log(note);
const failedRuns = results.flatMap((r) => r.runs.filter((x) => !x.ok).map((x) => `${r.workload.id} ${r.tool}: ${x.problems.join('; ')}`));
for (const r of results) if (r.dropped !== undefined) console.log(`${r.workload.id} ${r.tool}: ${r.dropped}.`);
if (failedRuns.length > 0) {
  console.log(`Runs not counted (${failedRuns.length}):`);
  for (const f of failedRuns.slice(0, 20)) console.log(`  ${f}`);
}
if (opts.keep) console.log(`Kept: ${work}`);
const oursMissing = ALL.some((w) => results.some((r) => r.workload === w) && stat(oursOf(w)).ok.length === 0);
process.exitCode = oursMissing ? 1 : 0;
