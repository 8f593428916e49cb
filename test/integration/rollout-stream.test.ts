import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { eventually } from '../helpers/eventually.js';
import { headOf } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { startArgoDouble, type ArgoDouble } from '../helpers/syncer-doubles.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/rollout/', import.meta.url));
const ARGO_APP = 'shop-test/api';
const image = (tag: string) => `registry.example.com/api:${tag}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A "no GET happened" needs a window: longer than two poll intervals (2 s each), so a
 * bridge that polls would have asked at least twice in it.
 */
const QUIET_WINDOW_MS = 4_500;

// Issue #22: Argo CD's watch stream instead of a GET every 2 s, polling only while it is down.
describe('Argo CD watch stream', () => {
  let rb: RemoteBridge;
  let argo: ArgoDouble;
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  async function deploy(
    tag: string,
    wait: number,
  ): Promise<{ status: number; json: Record<string, unknown>; at: number }> {
    const res = await fetch(`${rb.bridge.url}/api/v1/webhook/${ARGO_APP}?wait=${wait}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, ARGO_APP, 1) },
      body: JSON.stringify({ image: image(tag) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, at: Date.now() };
  }
  const headAfter = (before: string) =>
    eventually(`the remote head to move on from ${before}`, async () => {
      const head = await headOf(rb.bare);
      return head !== before && head;
    });
  const historyShows = (configCommit: string, rollout: { state: string; revision: string }) =>
    eventually(`history: ${configCommit} current, rollout ${rollout.state} at ${rollout.revision}`, async () => {
      const h = (await (
        await fetch(`${rb.bridge.url}/api/v1/apps/${ARGO_APP}/history`, { headers: admin })
      ).json()) as HistoryAnswer;
      const current = h.revisions[0];
      return (
        current?.configCommit === configCommit &&
        current.rollout?.state === rollout.state &&
        current.rollout.revision === rollout.revision
      );
    });

  beforeAll(async () => {
    argo = await startArgoDouble();
    rb = await startRemoteBridge(FIXTURE, { KIPPER_ARGOCD_URL: argo.url, KIPPER_ARGOCD_TOKEN: argo.token });
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
    await argo?.close();
  });

  it('follows a waited-for rollout through the stream: no GETs while it waits, the answer as soon as Argo CD says healthy', async () => {
    const seed = await headOf(rb.bare);
    argo.set('api-test', 'argocd', {
      syncRevision: seed,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('seed')],
    });
    const answer = deploy('s1', 60);
    let settled = false;
    answer.then(() => (settled = true)).catch(() => undefined);
    const ours = await headAfter(seed);
    // The wait opened one stream (Argo CD's first line on it is the application as it is now).
    await eventually('the bridge to watch the application', () => argo.openStreams === 1);
    const gets = argo.gets;
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Running',
      health: 'Progressing',
      images: [image('seed')],
    });
    await historyShows(ours, { state: 'progressing', revision: ours });
    await sleep(QUIET_WINDOW_MS);
    expect(settled).toBe(false);
    const flipped = Date.now();
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('s1')],
    });
    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ configCommit: ours, rollout: { state: 'healthy', revision: ours } });
    // Told at once, not at the next poll (up to 2 s later); and no poll meanwhile (history
    // queries included: a live stream's last word is the state now).
    expect(done.at - flipped).toBeLessThan(1_000);
    expect(argo.gets - gets).toBeLessThanOrEqual(1);
    // Nobody waits any more: the stream is closed.
    await eventually('the stream to close', () => argo.openStreams === 0);
  });

  it('polls while the stream is down, and goes back to the stream when it is up again', async () => {
    const before = await headOf(rb.bare);
    const answer = deploy('s2', 90);
    let settled = false;
    answer.then(() => (settled = true)).catch(() => undefined);
    const ours = await headAfter(before);
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Running',
      operationRevision: before,
      health: 'Progressing',
    });
    await eventually('the bridge to watch the application', () => argo.openStreams === 1);
    await historyShows(ours, { state: 'progressing', revision: before });

    // The stream drops, and Argo CD refuses new ones for a while (a restart, a proxy).
    argo.setStreaming(false);
    argo.dropStreams();
    const gets = argo.gets;
    argo.set('api-test', 'argocd', { syncRevision: ours, phase: 'Running', health: 'Progressing' });
    // Seen all the same: by polling.
    await historyShows(ours, { state: 'progressing', revision: ours });
    await eventually('polls every 2 s', () => argo.gets >= gets + 2, { timeoutMs: 8_000 });
    expect(argo.openStreams).toBe(0);
    expect(settled).toBe(false);

    // Back: the bridge reconnects (backoff 1, 2, 4 … s) and stops polling.
    const streams = argo.streams;
    argo.setStreaming(true);
    await eventually('the bridge to reconnect', () => argo.openStreams === 1 && argo.streams > streams, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const polled = argo.gets;
    await sleep(QUIET_WINDOW_MS);
    const flipped = Date.now();
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('s2')],
    });
    const done = await answer;
    expect(done.json).toMatchObject({ configCommit: ours, rollout: { state: 'healthy', revision: ours } });
    expect(done.at - flipped).toBeLessThan(1_000);
    // At most the one poll that may have been on its way when the stream came back.
    expect(argo.gets - polled).toBeLessThanOrEqual(1);
  }, 60_000);

  it('reports unknown, naming Argo CD, when the stream and the API are unreachable while someone waits', async () => {
    const before = await headOf(rb.bare);
    const answer = deploy('s3', 60);
    const ours = await headAfter(before);
    argo.set('api-test', 'argocd', { syncRevision: ours, phase: 'Running', health: 'Progressing' });
    await eventually('the bridge to watch the application', () => argo.openStreams === 1);
    argo.setDown(true);
    try {
      await eventually('history to say unknown', async () => {
        const h = (await (
          await fetch(`${rb.bridge.url}/api/v1/apps/${ARGO_APP}/history`, { headers: admin })
        ).json()) as HistoryAnswer;
        const rollout = h.revisions[0]?.rollout;
        return rollout?.state === 'unknown' && rollout.message?.includes('Argo CD') && rollout;
      });
    } finally {
      argo.setDown(false);
    }
    argo.set('api-test', 'argocd', {
      syncRevision: ours,
      phase: 'Succeeded',
      health: 'Healthy',
      images: [image('s3')],
    });
    expect((await answer).json).toMatchObject({ rollout: { state: 'healthy' } });
  }, 60_000);
});
