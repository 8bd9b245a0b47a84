// Test-only self-signed certificate for 127.0.0.1 and localhost (never use these files outside tests).
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

// Made once with: openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=127.0.0.1
//   -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout key.pem -out cert.pem
// The private key is committed on purpose: it protects nothing.

/** Path of the PEM certificate (e.g. for `NODE_EXTRA_CA_CERTS`). */
export const certPath = fileURLToPath(new URL('../fixtures/tls/cert.pem', import.meta.url));
/** Path of the PEM private key. */
export const keyPath = fileURLToPath(new URL('../fixtures/tls/key.pem', import.meta.url));

/** PEM private key. */
export const key = readFileSync(keyPath, 'utf8');
/** PEM self-signed certificate (SAN IP:127.0.0.1, DNS:localhost). */
export const cert = readFileSync(certPath, 'utf8');

/** Both, ready for `startTestServer({tls})`. @example const server = await startTestServer({tls: selfSigned}); */
export const selfSigned: {key: string; cert: string} = {key, cert};
