/**
 * Waiting is cheap (issue #12): 500 CI requests with `?wait=` on 50 Argo CD applications
 * (ten retries of one deploy per app, as `curl --retry` makes them) against an Argo CD
 * double over real HTTP. Measures the bridge's memory and CPU while they wait, the
 * requests Argo CD gets, and the latency of deploys to other apps beside an idle run.
 * Issue #22: the same window twice, with Argo CD's watch streams (one per application)
 * and with them refused (the bridge polls every 2 s, as it always did before).
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { startBridge } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { git } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { eventually } from '../helpers/eventually.js';
import { startArgoDouble } from '../helpers/syncer-doubles.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { bridgeEnv, bridgeSequential, quantile } from './deploy-timing.js';
import { cpuBetween, sampleCpu } from './proc-cpu.js';

const WATCHED = 50;
const RETRIES = 10;
const WAIT_S = 600;
const WINDOW_MS = 10_000;

export interface RolloutBenchResult {
  waiters: number;
  applications: number;
  /** p50 of one deploy at a time to apps nobody waits on: idle, then while the waiters wait (ms). */
  idleP50: number;
  waitingP50: number;
  /** Resident memory before the waiters and with all of them waiting (MB). */
  rssIdleMb: number;
  rssWaitingMb: number;
  /** The bridge's CPU while they wait, in ms per second of wall time (watch streams open). */
  cpuMsPerSecond: number;
  /** GET requests Argo CD got per second while they wait (watch streams open). */
  syncerGetsPerSecond: number;
  /** Watch streams open while they wait (one per application). */
  streams: number;
  /** The same with the streams refused: the bridge polls. */
  pollingCpuMsPerSecond: number;
  pollingGetsPerSecond: number;
  /** From Argo CD reporting every app healthy to the last waiter answered (ms), through the streams. */
  releaseMs: number;
  /** How many waiters were answered 200 with a healthy rollout. */
  healthy: number;
}

/** Resident memory now (VmRSS), in MB: what the waiters hold, not the peak of earlier work. */
async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

export async function rolloutBench(server: GitServer, rounds: number): Promise<RolloutBenchResult> {
  const ids = appIds(WATCHED * 2);
  const watched = ids.slice(0, WATCHED);
  const others = ids.slice(WATCHED);
  const appName = (id: string) => id.split('/')[1]!;
  const bare = await createConfigRepo(server.root, 'config-rollout.git', ids.length, {
    appKeys: (id, i) => (i < WATCHED ? `argocd: { application: ${appName(id)} }` : undefined),
  });
  const seed = (await git(['--git-dir', bare, 'rev-parse', 'refs/heads/main'])).trim();
  const argo = await startArgoDouble();
  // Argo CD runs the seed, healthy: every new revision is pending until it says otherwise.
  for (const id of watched)
    argo.set(appName(id), 'argocd', { syncRevision: seed, phase: 'Succeeded', health: 'Healthy', images: [] });
  const bridge = await startBridge({
    ...bridgeEnv(server.url('config-rollout.git')),
    KIPPER_ARGOCD_URL: argo.url,
    KIPPER_ARGOCD_TOKEN: argo.token,
  });
  const pid = bridge.child.pid!;
  const post = (id: string, image: string, query = '') =>
    sendWebhook(bridge.url, `${id}${query}`, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, id, 1) });
  const sequential = async (tag: string) =>
    quantile((await bridgeSequential(bridge, server, others, rounds, tag)).times, 0.5);
  try {
    const idleP50 = await sequential('idle');
    const rssIdleMb = await rssMb(pid);

    // Every app gets one deploy and nine retries of it, all at once, all waiting.
    const imageOf = (id: string) => `registry.example.com/${appName(id)}:waited`;
    const answers = watched.flatMap((id) =>
      Array.from({ length: RETRIES }, () => post(id, imageOf(id), `?wait=${WAIT_S}`)),
    );
    let answered = 0;
    for (const a of answers) a.then(() => answered++).catch(() => undefined);
    // Until each app's deploy is in history, then a poll interval for the retries to queue up.
    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    for (const id of watched) {
      for (;;) {
        const h = (await (await fetch(`${bridge.url}/api/v1/apps/${id}/history`, { headers: admin })).json()) as {
          revisions: Array<{ image: string }>;
        };
        if (h.revisions[0]?.image === imageOf(id)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 3_000));
    if (answered > 0) throw new Error(`${answered} waiters were answered before their rollout settled`);

    /** The bridge's CPU (ms/s) and Argo CD's GETs (/s) over one window. */
    const window = async () => {
      const before = await sampleCpu(pid);
      const gets0 = argo.gets;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const cpu = cpuBetween(before, await sampleCpu(pid));
      const seconds = (performance.now() - t0) / 1000;
      return { cpuMsPerSecond: cpu.self / seconds, getsPerSecond: (argo.gets - gets0) / seconds };
    };
    const allStreaming = () =>
      eventually('a watch stream per application', () => argo.openStreams === WATCHED, {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    await allStreaming();
    const streaming = await window();
    const streams = argo.openStreams;
    const rssWaiting = await rssMb(pid);
    // Streams refused: the bridge falls back to polling (and retries the streams with backoff).
    argo.setStreaming(false);
    argo.dropStreams();
    await new Promise((r) => setTimeout(r, 3_000));
    const polling = await window();
    argo.setStreaming(true);
    await allStreaming();
    const waitingP50 = await sequential('beside');
    const rssWaitingMb = Math.max(rssWaiting, await rssMb(pid));
    if (answered > 0) throw new Error(`${answered} waiters were answered before their rollout settled`);

    // Argo CD syncs the head (a descendant of every waited-for commit), healthy, new images.
    const head = (await git(['--git-dir', bare, 'rev-parse', 'refs/heads/main'])).trim();
    const released = performance.now();
    for (const id of watched)
      argo.set(appName(id), 'argocd', {
        syncRevision: head,
        phase: 'Succeeded',
        health: 'Healthy',
        images: [imageOf(id)],
      });
    const results = await Promise.all(answers);
    const releaseMs = performance.now() - released;
    const healthy = results.filter(
      (r) => r.status === 200 && (r.json.rollout as { state?: string } | undefined)?.state === 'healthy',
    ).length;
    return {
      waiters: answers.length,
      applications: WATCHED,
      idleP50,
      waitingP50,
      rssIdleMb,
      rssWaitingMb,
      cpuMsPerSecond: streaming.cpuMsPerSecond,
      syncerGetsPerSecond: streaming.getsPerSecond,
      streams,
      pollingCpuMsPerSecond: polling.cpuMsPerSecond,
      pollingGetsPerSecond: polling.getsPerSecond,
      releaseMs,
      healthy,
    };
  } finally {
    await bridge.stop();
    await argo.close();
  }
}
