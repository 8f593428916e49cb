import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { publicBaseUrl, type Settings } from '../config/settings.js';
import { Bridge } from '../deploys/bridge.js';
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

/** Open the config repo, then listen. Resolves once requests can be served. */
export async function startServer(settings: Settings, log: Logger): Promise<RunningBridge> {
  const bridge = await Bridge.open(settings, log);
  let base = '';
  const webhookUrl = (id: string) => `${base}/api/v1/webhook/${id}`;
  const app = createApp(bridge, log, webhookUrl);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(settings.port, settings.host, () => resolve(s));
    s.once('error', reject);
  });
  // A CI's curl may hold the connection open; headers must arrive promptly.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  const port = (server.address() as AddressInfo).port;
  base = publicBaseUrl(settings, port);
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    bridge,
    server,
    url: `http://${host}:${port}`,
    publicUrl: base,
    webhookUrl,
    async close() {
      // Stop accepting, let the requests in flight finish (their pushes included), then stop.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await bridge.close();
      await closed;
    },
  };
}
