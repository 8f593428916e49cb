import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer, RevisionAnswer } from '../../src/api-types.js';
import { runKip } from '../helpers/bridge-process.js';
import { eventually } from '../helpers/eventually.js';
import { headOf, logOf } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { Receiver } from '../helpers/notify-receiver.js';
import { startArgoDouble, startKubeDouble, type ArgoDouble, type KubeDouble } from '../helpers/syncer-doubles.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/rollout/', import.meta.url));
const ARGO_APP = 'shop-test/api';
const FLUX_APP = 'shop-prod/api';
const image = (name: string, tag: string) => `registry.example.com/${name}:${tag}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Issue #12: rollout status from Argo CD and Flux, through their APIs' doubles over real HTTP.
/**
 * The remote's head once it is no longer `before`: the deploy just sent has landed (a
 * fixed sleep was not always enough on a busy machine, and the test then told Argo CD
 * about the commit before ours).
 */
function headAfter(bare: string, before: string): Promise<string> {
  return eventually(
    `the remote head to move on from ${before}`,
    async () => {
      const head = await headOf(bare);
      return head !== before && head;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
}

/**
 * How long a test lets the bridge act on a syncer state it has been seen to observe before
 * it asserts that a waiting deploy has NOT answered yet (a "not yet" needs a window; the
 * fixed 2.5 s sleeps this replaced left at least 0.5 s after the 2 s poll).
 */
const SETTLE_GRACE_MS = 1_000;

describe('rollout status', () => {
  let rb: RemoteBridge;
  let argo: ArgoDouble;
  let kube: KubeDouble;
  let receiver: Receiver;
  /** The notification events received so far, by name and revision. */
  const notified = () =>
    receiver.requests.map(
      (r) => JSON.parse(r.body.toString('utf8')) as { event: string; app: string; revision: number | null },
    );
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const kipEnv = () => ({ KIPPER_URL: rb.bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });

  /** POST a deploy; `wait` adds ?wait=. Resolves with the status and the JSON answer. */
  async function deploy(
    app: string,
    tag: string,
    wait?: number,
  ): Promise<{ status: number; json: Record<string, unknown>; at: number }> {
    const res = await fetch(`${rb.bridge.url}/api/v1/webhook/${app}${wait === undefined ? '' : `?wait=${wait}`}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) },
      body: JSON.stringify({ image: image('api', tag) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, at: Date.now() };
  }
  const history = async (app: string) =>
    (await (await fetch(`${rb.bridge.url}/api/v1/apps/${app}/history`, { headers: admin })).json()) as HistoryAnswer;
  /**
   * The bridge's history shows `configCommit` as the current revision with this rollout
   * (it has asked the syncer since the test changed it: the poll runs every 2 s), ~10 s at most.
   */
  const historyShows = (app: string, configCommit: string, rollout: { state: string; revision: string }) =>
    eventually(`${app} history: ${configCommit} current, rollout ${rollout.state} at ${rollout.revision}`, async () => {
      const current = (await history(app)).revisions[0];
      return (
        current?.configCommit === configCommit &&
        current.rollout?.state === rollout.state &&
        current.rollout.revision === rollout.revision &&
        current
      );
    });
  const metrics = async () => (await fetch(`${rb.bridge.url}/metrics`)).text();

  beforeAll(async () => {
    argo = await startArgoDouble();
    kube = await startKubeDouble();
    receiver = await Receiver.start();
    rb = await startRemoteBridge(FIXTURE, {
      KIPPER_ARGOCD_URL: argo.url,
      KIPPER_ARGOCD_TOKEN: argo.token,
      KIPPER_KUBECONFIG: await kube.kubeconfig(),
      KIPPER_NOTIFY_URL: receiver.url(),
    });
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
    await argo?.close();
    await kube?.close();
    await receiver?.close();
  });

  it('waits through OutOfSync, a sync of an older commit and Progressing, and answers when this commit is Healthy', async () => {
    const seed = await headOf(rb.bare);
    // Argo CD is in sync with the seed, healthy: "Synced and Healthy" of an older commit.
    argo.set('api-test', 'argocd', {
      syncRevision: seed,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('api', 'seed')],
    });
    const answer = deploy(ARGO_APP, 'v1', 60);
    let settled = false;
    answer.then(() => (settled = true)).catch(() => undefined);
    const ours = await headAfter(rb.bare, seed);
    expect(ours).not.toBe(seed);
    // OutOfSync against our commit, then a sync that is still of the old one: still waiting.
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      syncStatus: 'OutOfSync',
      phase: 'Succeeded',
      operationRevision: seed,
      health: 'Healthy',
      images: [image('api', 'seed')],
    });
    // Seen by the bridge (Argo CD compares against ours but last synced the seed), and
    // given time to act on it: the deploy still waits.
    await historyShows(ARGO_APP, ours, { state: 'progressing', revision: seed });
    await sleep(SETTLE_GRACE_MS);
    expect(settled).toBe(false);
    // Our commit syncs: Running, then Progressing.
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Running',
      health: 'Progressing',
      images: [image('api', 'seed')],
    });
    await historyShows(ARGO_APP, ours, { state: 'progressing', revision: ours });
    await sleep(SETTLE_GRACE_MS);
    expect(settled).toBe(false);
    const progressing = (await history(ARGO_APP)).revisions[0]!;
    expect(progressing.rollout).toMatchObject({ state: 'progressing', revision: ours });
    const flipped = Date.now();
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('api', 'v1')],
    });
    const done = await answer;
    expect(done.at).toBeGreaterThanOrEqual(flipped);
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({
      status: 'deployed',
      app: ARGO_APP,
      configCommit: ours,
      revision: 2,
      rollout: { state: 'healthy', revision: ours, health: 'Healthy' },
    });
    // A retry answers unchanged (no second commit) and the same healthy rollout.
    const retry = await deploy(ARGO_APP, 'v1', 10);
    expect(retry.json).toMatchObject({
      status: 'unchanged',
      configCommit: ours,
      revision: 2,
      rollout: { state: 'healthy' },
    });
    expect(await headOf(rb.bare)).toBe(ours);
    expect(await metrics()).toMatch(/^kipper_rollouts_total\{state="healthy"\} [1-9]/m);
    expect(await metrics()).toMatch(/^kipper_rollout_duration_seconds_count [1-9]/m);
    // Notified too: the deploy, then its rollout healthy.
    await receiver.waitFor(2);
    expect(
      notified()
        .filter((e) => e.app === ARGO_APP && e.revision === 2)
        .map((e) => e.event),
    ).toEqual(['deployed', 'healthy']);
  });

  it('answers 424 ROLLOUT_FAILED with the failing resources when it comes up Degraded', async () => {
    const before = await headOf(rb.bare);
    const answer = deploy(ARGO_APP, 'v2', 60);
    const ours = await headAfter(rb.bare, before);
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Succeeded',
      health: 'Degraded',
      images: [image('api', 'v2')],
      degraded: [{ kind: 'Deployment', name: 'api', message: 'Deployment "api" exceeded its progress deadline' }],
    });
    const done = await answer;
    expect(done.status).toBe(424);
    expect(done.json).toMatchObject({
      code: 'ROLLOUT_FAILED',
      status: 'deployed',
      configCommit: ours,
      revision: 3,
      rollout: { state: 'degraded' },
    });
    expect(String((done.json.rollout as { message: string }).message)).toContain('exceeded its progress deadline');
    await receiver.waitFor(4);
    expect(
      notified()
        .filter((e) => e.revision === 3)
        .map((e) => e.event),
    ).toEqual(['deployed', 'degraded']);
  });

  it('answers 424 for a failed sync, and 504 ROLLOUT_TIMEOUT with the last state when time runs out', async () => {
    const before = await headOf(rb.bare);
    const failing = deploy(ARGO_APP, 'v3', 60);
    let ours = await headAfter(rb.bare, before);
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Failed',
      operationMessage: 'one or more objects failed to apply: admission webhook denied',
      health: 'Healthy',
    });
    const failed = await failing;
    expect(failed.status).toBe(424);
    expect(failed.json.rollout).toMatchObject({
      state: 'failed',
      message: expect.stringContaining('admission webhook denied'),
    });

    const slow = await (async () => {
      const previous = ours;
      const pending = deploy(ARGO_APP, 'v4', 3);
      ours = await headAfter(rb.bare, previous);
      argo.set('api-test', 'argocd', { syncRevision: ours, phase: 'Running', health: 'Progressing' });
      return pending;
    })();
    expect(slow.status).toBe(504);
    expect(slow.json).toMatchObject({
      code: 'ROLLOUT_TIMEOUT',
      configCommit: ours,
      revision: 5,
      rollout: { state: 'progressing' },
    });
  });

  it('marks a revision superseded when a newer one becomes current before it is healthy', async () => {
    const before = await headOf(rb.bare);
    const first = deploy(ARGO_APP, 'v5', 60);
    const older = await headAfter(rb.bare, before);
    argo.set('api-test', 'argocd', { syncRevision: older, phase: 'Running', health: 'Progressing' });
    // The bridge has seen the older revision progressing before the newer one lands.
    await historyShows(ARGO_APP, older, { state: 'progressing', revision: older });
    const second = await deploy(ARGO_APP, 'v6');
    expect(second.status).toBe(200);
    const answer = await first;
    expect(answer.status).toBe(424);
    expect(answer.json.rollout).toMatchObject({ state: 'superseded' });
    const h = await history(ARGO_APP);
    expect(h.revisions.find((r) => r.configCommit === older)!.rollout).toMatchObject({ state: 'superseded' });
  });

  it('reports unknown, naming Argo CD, while it is unreachable; and unknown without a syncer', async () => {
    argo.setDown(true);
    try {
      await sleep(5_200);
      const current = (await history(ARGO_APP)).revisions[0]!;
      expect(current.rollout).toMatchObject({ state: 'unknown', message: expect.stringContaining('Argo CD') });
    } finally {
      argo.setDown(false);
    }
    const worker = await history('shop-test/worker');
    expect(worker.revisions[0]!.rollout).toMatchObject({
      state: 'unknown',
      message: expect.stringContaining('no syncer'),
    });
  });

  it('shows drift when Argo CD runs an older revision with auto-sync off, and serves one revision with its rollout', async () => {
    const h = await history(ARGO_APP);
    const current = h.revisions[0]!;
    const older = h.revisions.find((r) => r.revision === 2)!;
    // What Argo CD's UI rollback does: auto-sync off, the older commit synced.
    argo.set('api-test', 'argocd', {
      syncRevision: current.configCommit,
      syncStatus: 'OutOfSync',
      automated: false,
      phase: 'Succeeded',
      operationRevision: older.configCommit,
      health: 'Healthy',
    });
    await sleep(5_200);
    const drifted = await history(ARGO_APP);
    expect(drifted.drift).toMatchObject({
      cluster: 2,
      git: current.revision,
      reason: expect.stringContaining('auto-sync off'),
    });
    const one = (await (
      await fetch(`${rb.bridge.url}/api/v1/apps/${ARGO_APP}/revisions/2`, { headers: admin })
    ).json()) as RevisionAnswer;
    expect(one).toMatchObject({
      app: ARGO_APP,
      revision: 2,
      configCommit: older.configCommit,
      rollout: { state: 'healthy' },
      drift: { cluster: 2 },
    });
    const missing = await fetch(`${rb.bridge.url}/api/v1/apps/${ARGO_APP}/revisions/999`, { headers: admin });
    expect(missing.status).toBe(404);
  });

  it('follows a Flux Kustomization: Ready after applying our commit is healthy, Ready=False failed, suspended is drift', async () => {
    const before = await headOf(rb.bare);
    const answer = deploy(FLUX_APP, 'f1', 60);
    const ours = await headAfter(rb.bare, before);
    const seed = (await logOf(rb.bare, 'main', 200)).at(-1)!.oid;
    kube.set('Kustomization', 'flux-system', 'api-prod', {
      lastApplied: seed,
      lastAttempted: ours,
      ready: 'Unknown',
      reason: 'Progressing',
    });
    // The bridge has seen it applying ours (still progressing) before it turns Ready.
    await historyShows(FLUX_APP, ours, { state: 'progressing', revision: ours });
    kube.set('Kustomization', 'flux-system', 'api-prod', { lastApplied: ours, ready: 'True' });
    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.json.rollout).toMatchObject({ state: 'healthy', revision: ours });

    const bad = deploy(FLUX_APP, 'f2', 60);
    const next = await headAfter(rb.bare, ours);
    kube.set('Kustomization', 'flux-system', 'api-prod', {
      lastApplied: ours,
      lastAttempted: next,
      ready: 'False',
      reason: 'HealthCheckFailed',
      message: 'timeout waiting for: [Deployment/shop-prod/api status: InProgress]',
    });
    const failed = await bad;
    expect(failed.status).toBe(424);
    expect(failed.json.rollout).toMatchObject({
      state: 'failed',
      message: expect.stringContaining('HealthCheckFailed'),
    });

    kube.set('Kustomization', 'flux-system', 'api-prod', { lastApplied: ours, ready: 'True', suspend: true });
    await sleep(5_200);
    expect((await history(FLUX_APP)).drift).toMatchObject({ reason: expect.stringContaining('suspended') });
  });

  it('kip app wait prints each state and exits 0 healthy, 1 degraded, 3 on timeout; kip app history shows STATUS', async () => {
    let h = await history(ARGO_APP);
    const current = h.revisions[0]!;
    argo.set('api-test', 'argocd', {
      syncRevision: current.configCommit,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [current.image!],
    });
    const ok = await runKip(['app', 'wait', ARGO_APP, '--timeout', '20s'], kipEnv());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`api #${current.revision}: healthy`);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe(`✔ api revision #${current.revision} is healthy`);

    argo.set('api-test', 'argocd', {
      syncRevision: current.configCommit,
      phase: 'Succeeded',
      health: 'Degraded',
      degraded: [{ kind: 'Pod', name: 'api-1', message: 'CrashLoopBackOff' }],
    });
    await sleep(5_200);
    const degraded = await runKip(['app', 'wait', ARGO_APP, '--timeout', '20s'], kipEnv());
    expect(degraded.code).toBe(1);
    expect(degraded.stderr).toContain('degraded');

    argo.set('api-test', 'argocd', { syncRevision: current.configCommit, phase: 'Running', health: 'Progressing' });
    await sleep(5_200);
    const slow = await runKip(
      ['app', 'wait', ARGO_APP, '--revision', String(current.revision), '--timeout', '3s'],
      kipEnv(),
    );
    expect(slow.code).toBe(3);
    expect(slow.stdout).toContain('progressing');

    h = await history(ARGO_APP);
    const table = await runKip(['app', 'history', ARGO_APP], kipEnv());
    expect(table.stdout.split('\n')[0]).toMatch(/^ +# +IMAGE +COMMIT +TRIGGER +STATUS +WHEN +BY$/);
    expect(table.stdout.split('\n')[1]).toContain(h.revisions[0]!.rollout!.state);
  });

  it('costs the syncer one request per interval however many wait on it', async () => {
    const h = await history(ARGO_APP);
    argo.set('api-test', 'argocd', {
      syncRevision: h.revisions[0]!.configCommit,
      phase: 'Running',
      health: 'Progressing',
    });
    await sleep(5_200);
    const before = argo.gets;
    const started = Date.now();
    const waits = Array.from({ length: 40 }, () => deploy(ARGO_APP, h.revisions[0]!.image!.split(':')[1]!, 4));
    const answers = await Promise.all(waits);
    for (const a of answers) expect(a.status).toBe(504);
    const seconds = (Date.now() - started) / 1000;
    // Through Argo CD's watch stream none at all; polling, one every 2 s (plus at most one
    // look per history query): never one per waiter.
    expect(argo.gets - before).toBeLessThanOrEqual(Math.ceil(seconds / 2) + 3);
  });

  /** A console session over plain HTTP, as the sign-in form makes one: the session cookie. */
  async function consoleSession(): Promise<string> {
    const form = await fetch(`${rb.bridge.url}/`);
    const nonce = form.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
    expect(csrf).toBeDefined();
    const signedIn = await fetch(`${rb.bridge.url}/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: nonce.join('; ') },
      body: new URLSearchParams({ _csrf: csrf!, token: TEST_ADMIN_TOKEN }).toString(),
    });
    expect(signedIn.status).toBe(303);
    return signedIn.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .filter((c) => !c.endsWith('='))
      .join('; ');
  }

  // Last: it stops the bridge.
  it('on SIGTERM answers a waiting webhook 503 SHUTTING_DOWN with its committed deploy, ends live views, and exits 0', async () => {
    // Argo CD is busy with the commit before ours: ours is pending.
    const before = await headOf(rb.bare);
    argo.set('api-test', 'argocd', { syncRevision: before, phase: 'Running', health: 'Progressing' });
    const waiting = deploy(ARGO_APP, 'before-shutdown', 600);
    // A console's live view of the same app (server-sent events) is open too.
    const events = await fetch(`${rb.bridge.url}/apps/${ARGO_APP}/events`, {
      headers: { cookie: await consoleSession() },
    });
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    const stream = events.text();
    const committed = await headAfter(rb.bare, before);
    const exited = rb.bridge.stop('SIGTERM');
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({
      code: 'SHUTTING_DOWN',
      status: 'deployed',
      configCommit: committed,
      rollout: { state: 'pending' },
    });
    expect(await stream).toContain('event: revision');
    // Without ending both, the server would wait for them until the forced exit (status 1).
    expect(await exited, rb.bridge.output().slice(-3000)).toBe(0);
  }, 40_000);
});
