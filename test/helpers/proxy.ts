// A minimal forward HTTP proxy for tests: absolute-URI requests for http, CONNECT tunnels for https.
import {once} from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type {AddressInfo, Socket} from 'node:net';

/** One request the proxy received. */
export interface ProxyLogEntry {
  method: string;
  /** Absolute URL for a plain request, `host:port` for CONNECT. */
  target: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestProxy {
  /** e.g. `http://127.0.0.1:41235` */
  readonly url: string;
  /** Each request target in arrival order: the absolute URL, or `host:port` for a CONNECT. */
  readonly requests: string[];
  /** The same requests with method and headers (to check `Proxy-Authorization`, say). */
  readonly log: ProxyLogEntry[];
  /** Destroy every client and upstream connection and stop listening. Idempotent; never hangs. */
  close(): Promise<void>;
}

// Hop-by-hop headers a proxy must not forward.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface TestProxyOptions {
  /** Serve the proxy itself over TLS (an `https://` proxy) with this key and certificate. */
  tls?: {key: string | Buffer; cert: string | Buffer};
  /** Take CONNECT requests and never answer them (a proxy that hangs a tunnel). */
  stallConnect?: boolean;
}

/** Start a forward proxy on 127.0.0.1:0. @example const proxy = await startProxy(); runCli(['--proxy', proxy.url, list]) */
export async function startProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const requests: string[] = [];
  const log: ProxyLogEntry[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  let closing: Promise<void> | undefined;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const target = req.url ?? '';
    requests.push(target);
    log.push({method: req.method ?? 'GET', target, headers: {...req.headers}});
    let url: URL;
    try {
      url = new URL(target);
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400, {'content-type': 'text/plain'});
      res.end('proxy: absolute http URL expected\n');
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP.has(name)) headers[name] = value;
    const upstream = http.request(
      {host: url.hostname, port: url.port || 80, method: req.method ?? 'GET', path: url.pathname + url.search, headers, agent: false},
      (up) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(up.headers)) if (!HOP.has(name)) out[name] = value;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        up.pipe(res);
        up.once('error', () => res.destroy());
        up.once('aborted', () => res.destroy());
      },
    );
    upstream.once('socket', track);
    upstream.once('error', () => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, {'content-type': 'text/plain'});
        res.end('proxy: upstream failed\n');
      }
    });
    res.once('close', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server = options.tls === undefined ? http.createServer(handle) : https.createServer(options.tls, handle);

  server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    requests.push(target);
    log.push({method: 'CONNECT', target, headers: {...req.headers}});
    track(client);
    if (options.stallConnect === true) return;
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (m === null) {
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), m[1]);
    track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', () => {
      if (!connected && client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      else client.destroy();
    });
    client.once('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
  });
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', track);
  if (options.tls !== undefined) server.on('connection', track);
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const {port} = server.address() as AddressInfo;

  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    log,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/**
 * A forward proxy that passes bytes untouched (`http://` requests only: the first request line is
 * rewritten to origin form, then both ways are piped), so the origin's framing, header sizes and resets
 * reach the client as sent: an upstream reset resets the client's connection too. One request per
 * connection is all it understands; give it a URL per run.
 * @example const pipe = await startPipeProxy(); runCli(['--proxy', pipe.url, list]); await pipe.close();
 */
export async function startPipeProxy(): Promise<{url: string; close(): Promise<void>}> {
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.once('data', (data) => {
      const text = data.toString('latin1');
      const line = /^(\w+) http:\/\/([^/:]+):(\d+)(\S*) (HTTP\/1\.1)\r\n/.exec(text);
      if (line === null) {
        client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const upstream = net.connect(Number(line[3]), line[2]!, () => {
        upstream.write(`${line[1]} ${line[4] || '/'} ${line[5]}\r\n${text.slice(line[0].length)}`);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.resetAndDestroy());
      client.once('close', () => upstream.destroy());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
