#!/usr/bin/env node
// fetchall's executable: refuse an old Node in one line (before importing anything that needs a newer
// one), then hand over to the built CLI.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`fetchall: needs Node.js 22.19 or newer (this is ${process.version}); install a current LTS from nodejs.org\n`);
  process.exit(2);
}
// Until the run installs its own handlers (and in the steps that have none: loading, opening a FIFO
// that waits for its writer, reading a long report for --resume, a dry run), a signal exits with its
// code at once: fetchall never dies by a signal. Once another handler is there, this one defers.
// SIGQUIT (Ctrl-\\) is the quit-now key: 131, as a shell reports a process it killed.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) {
  process.on(signal, () => {
    if (process.listenerCount(signal) === 1) process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGQUIT' ? 131 : 143);
  });
}
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // The commonest probe answered without loading the CLI: start-up stays near a bare `node -e 0`.
  const {readFileSync} = await import('node:fs');
  // A reader that is gone (`| true`) is 141, quietly; a full or broken stdout is 3, in one line.
  process.stdout.on('error', (error) => {
    // Worded as the CLI words it (src/errors.ts describeErrno), without loading it.
    const why = error.code === 'ENOSPC' ? 'no space left on device (ENOSPC)' : error.code ?? error.message;
    if (error.code !== 'EPIPE') process.stderr.write(`fetchall: cannot write to standard output: ${why}\n`);
    process.exit(error.code === 'EPIPE' ? 141 : 3);
  });
  process.stdout.write(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version + '\n');
} else {
  // Cap V8's young generation at 16 MiB. Left alone it grows to 128 MiB and peak RSS to ~270 MiB on a
  // long run whose live heap stays near 20 MiB; pinned at its first 2 MiB (growth factor 1 from the
  // start) scavenges run so often that W1 took ~12% longer (medians of 5 on 20,000 requests: 2.52 s and
  // 138 MiB pinned, 2.26 s and 152 MiB capped at 16, 2.21 s and 165 MiB at 32). V8 fixes the maximum
  // size when the heap is made, before any script runs, but reads the growth factor each time it grows:
  // so let it grow, and set the factor to 1 once it reaches the cap. If a V8 stops reading it, the cap
  // is simply lost (more memory, same results).
  const v8 = await import('node:v8');
  // Grow the old generation by 10% of what survived the last full collection, not V8's usual 1.5–4×:
  // what a run promotes is mostly finished exchanges that lived across two scavenges, garbage that a
  // cheap mark of a small live heap frees. Peak RSS on 100,000 tiny requests: ~162 → ~127 MiB (medians
  // of 3), same speed. It is a growing factor, not a cap: a heap whose live data grows (the -o name
  // set over a million files) still grows, with more frequent full collections.
  v8.setFlagsFromString('--heap-growing-percent=10');
  const YOUNG_CAP = 16 * 1024 * 1024;
  const watch = setInterval(() => {
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (young === undefined || young.space_size >= YOUNG_CAP) {
      if (young !== undefined) v8.setFlagsFromString('--semi-space-growth-factor=1');
      clearInterval(watch);
    }
  }, 20);
  watch.unref();
  // Node's deprecation warnings are for the developers of fetchall, not its users: undici names an
  // https:// proxy given by IP address as the TLS server name, which Node warns about on stderr.
  process.noDeprecation = true;
  // Node warns on stderr when NO_COLOR and FORCE_COLOR are both set (common in CI: one set for every
  // job, the other for one) as soon as undici loads node:assert. fetchall's own colour rule settles
  // that pair (README, "What you see"). Node also warns that NODE_TLS_REJECT_UNAUTHORIZED=0 turns
  // verification off, which it does not for fetchall (only -k does): a false alarm, dropped too.
  // Every other warning still reaches Node's own printer.
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (/env is ignored due to the 'FORCE_COLOR' env being set|^Setting the NODE_TLS_REJECT_UNAUTHORIZED environment variable/.test(warning.message)) return;
    for (const print of printers) print.call(process, warning);
  });
  const {run} = await import('../dist/cli.js');
  await run();
}
