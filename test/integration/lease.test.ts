import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { replicaEnv, startLeaseApi, type LeaseApi } from '../helpers/lease-api.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { signForward } from '../../src/http/forward-seal.js';
import { forwardKeys } from '../../src/http/forward-writes.js';

// docs/running-in-a-cluster.md "Replicas": one writer per config repo through a Lease,
// followers forward writes to it with a MAC from the shared KIPPER_SECRET_KEY.
describe('three replicas under KIPPER_LEASE', () => {
  let server: GitServer;
  let bare: string;
  let api: LeaseApi;
  const replicas: Array<BridgeProcess & { name: string }> = [];
  const apps = appIds(4);

  beforeAll(async () => {
    server = await startGitServer();
    bare = await createConfigRepo(server.root, 'config.git', 4);
    api = await startLeaseApi();
    for (const name of ['replica-a', 'replica-b', 'replica-c']) {
      const env = await replicaEnv(api, name);
      const b = await startBridge({
        ...env,
        KIPPER_REPO_URL: server.url('config.git'),
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
        KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        KIPPER_LOG_LEVEL: 'info',
      });
      replicas.push({ ...b, name });
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((b) => b.stop()));
    await server?.close();
    await api?.close();
  });

  const holderOf = async () =>
    eventually('a lease holder', () => {
      const h = api.leases.get('kipper/kipper-writer')?.spec.holderIdentity;
      return replicas.find((r) => r.url === h);
    });

  it('elects one holder, and a webhook to a follower is committed by the holder', async () => {
    const holder = await holderOf();
    const follower = replicas.find((r) => r !== holder)!;
    const app = apps[0]!;
    const res = await postWebhook(
      follower.url,
      app,
      { image: 'registry.example.com/app-0000:via-follower' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
    );
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.status).toBe('deployed');
    const [head] = await logOf(bare, 'main', 1);
    expect(head!.oid).toBe(res.json.configCommit);
    expect(head!.authorName).toBe(holder.name);
    // The holder's answer, header by header that matters: a replay by Idempotency-Key.
    const key = { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1), 'Idempotency-Key': 'lease-test-1' };
    const first = await postWebhook(follower.url, app, { image: 'registry.example.com/app-0000:keyed' }, key);
    const again = await postWebhook(
      replicas.find((r) => r !== holder && r !== follower)!.url,
      app,
      { image: 'registry.example.com/app-0000:keyed' },
      key,
    );
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json.configCommit).toBe(first.json.configCommit);
    // Reads stay local and agree.
    const history = await fetch(`${follower.url}/api/v1/apps/${app}/history`, {
      headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(history.status).toBe(200);
  });

  it("indexes the holder's pushes on a follower when a read asks, not at every push, and agrees", async () => {
    const holder = await holderOf();
    const follower = replicas.find((r) => r !== holder)!;
    const revisionsHeld = async (b: BridgeProcess) => {
      const text = await (await fetch(`${b.url}/metrics`)).text();
      return Number(/^kipper_history_index_revisions\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const headOf = async (b: BridgeProcess) =>
      ((await (await fetch(`${b.url}/readyz`)).json()) as { head: string }).head;
    const before = await revisionsHeld(follower);
    expect(before).toBeGreaterThan(0);
    let last = '';
    for (let i = 0; i < 3; i++) {
      const app = apps[1 + i]!;
      const res = await postWebhook(
        holder.url,
        app,
        { image: `registry.example.com/${app.split('/')[1]}:lazy-${i}` },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      last = res.json.configCommit as string;
    }
    // The follower has seen the new head, and has not read the three commits for it.
    await eventually('the follower sees the new head', async () => (await headOf(follower)) === last);
    expect(await revisionsHeld(follower)).toBe(before);
    // A read indexes them, and the follower answers what the holder does.
    const historyAt = async (b: BridgeProcess) => {
      const res = await fetch(`${b.url}/api/v1/apps/${apps[3]}/history`, {
        headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      return res.json();
    };
    expect(await historyAt(follower)).toEqual(await historyAt(holder));
    expect(await revisionsHeld(follower)).toBe(before + 3);
  });

  it("forwards admin and console writes from a follower to the holder, with the holder's answer", async () => {
    const holder = await holderOf();
    const follower = replicas.find((r) => r !== holder)!;
    const app = apps[2]!;
    const admin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const lock = await fetch(`${follower.url}/api/v1/apps/${app}/lock`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ reason: 'freeze' }),
    });
    expect(lock.status, await lock.clone().text()).toBe(200);
    expect((await logOf(bare, 'main', 1))[0]!.authorName).toBe(holder.name);
    // The holder's refusal comes back as it is: a locked app's webhook is 423 APP_LOCKED.
    const locked = await postWebhook(
      follower.url,
      app,
      { image: 'registry.example.com/app-0002:locked' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
    );
    expect(locked.status).toBe(423);
    expect(locked.json.code).toBe('APP_LOCKED');
    // A wrong admin token is refused by the holder's own check.
    const wrong = await fetch(`${follower.url}/api/v1/apps/${app}/lock`, {
      method: 'DELETE',
      headers: { ...admin, Authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(wrong.status).toBe(401);

    // The console: signed in at the follower (sessions are signed with a key every replica derives).
    const form = await fetch(`${follower.url}/`);
    const nonce = form.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const signedIn = await fetch(`${follower.url}/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: nonce.join('; ') },
      body: new URLSearchParams({ _csrf: csrf, token: TEST_ADMIN_TOKEN }).toString(),
    });
    expect(signedIn.status).toBe(303);
    const cookie = signedIn.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .filter((c) => !c.endsWith('='))
      .join('; ');
    const page = await (await fetch(`${follower.url}/apps/${app}`, { headers: { cookie } })).text();
    const token = /name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
    const before = (await logOf(bare, 'main', 1))[0]!.oid;
    const unlocked = await fetch(`${follower.url}/apps/${app}/unlock`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ _csrf: token, reason: 'thaw' }).toString(),
    });
    expect(unlocked.status).toBe(303);
    const [head] = await logOf(bare, 'main', 1);
    expect(head!.oid).not.toBe(before);
    expect(head!.authorName).toBe(holder.name);
    const deployed = await postWebhook(
      follower.url,
      app,
      { image: 'registry.example.com/app-0002:unlocked' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
    );
    expect(deployed.status).toBe(200);
  });

  it('refuses forged, altered and replayed forwarded requests, and writes nothing for them', async () => {
    const holder = await holderOf();
    const app = apps[1]!;
    const before = (await logOf(bare, 'main', 1))[0]!.oid;
    const url = `/api/v1/webhook/${app}`;
    const body = Buffer.from(JSON.stringify({ image: 'registry.example.com/app-0001:forged' }));
    const headers = { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) };
    const send = (h: Record<string, string>, b = body) =>
      fetch(`${holder.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: b });
    // A made-up claim, even alongside a good token.
    expect(
      (
        await send({
          ...headers,
          'x-kipper-forwarded': `v1 t=${Date.now()},mac=${'0'.repeat(64)}`,
          'x-kipper-forwarded-headers': 'x',
          'x-kipper-forwarded-for': '1.2.3.4',
        })
      ).status,
    ).toBe(401);
    // Signed with another key.
    const other = signForward(forwardKeys('x'.repeat(48)), { method: 'POST', url, body, from: '1.2.3.4', headers });
    expect((await send(other)).status).toBe(401);
    // Signed right, but the body changed on the way.
    const good = signForward(forwardKeys(TEST_SECRET_KEY), { method: 'POST', url, body, from: '1.2.3.4', headers });
    expect(
      (await send(good, Buffer.from(JSON.stringify({ image: 'registry.example.com/app-0001:altered' })))).status,
    ).toBe(401);
    // Too old.
    const stale = signForward(
      forwardKeys(TEST_SECRET_KEY),
      { method: 'POST', url, body, from: '1.2.3.4', headers },
      Date.now() - 120_000,
    );
    expect((await send(stale)).status).toBe(401);
    expect((await logOf(bare, 'main', 1))[0]!.oid).toBe(before);
    // Signed right: served once (the caller's sealed token authorises it), a replay is refused.
    const fresh = signForward(forwardKeys(TEST_SECRET_KEY), { method: 'POST', url, body, from: '1.2.3.4', headers });
    const served = await send(fresh);
    expect(served.status).toBe(200);
    expect((await send(fresh)).status).toBe(401);
    // A forwarded request without the caller's token inside is just unauthorised.
    const noToken = signForward(forwardKeys(TEST_SECRET_KEY), {
      method: 'POST',
      url,
      body,
      from: '1.2.3.4',
      headers: { 'content-type': 'application/json' },
    });
    expect((await send(noToken)).status).toBe(401);
  });
});

describe('KIPPER_LEASE outside a cluster', () => {
  it('without KIPPER_KUBECONFIG stops the start with one clear line, naming what to set', async () => {
    const started = startBridge({
      KIPPER_LEASE: 'kipper/kipper-writer',
      KIPPER_PEER_URL: 'http://127.0.0.1:9',
      KIPPER_REPO_URL: 'http://127.0.0.1:9/config.git',
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KUBERNETES_SERVICE_HOST: '',
    });
    await expect(started).rejects.toThrow(/exited with 1[\s\S]*KIPPER_KUBECONFIG/);
  });
});
