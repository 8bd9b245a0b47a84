// The version, read once from package.json so --version and User-Agent never drift from the package.
import {readFileSync} from 'node:fs';

/** fetchall's version, e.g. `0.1.0`. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string}).version;
