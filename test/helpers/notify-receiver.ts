import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../src/log.js';
import type { DropReason, NotifierMetrics } from '../../src/notify/notifier.js';

/** One request as the receiver got it: the body byte for byte. */
/** The fields of a deploy event, in the order the JSON carries them (docs/incidents.md). */
export const DEPLOY_EVENT_FIELDS = [
  'event',
  'app',
  'revision',
  'image',
  'commit',
  'configCommit',
  'trigger',
  'reason',
  'author',
  'actor',
  'url',
  'at',
];

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the receiver answers its n-th request (0-based): a status, with headers, after an optional wait. */
export type Answer = number | { status: number; headers?: Record<string, string> };

/** A real HTTP server on a loopback port that records what it is sent. */
export class Receiver {
  readonly requests: Received[] = [];
  private readonly waiters: Array<() => void> = [];

  private readonly server: Server;
  /** Kept after close, so that a closed receiver names the port it freed. */
  port = 0;

  private constructor(answer: (n: number) => Answer | Promise<Answer>) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = this.requests.length;
        this.requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        for (const wake of this.waiters.splice(0)) wake();
        Promise.resolve(answer(n))
          .then((a) => {
            const { status, headers } =
              typeof a === 'number' ? { status: a, headers: {} } : { status: a.status, headers: a.headers ?? {} };
            if (!res.destroyed) res.writeHead(status, headers).end();
          })
          // An answer function that throws is a broken test: answer 500 so it shows.
          .catch(() => res.writeHead(500).end());
      });
    });
  }

  /** Listen on `port` (0: a free one); `answer` decides each answer, and may take its time. */
  static async start(answer: (n: number) => Answer | Promise<Answer> = () => 204, port = 0): Promise<Receiver> {
    const receiver = new Receiver(answer);
    await new Promise<void>((resolve, reject) => {
      receiver.server.once('error', reject);
      receiver.server.listen(port, '127.0.0.1', () => resolve());
    });
    receiver.port = (receiver.server.address() as AddressInfo).port;
    return receiver;
  }

  /** The receiver's URL with `path`. */
  url(path = '/hooks/kipper'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `n` requests have arrived. */
  async waitFor(n: number, timeoutMs = 5_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < n) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.requests.length} requests, expected ${n}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.requests;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A loopback port that nothing listens on (a receiver that is down). */
export async function closedPort(): Promise<number> {
  const r = await Receiver.start();
  await r.close();
  return r.port;
}

/** Counts what the notifier reports, as the prom-client counters would. */
export class CountingMetrics implements NotifierMetrics {
  deliveredCount = 0;
  retriedCount = 0;
  readonly drops: Partial<Record<DropReason, number>> = {};
  delivered(): void {
    this.deliveredCount++;
  }
  retried(): void {
    this.retriedCount++;
  }
  dropped(reason: DropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

/** One log call as a test sees it. */
export interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps its lines. */
export function memoryLogger(lines: LogLine[] = [], base: Record<string, unknown> = {}): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, fields: { ...base, ...fields } });
    };
  return {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: (fields) => memoryLogger(lines, { ...base, ...fields }),
    enabled: () => true,
  };
}

/** Polls `check` until it holds (for counters that move after the last request). */
export async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
