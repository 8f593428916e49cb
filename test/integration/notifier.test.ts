import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import {
  NOTIFY_EVENTS,
  notificationEvent,
  type NotificationEvent,
  type NotifyEventName,
} from '../../src/notify/events.js';
import { Notifier, type NotifierOptions } from '../../src/notify/notifier.js';
import { notificationSecret, verify } from '../../src/notify/signature.js';
import {
  CountingMetrics,
  Receiver,
  closedPort,
  DEPLOY_EVENT_FIELDS,
  eventually,
  memoryLogger,
  type Answer,
} from '../helpers/notify-receiver.js';

const key = randomBytes(32);

// Backoff in milliseconds, not seconds: every test here ends well within a second or two.
const FAST = { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 5 };

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function receiver(answer?: (n: number) => Answer | Promise<Answer>, port?: number): Promise<Receiver> {
  const r = await Receiver.start(answer, port);
  open.push(r);
  return r;
}

function notifier(options: Partial<NotifierOptions> & Pick<NotifierOptions, 'targets'>) {
  const metrics = new CountingMetrics();
  const log = memoryLogger();
  const n = new Notifier({ key, log, metrics, retry: FAST, ...options });
  open.push({ close: () => n.close(1_000) });
  return { n, metrics, log };
}

function deployed(revision: number, extra: Partial<NotificationEvent> = {}): NotificationEvent {
  return notificationEvent({
    event: 'deployed',
    app: 'team/api',
    revision,
    image: `ghcr.io/acme/api:1.${revision}`,
    trigger: 'webhook',
    ...extra,
  } as never);
}

function eventOf(name: NotifyEventName): NotificationEvent {
  return name === 'refused'
    ? notificationEvent({
        event: 'refused',
        app: 'team/api',
        image: 'ghcr.io/acme/api:2.0',
        code: 'REPO_UNAVAILABLE',
        error: 'the config repo did not answer',
      })
    : notificationEvent({ event: name, app: 'team/api', revision: 7 });
}

/** notify() must hand back control without waiting for anything: time it, and check it returned nothing. */
function timedNotify(n: Notifier, e: NotificationEvent): { returned: unknown; ms: number } {
  const t0 = performance.now();
  const returned = n.notify(e) as unknown;
  return { returned, ms: performance.now() - t0 };
}

describe('Notifier', () => {
  it('delivers every event once, in order, signed over the exact body bytes, with every field', async () => {
    const r = await receiver();
    const { n, metrics } = notifier({ targets: [{ url: r.url() }] });
    for (const name of NOTIFY_EVENTS) n.notify(eventOf(name));

    const got = await r.waitFor(NOTIFY_EVENTS.length);
    await eventually(() => metrics.deliveredCount === NOTIFY_EVENTS.length);
    await new Promise((res) => setTimeout(res, 100)); // nothing more arrives
    expect(got).toHaveLength(NOTIFY_EVENTS.length);

    const bodies = got.map((g) => JSON.parse(g.body.toString('utf8')) as Record<string, unknown>);
    expect(bodies.map((b) => b.event)).toEqual([...NOTIFY_EVENTS]);
    for (const [i, g] of got.entries()) {
      expect(g.path).toBe('/hooks/kipper');
      expect(verify(notificationSecret(key), g.body, g.headers['x-kipper-signature-256'] as string)).toBe(true);
      expect(g.headers['content-type']).toBe('application/json');
      expect(g.headers['user-agent']).toBe('Kipper');
      expect(g.headers['x-kipper-event']).toBe(bodies[i]!.event);
      expect(g.headers['x-kipper-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(got.map((g) => g.headers['x-kipper-delivery'])).size).toBe(NOTIFY_EVENTS.length);

    const deployedBody = bodies[0]!;
    expect(Object.keys(deployedBody)).toEqual(DEPLOY_EVENT_FIELDS);
    expect(deployedBody).toMatchObject({
      app: 'team/api',
      revision: 7,
      image: null,
      commit: null,
      configCommit: null,
      reason: null,
      author: null,
      actor: null,
      url: null,
    });
    const refused = bodies[NOTIFY_EVENTS.indexOf('refused')]!;
    expect(refused).toMatchObject({
      event: 'refused',
      code: 'REPO_UNAVAILABLE',
      error: 'the config repo did not answer',
      revision: null,
    });
    expect(metrics.retriedCount).toBe(0);
    expect(metrics.drops).toEqual({});
  });

  it('returns from notify at once, and tries a 500 again: three deliveries of one id for 500, 500, 200', async () => {
    const r = await receiver((i) => (i < 2 ? 500 : 200));
    const { n, metrics } = notifier({ targets: [{ url: r.url() }] });

    const { returned, ms } = timedNotify(n, deployed(3));
    expect(returned).toBeUndefined(); // not a promise: nothing for the caller to wait on
    expect(ms).toBeLessThan(500); // a synchronous call; roomy for a GC pause on a busy box

    const got = await r.waitFor(3);
    await eventually(() => metrics.deliveredCount === 1);
    expect(new Set(got.map((g) => g.headers['x-kipper-delivery'])).size).toBe(1);
    expect(new Set(got.map((g) => g.body.toString('hex'))).size).toBe(1);
    expect(metrics.retriedCount).toBe(2);
    expect(metrics.drops).toEqual({});
  });

  it('delays nothing while a receiver is down, keeps trying, and delivers once it is up', async () => {
    const port = await closedPort();
    const up = await receiver();
    const { n, metrics, log } = notifier({
      targets: [{ url: `http://127.0.0.1:${port}/hook` }, { url: up.url() }],
      retry: { ...FAST, maxAttempts: 100 },
    });

    const { returned, ms } = timedNotify(n, deployed(1));
    expect(returned).toBeUndefined();
    expect(ms).toBeLessThan(500);
    // The dead receiver holds back nobody else.
    await up.waitFor(1);
    await eventually(() => metrics.retriedCount >= 2);
    const refused = log.lines.find((l) => l.msg === 'notification not delivered; trying again');
    expect(refused?.level).toBe('warn');
    expect(String(refused?.fields.error)).toContain('ECONNREFUSED');

    const late = await receiver(undefined, port);
    const [got] = await late.waitFor(1);
    expect(JSON.parse(got!.body.toString('utf8'))).toMatchObject({ event: 'deployed', revision: 1 });
    await eventually(() => metrics.deliveredCount === 2);
    expect(metrics.drops).toEqual({});
  });

  it('gives up a 4xx (and a redirect) at once, but tries 408 and 429 again', async () => {
    const answers: Answer[] = [
      400,
      { status: 307, headers: { location: '/elsewhere' } },
      { status: 429, headers: { 'retry-after': '0' } },
      408,
      200,
      200,
    ];
    const r = await receiver((i) => answers[i] ?? 500);
    const { n, metrics, log } = notifier({ targets: [{ url: r.url() }] });
    for (let i = 1; i <= 4; i++) n.notify(deployed(i));

    await r.waitFor(6);
    await eventually(() => metrics.deliveredCount === 2);
    await new Promise((res) => setTimeout(res, 100));
    expect(r.requests).toHaveLength(6);
    expect(r.requests.map((g) => (JSON.parse(g.body.toString('utf8')) as { revision: number }).revision)).toEqual([
      1, 2, 3, 3, 3, 4,
    ]);
    expect(r.requests.every((g) => g.path === '/hooks/kipper')).toBe(true); // the redirect was not followed
    expect(metrics.drops).toEqual({ rejected: 2 });
    expect(metrics.retriedCount).toBe(2);
    expect(
      log.lines.filter((l) => l.msg === 'notification dropped: the receiver refused it').map((l) => l.fields.status),
    ).toEqual([400, 307]);
  });

  it('gives up after the last attempt, counted and logged', async () => {
    const r = await receiver(() => 503);
    const { n, metrics, log } = notifier({ targets: [{ url: r.url() }], retry: { ...FAST, maxAttempts: 3 } });
    n.notify(deployed(1));
    await r.waitFor(3);
    await eventually(() => metrics.drops.exhausted === 1);
    expect(metrics.retriedCount).toBe(2);
    expect(log.lines.find((l) => l.msg === 'notification dropped after 3 attempts')).toMatchObject({
      level: 'warn',
      fields: { status: 503 },
    });
  });

  it('counts an attempt that gets no answer in time as failed, and tries again', async () => {
    const r = await receiver((i) => (i === 0 ? new Promise<number>(() => undefined) : 200));
    const { n, metrics, log } = notifier({ targets: [{ url: r.url() }], attemptTimeoutMs: 100 });
    n.notify(deployed(1));
    await r.waitFor(2);
    await eventually(() => metrics.deliveredCount === 1);
    expect(metrics.retriedCount).toBe(1);
    expect(log.lines.find((l) => l.msg === 'notification not delivered; trying again')?.fields.error).toBe(
      'no answer within 100 ms',
    );
  });

  it('bounds the queue: when full, the oldest waiting events are dropped, counted, and logged once', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((res) => (release = res));
    const r = await receiver(async (i) => {
      if (i === 0) await gate;
      return 200;
    });
    const { n, metrics, log } = notifier({ targets: [{ url: r.url() }], queueSize: 3 });
    n.notify(deployed(0));
    await r.waitFor(1); // revision 0 is in flight, held by the receiver
    for (let i = 1; i <= 9; i++) n.notify(deployed(i));
    expect(metrics.drops).toEqual({ queue_full: 6 });
    expect(n.depth).toBe(4);
    release();

    await r.waitFor(4);
    await eventually(() => metrics.deliveredCount === 4);
    expect(r.requests.map((g) => (JSON.parse(g.body.toString('utf8')) as { revision: number }).revision)).toEqual([
      0, 7, 8, 9,
    ]);
    const full = log.lines.filter((l) => l.msg.startsWith('notification queue full'));
    expect(full).toHaveLength(1);
    expect(full[0]!.fields).toMatchObject({ target: `http://127.0.0.1:${r.port}/…`, queueSize: 3 });
    await eventually(() => log.lines.some((l) => l.msg === 'notification queue drained'));
    expect(log.lines.find((l) => l.msg === 'notification queue drained')!.fields.dropped).toBe(6);
  });

  it('close() delivers what the receiver takes within the bound, then refuses new events', async () => {
    const r = await receiver(async () => {
      await new Promise((res) => setTimeout(res, 30));
      return 200;
    });
    const { n, metrics } = notifier({ targets: [{ url: r.url() }] });
    for (let i = 1; i <= 3; i++) n.notify(deployed(i));
    await n.close(2_000);
    expect(metrics.deliveredCount).toBe(3);
    expect(r.requests).toHaveLength(3);

    n.notify(deployed(4));
    expect(metrics.drops).toEqual({ shutdown: 1 });
    await new Promise((res) => setTimeout(res, 50));
    expect(r.requests).toHaveLength(3);
  });

  it('close() ends within its bound when receivers hang or are down, dropping the rest with a count', async () => {
    const hanging = await receiver(() => new Promise<number>(() => undefined));
    const down = await closedPort();
    const { n, metrics, log } = notifier({
      targets: [{ url: hanging.url() }, { url: `http://127.0.0.1:${down}/` }],
      attemptTimeoutMs: 10_000,
      retry: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    n.notify(deployed(1));
    n.notify(deployed(2));
    await hanging.waitFor(1);
    await eventually(() => metrics.retriedCount === 1); // the down one waits out a 10 s backoff

    const t0 = Date.now();
    await n.close(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(metrics.drops).toEqual({ shutdown: 4 });
    await n.close(200);
    const logged = log.lines.filter((l) => l.msg.startsWith('notifications dropped at shutdown'));
    expect(logged).toEqual([expect.objectContaining({ level: 'warn', fields: { dropped: 4, timeoutMs: 200 } })]);
    expect(n.depth).toBe(0);
  });

  it('sends a Slack message to a target in Slack format, and the JSON event to the others, both signed', async () => {
    const slack = await receiver(() => 200);
    const json = await receiver();
    const { n, metrics } = notifier({
      targets: [{ url: slack.url('/services/T0/B0/x'), format: 'slack' }, { url: json.url() }],
    });
    n.notify(deployed(12, { reason: 'hotfix <b>', author: 'alice', url: 'https://git.example.com/c/abc' }));

    const [s] = await slack.waitFor(1);
    const [j] = await json.waitFor(1);
    await eventually(() => metrics.deliveredCount === 2);
    const message = JSON.parse(s!.body.toString('utf8')) as {
      text: string;
      blocks: Array<{ type: string; text: { type: string; text: string } }>;
    };
    expect(Object.keys(message)).toEqual(['text', 'blocks']);
    expect(message.text).toBe('team/api deployed revision 12: ghcr.io/acme/api:1.12');
    expect(message.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    expect(message.blocks[0]!.text.text).toContain('*Reason:* hotfix &lt;b&gt;');
    expect(verify(key, s!.body, s!.headers['x-kipper-signature-256'] as string)).toBe(true);
    expect(JSON.parse(j!.body.toString('utf8'))).toMatchObject({ event: 'deployed', reason: 'hotfix <b>' });
    expect(s!.headers['x-kipper-delivery']).toBe(j!.headers['x-kipper-delivery']);
  });

  it('sends each target only the events it asked for, and follows a changing target list', async () => {
    const all = await receiver();
    const refusals = await receiver();
    let targets = [{ url: all.url() }, { url: refusals.url(), events: ['refused' as const] }];
    const { n, metrics } = notifier({ targets: () => targets });
    n.notify(deployed(1));
    n.notify(eventOf('refused'));
    targets = [{ url: refusals.url(), events: ['refused' as const] }];
    n.notify(deployed(2));

    await all.waitFor(2);
    await refusals.waitFor(1);
    await eventually(() => metrics.deliveredCount === 3);
    await new Promise((res) => setTimeout(res, 50));
    expect(all.requests.map((g) => g.headers['x-kipper-event'])).toEqual(['deployed', 'refused']);
    expect(refusals.requests.map((g) => g.headers['x-kipper-event'])).toEqual(['refused']);
  });

  it('never throws from notify: an event that cannot be built is counted and logged', () => {
    const { n, metrics, log } = notifier({
      targets: () => {
        throw new Error('kipper.yaml is being reloaded');
      },
    });
    expect(() => n.notify(deployed(1))).not.toThrow();
    const broken = notifier({ targets: [{ url: 'http://127.0.0.1:9/' }] });
    expect(() => broken.n.notify(deployed(1, { reason: 10n as never }))).not.toThrow();
    expect(metrics.drops).toEqual({ error: 1 });
    expect(broken.metrics.drops).toEqual({ error: 1 });
    expect(log.lines[0]).toMatchObject({ level: 'error', msg: 'notification not sent: it could not be built' });
  });

  it('never writes a target URL path or query to the log, whatever happens to it', async () => {
    const lines: string[] = [];
    const log = createLogger('trace', { write: (line) => void lines.push(line) });
    const failing = await receiver((i) => [500, 400][i] ?? 200);
    const down = await closedPort();
    const secretPath = '/services/T0SECRET/B0SECRET/tokenSECRET?key=querySECRET';
    const { n, metrics } = notifier({
      log,
      queueSize: 1,
      targets: [{ url: `${failing.url(secretPath)}` }, { url: `http://127.0.0.1:${down}${secretPath}` }],
      retry: { ...FAST, maxAttempts: 2 },
      attemptTimeoutMs: 1_000,
    });
    for (let i = 1; i <= 3; i++) n.notify(deployed(i));
    await eventually(() => (metrics.drops.exhausted ?? 0) >= 1 && (metrics.drops.rejected ?? 0) >= 1);
    await n.close(500);

    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(5);
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('/services');
    expect(text).toContain(`"target":"http://127.0.0.1:${failing.port}/…"`);
  });
});
