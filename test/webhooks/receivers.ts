/**
 * Webhook receivers for the named-host tests: plain HTTP servers on loopback that record what reached
 * them (and on which local address, so a test can tell IPv4 from IPv6).
 */
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The receiver's side of the connection: `127.0.0.1` or `::1`. */
  readonly localAddress: string;
}

export interface Receiver {
  readonly port: number;
  readonly received: Received[];
  close(): Promise<void>;
}

function recordingServer(received: Received[]): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        localAddress: req.socket.localAddress ?? '',
      });
      res.writeHead(204).end();
    });
  });
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(e);
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeAll(servers: readonly Server[]): Promise<void> {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()));
  }
}

/** A receiver on one loopback address (`127.0.0.1` or `::1`), on a free port. */
export async function startReceiver(host: string): Promise<Receiver> {
  const received: Received[] = [];
  const server = recordingServer(received);
  const port = await listen(server, host, 0);
  return { port, received, close: () => closeAll([server]) };
}

/**
 * A receiver on every address `localhost` resolves to on this machine, all on the same port, so a
 * delivery to `http://localhost:<port>` through the system resolver lands here whichever address the
 * connection picks (and not on some other program that holds that port on the other loopback).
 */
export async function startLocalhostReceiver(): Promise<Receiver> {
  const addresses = [...new Set((await lookup('localhost', { all: true })).map((a) => a.address))];
  for (let attempt = 0; ; attempt++) {
    const received: Received[] = [];
    const servers: Server[] = [];
    try {
      let port = 0;
      for (const address of addresses) {
        const server = recordingServer(received);
        servers.push(server);
        port = await listen(server, address, port);
      }
      return { port, received, close: () => closeAll(servers) };
    } catch (e) {
      await closeAll(servers);
      // The port the first address got may be taken on another: try another port.
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw e;
    }
  }
}

/**
 * Whether this machine can listen on `::1`; the reason when it cannot (no IPv6 loopback in a
 * container started with IPv6 disabled, for instance).
 */
export async function ipv6LoopbackUnavailable(): Promise<string | undefined> {
  const server = createServer();
  try {
    await listen(server, '::1', 0);
    return undefined;
  } catch (e) {
    return `cannot listen on [::1] here (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  } finally {
    await closeAll([server]);
  }
}
