import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { eventJson, type NotificationEvent, type NotifyEventName } from './events.js';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryable, retryDelay, type RetryPolicy } from './retry-policy.js';
import { SIGNATURE_HEADER, notificationSecret, sign } from './signature.js';
import { slackMessage } from './slack.js';
import { formatOf, redactUrl, urlProblem, type NotifyFormat, type NotifyTarget } from './targets.js';

/** Why a delivery was given up: the `reason` of the dropped counter. */
export type DropReason =
  | 'queue_full' // the target's queue was full: its oldest waiting event made room
  | 'rejected' // the receiver answered a 4xx (not 408/429) or a redirect: trying again cannot help
  | 'exhausted' // every attempt failed
  | 'shutdown' // the bridge stopped before the receiver took it
  | 'error'; // the event could not be built or the target's URL is unusable (a bug: logged as an error)

/** Counters the caller wires to Prometheus; one call per delivery (an event to two targets is two). */
export interface NotifierMetrics {
  delivered(): void;
  /** An attempt failed and another will follow. */
  retried(): void;
  dropped(reason: DropReason): void;
}

export interface NotifierOptions {
  /** Where events go; a function is asked on every event, so kipper.yaml changes apply at once. */
  targets: readonly NotifyTarget[] | (() => readonly NotifyTarget[]);
  /** `deriveKey(secretKey, 'notifications')`: signs every body (signature.ts). */
  key: Buffer;
  log: Logger;
  metrics?: NotifierMetrics | undefined;
  /** Events that may wait per target besides the one being delivered (default 1000). */
  queueSize?: number | undefined;
  /** The longest one attempt may take to get an answer's status (default 10 s). */
  attemptTimeoutMs?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** The jitter's source (tests). */
  random?: (() => number) | undefined;
}

const DEFAULT_QUEUE_SIZE = 1_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;

/** One event on its way to one target: the same bytes, signature and id on every attempt. */
interface Delivery {
  id: string;
  event: NotifyEventName;
  body: Buffer;
  signature: string;
}

/** The deliveries of one target (URL and format), one at a time, in the order notified. */
interface Lane {
  key: string;
  url: string;
  /** The URL as logs show it (redactUrl). */
  shown: string;
  waiting: Delivery[];
  /** An event of this lane is being delivered (or waits out a backoff). */
  busy: boolean;
  /** Drops since the queue was last empty: a full queue is logged once, when it fills and when it drains. */
  burstDrops: number;
}

type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'rejected'; status: number }
  | { kind: 'failed'; status?: number; error?: string; retryAfterMs: number | null };

/**
 * Sends notification events to their targets (docs/design.md "Notifications"), off the
 * deploy's path: `notify` only queues and returns. Each target has its own bounded queue
 * and sends one event at a time, so a receiver sees events in the order they happened
 * and a slow or dead receiver holds back nobody else. A failed attempt is tried again
 * with backoff (retry-policy.ts); what cannot be delivered is dropped, counted and
 * logged, never thrown. Logs name a target by scheme and host only: the rest of a
 * webhook URL is often its credential.
 */
export class Notifier {
  private readonly targets: NotifierOptions['targets'];
  private readonly secret: string;
  private readonly log: Logger;
  private readonly metrics: NotifierMetrics | undefined;
  private readonly queueSize: number;
  private readonly attemptTimeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly random: () => number;
  /** Only lanes with work exist: a lane is removed when its queue runs empty. */
  private readonly lanes = new Map<string, Lane>();
  /** Aborted when close() gives up waiting: in-flight attempts and backoff waits end at once. */
  private readonly stop = new AbortController();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private closing: Promise<void> | undefined;
  private shutdownDrops = 0;

  constructor(options: NotifierOptions) {
    this.targets = options.targets;
    this.secret = notificationSecret(options.key);
    this.log = options.log;
    this.metrics = options.metrics;
    this.queueSize = positive('queueSize', options.queueSize ?? DEFAULT_QUEUE_SIZE);
    this.attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    positive('retry.maxAttempts', this.policy.maxAttempts);
    this.random = options.random ?? Math.random;
  }

  /** Events waiting or being delivered, over all targets. */
  get depth(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.waiting.length + (lane.busy ? 1 : 0);
    return n;
  }

  /**
   * Queue `event` for every target that wants it, and return: no network, no await, no
   * throw. Call it after the push (the config commit is in the remote), never before.
   */
  notify(event: NotificationEvent): void {
    try {
      const targets = typeof this.targets === 'function' ? this.targets() : this.targets;
      if (targets.length === 0) return;
      // One id per event, the same for every target and attempt: receivers dedupe on it.
      const id = randomUUID();
      const bodies = new Map<NotifyFormat, { body: Buffer; signature: string }>();
      for (const target of targets) {
        if (target.events && !target.events.includes(event.event)) continue;
        if (this.closed) {
          this.shutdownDrops++;
          this.count((m) => m.dropped('shutdown'));
          this.log.debug('notification dropped: the bridge is shutting down', {
            target: redactUrl(target.url),
            event: event.event,
            app: event.app,
          });
          continue;
        }
        const format = formatOf(target);
        let signed = bodies.get(format);
        if (!signed) {
          const body = Buffer.from(format === 'slack' ? JSON.stringify(slackMessage(event)) : eventJson(event), 'utf8');
          signed = { body, signature: sign(this.secret, body) };
          bodies.set(format, signed);
        }
        this.enqueue(target.url, format, { id, event: event.event, ...signed });
      }
    } catch (err) {
      this.count((m) => m.dropped('error'));
      this.log.error('notification not sent: it could not be built', {
        event: event?.event,
        app: event?.app,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /**
   * At shutdown, after the last deploy: refuse new events, wait up to `timeoutMs` for
   * the queues to empty, then abort what is left (counted as dropped, reason shutdown,
   * and logged once). An event waiting out a backoff is tried again only if its wait
   * ends within the bound. Calling it again returns the same promise.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.lanes.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      // Not unref'd: the wait is bounded, and an exit before it ends would lose the count.
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
      const ended = await Promise.race([this.idle(), late]);
      clearTimeout(timer);
      if (ended === 'late') {
        this.stop.abort();
        await this.idle();
      }
    }
    if (this.shutdownDrops > 0) {
      this.log.warn('notifications dropped at shutdown: their receivers did not take them in time', {
        dropped: this.shutdownDrops,
        timeoutMs,
      });
    }
  }

  private enqueue(url: string, format: NotifyFormat, delivery: Delivery): void {
    const key = `${format} ${url}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      const problem = urlProblem(url);
      if (problem) {
        this.count((m) => m.dropped('error'));
        this.log.error(`notification target unusable: its URL ${problem}`, {
          target: redactUrl(url),
          event: delivery.event,
        });
        return;
      }
      lane = { key, url, shown: redactUrl(url), waiting: [], busy: false, burstDrops: 0 };
      this.lanes.set(key, lane);
      const started = lane;
      // Started on the next turn, so that notify() itself never touches the network.
      setImmediate(() => {
        // run() answers every failure of a delivery itself; a rejection here is a bug, logged.
        this.run(started).catch((err: unknown) =>
          this.log.error('notification lane failed', { error: err instanceof Error ? err.message : String(err) }),
        );
      });
    }
    if (lane.waiting.length >= this.queueSize) {
      // The oldest waiting event makes room: of a receiver that is far behind, the newest
      // events (the latest deploy, its rollout) are the ones worth having.
      lane.waiting.shift();
      this.count((m) => m.dropped('queue_full'));
      if (lane.burstDrops++ === 0) {
        this.log.warn('notification queue full: dropping the oldest waiting events until it drains', {
          target: lane.shown,
          queueSize: this.queueSize,
        });
      }
    }
    lane.waiting.push(delivery);
  }

  /** Deliver a lane's events one by one until its queue is empty (or close() gives up). */
  private async run(lane: Lane): Promise<void> {
    try {
      for (let next = lane.waiting.shift(); next; next = lane.waiting.shift()) {
        if (this.stop.signal.aborted) {
          this.shutdownDrop();
          continue;
        }
        lane.busy = true;
        await this.deliver(lane, next);
        lane.busy = false;
      }
    } catch (err) {
      // deliver() does not throw; should it, the lane's events are not lost silently.
      this.log.error('notification delivery failed', {
        target: lane.shown,
        error: err instanceof Error ? err.message : String(err),
      });
      for (const _ of lane.waiting.splice(0)) this.count((m) => m.dropped('error'));
    } finally {
      if (lane.burstDrops > 0) {
        this.log.warn('notification queue drained', { target: lane.shown, dropped: lane.burstDrops });
      }
      this.lanes.delete(lane.key);
      if (this.lanes.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Attempts until delivered, refused, out of attempts, or stopped. */
  private async deliver(lane: Lane, d: Delivery): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(lane.url, d);
      const fields: Record<string, unknown> = { target: lane.shown, event: d.event, delivery: d.id, attempt };
      if ('status' in outcome && outcome.status !== undefined) fields.status = outcome.status;
      if (outcome.kind === 'delivered') {
        this.count((m) => m.delivered());
        this.log.debug('notification delivered', fields);
        return;
      }
      if (this.stop.signal.aborted) return this.shutdownDrop();
      if (outcome.kind === 'rejected') {
        this.count((m) => m.dropped('rejected'));
        this.log.warn('notification dropped: the receiver refused it', fields);
        return;
      }
      if (outcome.error !== undefined) fields.error = outcome.error;
      if (attempt >= this.policy.maxAttempts) {
        this.count((m) => m.dropped('exhausted'));
        this.log.warn(`notification dropped after ${attempt} attempts`, fields);
        return;
      }
      const wait = retryDelay(attempt, this.policy, outcome.retryAfterMs, this.random);
      this.count((m) => m.retried());
      // The first failure of an event is worth a warning; the ones after it repeat it.
      const retrying = { ...fields, retryInMs: wait };
      if (attempt === 1) this.log.warn('notification not delivered; trying again', retrying);
      else this.log.debug('notification not delivered; trying again', retrying);
      await sleep(wait, this.stop.signal);
      if (this.stop.signal.aborted) return this.shutdownDrop();
    }
  }

  /**
   * One POST. Redirects are not followed: the body and its signature go only where they
   * were sent. Its own AbortController, not AbortSignal.any() with the long-lived stop
   * signal, which keeps every combined signal alive (nodejs/node#55351).
   */
  private async attempt(url: string, d: Delivery): Promise<Outcome> {
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.attemptTimeoutMs);
    timer.unref();
    const onStop = (): void => abort.abort();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: abort.signal,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'Kipper',
          'X-Kipper-Event': d.event,
          'X-Kipper-Delivery': d.id,
          [SIGNATURE_HEADER]: d.signature,
        },
        body: d.body,
      });
      // Only the status matters; the body is not read (nor waited for).
      res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
      if (!retryable(res.status)) return { kind: 'rejected', status: res.status };
      return {
        kind: 'failed',
        status: res.status,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()),
      };
    } catch (err) {
      return {
        kind: 'failed',
        error: timedOut ? `no answer within ${this.attemptTimeoutMs} ms` : describeError(err, url),
        retryAfterMs: null,
      };
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  private shutdownDrop(): void {
    this.shutdownDrops++;
    this.count((m) => m.dropped('shutdown'));
  }

  /** Resolves when no lane has work. */
  private idle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A metrics callback that throws must not make notify() throw or a lane stop. */
  private count(f: (m: NotifierMetrics) => void): void {
    if (!this.metrics) return;
    try {
      f(this.metrics);
    } catch {
      // counted nowhere: the delivery itself is unaffected
    }
  }
}

/** A wait that does not keep the process alive and ends early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Why a request failed, for the log: the system error (`connect ECONNREFUSED
 * 10.0.0.7:8080`, `ENOTFOUND: …`), with the target's path and query cut out should a
 * message ever repeat them.
 */
function describeError(err: unknown, url: string): string {
  // fetch wraps the system error: `TypeError: fetch failed`, its cause the interesting part.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  const text = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return scrub(text, url);
}

function scrub(text: string, url: string): string {
  let out = text;
  try {
    const u = new URL(url);
    for (const secret of [url, u.href, `${u.pathname}${u.search}`, u.search]) {
      if (secret.length > 1) out = out.split(secret).join('/…');
    }
  } catch {
    // an unparseable URL never reached fetch
  }
  return out;
}

function positive(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Notifier: ${name} must be a whole number above 0, not ${n}`);
  return n;
}
