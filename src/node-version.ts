// The library's own check of the Node it runs on, first of all its imports: the CLI's is in
// bin/fetchall.js. undici 8 needs Node 22.19, and on Node 20 undici 7 can crash the process when a
// server closes a connection whose body is paused for backpressure (nodejs/undici#5360).
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  throw new Error(`fetchall needs Node.js 22.19 or newer (this is ${process.version})`);
}
export {};
