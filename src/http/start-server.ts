import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { publicBaseUrl, type Settings } from '../config/settings.js';
import { openBridge, type Bridge } from '../deploys/open-bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { createApp } from './create-app.js';

/** A running bridge: its HTTP server and the use cases behind it. */
export interface RunningBridge {
  bridge: Bridge;
  server: Server;
  url: string;
  publicUrl: string;
  webhookUrl(id: string): string;
  close(): Promise<void>;
}

/**
 * Bind the port, then open the config repo, then serve. The port comes first so that a
 * second bridge on a busy port fails at once with a clear message and leaves the data
 * dir untouched (no keys or embedded repo created for a process that cannot serve).
 */
export async function startServer(settings: Settings, log: Logger): Promise<RunningBridge> {
  const server = createServer((_req, res) => {
    // Only between binding and the repo being open: nothing can be served yet.
    res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
    res.end(JSON.stringify({ error: 'the bridge is starting', code: 'REPO_UNAVAILABLE' }));
  });
  await listen(server, settings);
  let bridge: Bridge;
  try {
    bridge = await openBridge(settings, log);
  } catch (err) {
    await new Promise((r) => server.close(r));
    throw err;
  }
  // A CI's curl may hold the connection open; headers must arrive promptly.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  const port = (server.address() as AddressInfo).port;
  const base = publicBaseUrl(settings, port);
  const webhookUrl = (id: string) => `${base}/api/v1/webhook/${id}`;
  const app = createApp(bridge, log, webhookUrl);
  server.removeAllListeners('request');
  server.on('request', app);
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    bridge,
    server,
    url: `http://${host}:${port}`,
    publicUrl: base,
    webhookUrl,
    async close() {
      // Stop accepting, let the requests in flight finish (their pushes included), then stop.
      // A connection whose answer ends now (a live view, a rollout wait) turns idle after
      // the first sweep: without more sweeps it would hold the exit for the keep-alive timeout.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      try {
        await bridge.close();
        await closed;
      } finally {
        clearInterval(sweep);
      }
    },
  };
}

function listen(server: Server, settings: Settings): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = `port ${settings.port} on ${settings.host}`;
      if (err.code === 'EADDRINUSE')
        reject(new KipError('CONFIG_INVALID', `${where} is already in use (set KIPPER_PORT)`));
      else if (err.code === 'EACCES')
        reject(new KipError('CONFIG_INVALID', `${where} may not be bound by this user (set KIPPER_PORT above 1023)`));
      else if (err.code === 'EADDRNOTAVAIL')
        reject(new KipError('CONFIG_INVALID', `${settings.host} is not an address of this machine (set KIPPER_HOST)`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(settings.port, settings.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
