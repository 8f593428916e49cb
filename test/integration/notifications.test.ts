import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/config/tokens.js';
import { notificationSecret, verify } from '../../src/notify/signature.js';
import { cloneRepo, commitAndPush, headOf } from '../helpers/git-cli.js';
import { closedPort, DEPLOY_EVENT_FIELDS, Receiver, type Received } from '../helpers/notify-receiver.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const APP = 'team-test/app-0000';
const OTHER = 'team-test/app-0001';
const image = (tag: string) => `registry.example.com/app-0000:${tag}`;

// Issue #13: the bridge tells receivers what happened, signed, after the push, never in the way of a deploy.
describe('notifications from the bridge', () => {
  let rb: RemoteBridge;
  let receiver: Receiver;
  const secret = notificationSecret(deriveKey(TEST_SECRET_KEY, 'notifications'));
  const events = () => receiver.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>);
  const admin = async (method: string, path: string, body?: unknown) =>
    (
      await fetch(`${rb.bridge.url}/api/v1/apps/${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    ).json() as Promise<Record<string, unknown>>;
  const webhook = async (app: string, tag: string) => {
    const res = await fetch(`${rb.bridge.url}/api/v1/webhook/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) },
      body: JSON.stringify({ image: `registry.example.com/${app.split('/')[1]}:${tag}`, commit: 'abc1234' }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const signedBy = (r: Received) => verify(secret, r.body, String(r.headers['x-kipper-signature-256']));

  beforeAll(async () => {
    receiver = await Receiver.start();
    rb = await startRemoteBridge(2, {
      KIPPER_NOTIFY_URL: receiver.url('/kipper/T000/secret-path'),
      KIPPER_PUBLIC_URL: 'https://kipper.example.com',
      KIPPER_LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
    await receiver?.close();
  });

  it('deployed, locked, rolled back, unlocked: each once, in order, signed, with the documented fields', async () => {
    const deployed = await webhook(APP, 'v1');
    expect(deployed.status).toBe(200);
    await admin('POST', `${APP}/lock`, { reason: 'INC-7: bad build', by: 'ana' });
    const rolledBack = await admin('POST', `${APP}/rollback`, { reason: 'INC-7: back to seed' });
    await admin('DELETE', `${APP}/lock`);
    await receiver.waitFor(4);
    expect(events().map((e) => e.event)).toEqual(['deployed', 'locked', 'rolled_back', 'unlocked']);
    for (const r of receiver.requests) {
      expect(signedBy(r)).toBe(true);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-kipper-event']).toBe(JSON.parse(r.body.toString('utf8')).event);
    }
    const [d, l, rb2] = events();
    expect(Object.keys(d!)).toEqual(DEPLOY_EVENT_FIELDS);
    expect(d).toMatchObject({
      app: APP,
      revision: deployed.json.revision,
      image: image('v1'),
      commit: 'abc1234',
      configCommit: deployed.json.configCommit,
      trigger: 'webhook',
      reason: null,
      url: `https://kipper.example.com/apps/${APP}`,
    });
    expect(l).toMatchObject({
      event: 'locked',
      app: APP,
      reason: 'INC-7: bad build',
      author: 'ana',
      actor: 'admin',
      revision: null,
    });
    expect(rb2).toMatchObject({
      event: 'rolled_back',
      trigger: 'rollback',
      reason: 'INC-7: back to seed',
      configCommit: rolledBack.configCommit,
    });
    // The receiver's URL path is a secret (Slack's is): never in the bridge's log.
    expect(rb.bridge.output()).not.toContain('secret-path');
  });

  it('a deploy the bridge answers 503 is announced as refused', async () => {
    const before = receiver.requests.length;
    rb.server.setDown(true);
    try {
      const res = await webhook(OTHER, 'while-down');
      expect(res.status).toBe(503);
    } finally {
      rb.server.setDown(false);
    }
    await receiver.waitFor(before + 1);
    expect(events().at(-1)).toMatchObject({ event: 'refused', app: OTHER, code: 'REPO_UNAVAILABLE' });
  });

  it('a receiver that is down delays no deploy, and gets the events once it is back', async () => {
    const port = await closedPort();
    const clone = await cloneRepo(rb.server.url('config.git'));
    const kipper = readFile(`${clone}/kipper.yaml`, 'utf8');
    // kipper.yaml's `notifications:` adds a target, for deploys only.
    await commitAndPush(
      clone,
      'kipper.yaml',
      `${await kipper}notifications:\n  - url: http://127.0.0.1:${port}/late\n    events: [deployed]\n`,
      'notify a receiver that is not up yet',
    );
    const head = await headOf(rb.bare);
    // Answered while the receiver is down: the deploy never waits for a delivery (the
    // receiver comes up only after this answer).
    const res = await webhook(APP, 'v2');
    expect(res.status).toBe(200);
    expect(res.json.configCommit).not.toBe(head);
    // Its first attempt failed (connection refused) and another is due.
    const metrics = async () => (await fetch(`${rb.bridge.url}/metrics`)).text();
    for (let i = 0; !/^kipper_notifications_total\{result="retried"\} [1-9]/m.test(await metrics()); i++) {
      if (i > 100) throw new Error('the down receiver was never tried');
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = await Receiver.start(() => 204, port);
    try {
      await late.waitFor(1, 15_000);
      const [got] = late.requests;
      expect(JSON.parse(got!.body.toString('utf8'))).toMatchObject({ event: 'deployed', image: image('v2') });
      expect(verify(secret, got!.body, String(got!.headers['x-kipper-signature-256']))).toBe(true);
      // A lock goes to the env's receiver, not to the deploys-only target.
      const before = receiver.requests.length;
      await admin('POST', `${APP}/lock`, { reason: 'later' });
      await receiver.waitFor(before + 1);
      expect(events().at(-1)).toMatchObject({ event: 'locked', reason: 'later' });
      await new Promise((r) => setTimeout(r, 300));
      expect(late.requests).toHaveLength(1);
    } finally {
      await late.close();
    }
    const deployedV2 = events().filter((e) => e.event === 'deployed' && e.image === image('v2'));
    expect(deployedV2).toHaveLength(1);
    expect(await metrics()).toMatch(/^kipper_notifications_total\{result="delivered"\} [1-9]/m);
  }, 30_000);
});
