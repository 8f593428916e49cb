import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds } from '../helpers/config-repo.js';
import { headOf, logOf } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const apps = appIds(4);
const token = (app: string) => tokenFor(TEST_SECRET_KEY, app, 1);
const image = (app: string, tag: string) => `registry.example.com/${app.split('/')[1]}:${tag}`;

function send(bridge: BridgeProcess, app: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return postWebhook(bridge.url, app, body, { 'x-kipper-token': token(app), ...headers });
}

// Issue #18, "A CI retry can roll an app back" (docs/design.md "Retries never move an app backwards").
describe('retries never move an app backwards', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(apps.length, {}, { delayMs: 0 }));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('answers 409 SUPERSEDED to a repeat of a webhook deploy that a newer one replaced, writing nothing', async () => {
    const app = apps[0]!;
    const rx = await send(bridge, app, { image: image(app, 'rx'), commit: '1111111' });
    expect(rx.json).toMatchObject({ status: 'deployed' });
    const ry = await send(bridge, app, { image: image(app, 'ry'), commit: '2222222' });
    expect(ry.json).toMatchObject({ status: 'deployed' });
    const head = await headOf(bare);

    const retry = await send(bridge, app, { image: image(app, 'rx'), commit: '1111111' });
    expect(retry.status).toBe(409);
    expect(retry.json).toMatchObject({ code: 'SUPERSEDED', revision: rx.json.revision, current: ry.json.revision });
    expect(await headOf(bare)).toBe(head);

    // The image that runs, sent again: the ordinary "unchanged".
    const same = await send(bridge, app, { image: image(app, 'ry'), commit: '2222222' });
    expect(same.status).toBe(200);
    expect(same.json).toMatchObject({ status: 'unchanged', revision: ry.json.revision });
    expect(await headOf(bare)).toBe(head);
  });

  it('answers SUPERSEDED when the newer deploy lands while the retry waits in the queue', async () => {
    const app = apps[1]!;
    const rx = await send(bridge, app, { image: image(app, 'rx'), commit: '3333333' });
    expect(rx.json).toMatchObject({ status: 'deployed' });
    // The newer build and the retry of the older one, in flight together: the retry is
    // judged on the head the newer one left, never committed after it.
    const [newer, retry] = await Promise.all([
      send(bridge, app, { image: image(app, 'ry'), commit: '4444444' }),
      new Promise((r) => setTimeout(r, 5)).then(() =>
        send(bridge, app, { image: image(app, 'rx'), commit: '3333333' }),
      ),
    ]);
    expect(newer.json).toMatchObject({ status: 'deployed' });
    // Either it was judged before the newer one landed (then it was current: unchanged,
    // and the newer one came after it) or after (SUPERSEDED): never a commit of rx.
    if (retry.status === 409)
      expect(retry.json).toMatchObject({
        code: 'SUPERSEDED',
        revision: rx.json.revision,
        current: newer.json.revision,
      });
    else expect(retry.json).toMatchObject({ status: 'unchanged' });
    const log = await logOf(bare, 'main', 5);
    expect(log[0]!.message).toContain(`Kipper-Image: ${image(app, 'ry')}`);
    expect(log.filter((c) => c.message.includes(`Kipper-Image: ${image(app, 'rx')}`))).toHaveLength(1);
  });

  it('replays the first answer to the same Idempotency-Key, whatever happened in between, with Idempotent-Replayed', async () => {
    const app = apps[2]!;
    const key = 'gitlab-job-4242/attempt-1';
    const first = await send(bridge, app, { image: image(app, 'k1'), commit: '5555555' }, { 'Idempotency-Key': key });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ status: 'deployed', image: image(app, 'k1') });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const [commit] = await logOf(bare, 'main', 1);
    expect(commit!.message).toContain(`Kipper-Idempotency-Key: ${key}`);
    expect(commit!.message).toContain(`Kipper-Actor: webhook:${app}`);

    await send(bridge, app, { image: image(app, 'k2') });
    const head = await headOf(bare);
    const again = await send(bridge, app, { image: image(app, 'k1'), commit: '5555555' }, { 'Idempotency-Key': key });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await headOf(bare)).toBe(head);
  });

  it('answers the key from git after a kill -9, and on another replica with its own data dir', async () => {
    const app = apps[3]!;
    const key = 'run-77';
    const first = await send(
      bridge,
      app,
      { image: image(app, 'kill1'), commit: '6666666' },
      { 'Idempotency-Key': key },
    );
    expect(first.json).toMatchObject({ status: 'deployed' });
    await send(bridge, app, { image: image(app, 'kill2') });
    const head = await headOf(bare);

    await bridge.stop('SIGKILL');
    bridge = await startBridge({ ...bridge.env, KIPPER_DATA_DIR: bridge.dataDir });
    const afterRestart = await send(
      bridge,
      app,
      { image: image(app, 'kill1'), commit: '6666666' },
      { 'Idempotency-Key': key },
    );
    expect(afterRestart.json).toEqual(first.json);
    expect(afterRestart.headers.get('idempotent-replayed')).toBe('true');

    const replica = await startBridge({
      KIPPER_REPO_URL: server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    try {
      const elsewhere = await send(
        replica,
        app,
        { image: image(app, 'kill1'), commit: '6666666' },
        { 'Idempotency-Key': key },
      );
      expect(elsewhere.json).toEqual(first.json);
      expect(elsewhere.headers.get('idempotent-replayed')).toBe('true');
      // Without the key, the other replica still refuses to go back.
      const unkeyed = await send(replica, app, { image: image(app, 'kill1'), commit: '6666666' });
      expect(unkeyed.status).toBe(409);
      expect(unkeyed.json.code).toBe('SUPERSEDED');
    } finally {
      await replica.stop();
    }
    expect(await headOf(bare)).toBe(head);
  });

  it('refuses an Idempotency-Key that is not 1–255 printable characters, writing nothing', async () => {
    const head = await headOf(bare);
    for (const key of ['x'.repeat(256), 'tab\there', 'é-unicode']) {
      const res = await send(bridge, apps[0]!, { image: image(apps[0]!, 'badkey') }, { 'Idempotency-Key': key });
      expect(res.status, key).toBe(400);
      expect(res.json.code).toBe('INVALID_BODY');
    }
    expect(await headOf(bare)).toBe(head);
  });
});

// Issue #18 §5: "A 401 for an unknown app takes 10–134 ms, a known one 2–5 ms".
describe('a 401 for an unknown app', () => {
  let server: GitServer;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    ({ server, bridge } = await startRemoteBridge(1));
  });
  afterAll(async () => {
    server?.setHanging(false);
    await bridge?.stop();
    await server?.close();
  });

  it('never waits for the remote: with a remote that hangs, it answers as fast as a known app’s', async () => {
    server.setHanging(true);
    const timed = async (app: string) => {
      const started = performance.now();
      const res = await postWebhook(
        bridge.url,
        app,
        { image: 'registry.example.com/x:1' },
        { 'x-kipper-token': 'f'.repeat(64) },
      );
      return { status: res.status, code: res.json.code, ms: performance.now() - started };
    };
    const unknown = [];
    for (let i = 0; i < 3; i++) unknown.push(await timed(`team-test/nope-${i}`));
    const known = await timed(apps[0]!.replace(/app-\d+$/, 'app-0000'));
    for (const answer of [...unknown, known]) expect(answer).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    // A look at this remote never ends: waiting for one (the old path) cost the 3 s look limit.
    expect(Math.max(...unknown.map((u) => u.ms))).toBeLessThan(1_000);
  });
});
