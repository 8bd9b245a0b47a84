#!/usr/bin/env node
// fetchall's executable: refuse an old Node in one line (before importing anything that needs a newer
// one), then hand over to the built CLI.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`fetchall: needs Node.js 22.19 or newer (this is ${process.version}); install a current LTS from nodejs.org\n`);
  process.exit(2);
}
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // The commonest probe answered without loading the CLI: start-up stays near a bare `node -e 0`.
  const {readFileSync} = await import('node:fs');
  process.stdout.write(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version + '\n');
} else {
  // Keep V8's young generation at its first size: left to grow, it took peak RSS from ~150 to ~260 MiB
  // on a long run (live heap ~15 MiB throughout), and was no faster. Set before the CLI allocates.
  const {setFlagsFromString} = await import('node:v8');
  setFlagsFromString('--semi-space-growth-factor=1');
  const {run} = await import('../dist/cli.js');
  await run();
}
