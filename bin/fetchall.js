#!/usr/bin/env node
// fetchall's executable: refuse an old Node in one line (before importing anything that needs a newer
// one), then hand over to the built CLI.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`fetchall: needs Node.js 22.19 or newer (this is ${process.version}); install a current LTS from nodejs.org\n`);
  process.exit(2);
}
import('../dist/cli.js').then((cli) => cli.run());
