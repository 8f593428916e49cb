import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { replicaEnv, startLeaseApi, type LeaseApi } from '../helpers/lease-api.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { LEASE_TIMING, JITTER_FACTOR } from '../../src/lease/lease-timing.js';

type Replica = BridgeProcess & { name: string };
const LEASE = 'kipper/kipper-writer';
const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = LEASE_TIMING;

// docs/running-in-a-cluster.md "Replicas": what happens when the writer goes away.
describe('the lease holder going away', () => {
  let server: GitServer;
  let api: LeaseApi;
  let bare: string;
  let replicas: Replica[] = [];

  async function start(names: string[], apps: number) {
    server = await startGitServer();
    bare = await createConfigRepo(server.root, 'config.git', apps);
    api = await startLeaseApi();
    replicas = [];
    for (const name of names) {
      const b = await startBridge({
        ...(await replicaEnv(api, name, LEASE)),
        KIPPER_REPO_URL: server.url('config.git'),
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
        KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        KIPPER_LOG_LEVEL: 'warn',
      });
      replicas.push({ ...b, name });
    }
  }
  const holderIdentity = () => api.leases.get(LEASE)?.spec.holderIdentity;
  const holder = () => eventually('a lease holder', () => replicas.find((r) => r.url === holderIdentity()));

  afterEach(async () => {
    await Promise.all(replicas.map((b) => b.stop('SIGKILL')));
    await server?.close();
    await api?.close();
  });

  it('killed with SIGKILL mid-burst: no deploy lost or duplicated, writes resume within the lease duration', async () => {
    await start(['replica-a', 'replica-b', 'replica-c'], 8);
    const apps = appIds(8);
    const dead = await holder();
    const requests = Array.from({ length: 160 }, (_, i) => ({
      i,
      app: apps[i % 8]!,
      image: `registry.example.com/app-${String(i % 8).padStart(4, '0')}:burst-${i}`,
    }));
    const answers: Array<{ i: number; status: number; at: number; json: Record<string, unknown> }> = [];
    const refusals: Array<{ status: number; retryAfter: number }> = [];
    let killedAt = 0;
    let lastRenewAt = 0;
    let next = 0;
    // A CI client: retries 503s and dropped connections at any replica, with its Idempotency-Key.
    const worker = async () => {
      for (let r = requests[next++]; r !== undefined; r = requests[next++]) {
        for (let attempt = 0; ; attempt++) {
          const target = replicas[(r.i + attempt) % replicas.length]!;
          const res = await postWebhook(
            target.url,
            r.app,
            { image: r.image },
            { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, r.app, 1), 'Idempotency-Key': `burst-${r.i}` },
          ).catch(() => null);
          if (res?.status === 200) {
            answers.push({ i: r.i, status: res.status, at: Date.now(), json: res.json });
            if (answers.length === 40 && killedAt === 0) {
              lastRenewAt = Date.parse(api.leases.get(LEASE)!.spec.renewTime!);
              killedAt = Date.now();
              dead.child.kill('SIGKILL');
            }
            break;
          }
          if (res) refusals.push({ status: res.status, retryAfter: Number(res.headers.get('retry-after')) });
          expect(res === null || res.status === 503, JSON.stringify(res?.json)).toBe(true);
          expect(attempt).toBeLessThan(400);
          await new Promise((resolve) => setTimeout(resolve, 100)); // the client's own backoff
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    expect(answers).toHaveLength(160);
    // While no holder was reachable, followers said so, and when to come back.
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) expect(r.retryAfter).toBeGreaterThan(0);
    for (const r of refusals) expect(r.retryAfter).toBeLessThanOrEqual(5);
    const log = await logOf(bare, 'main', 10_000);
    const commitsOf = new Map<string, number>();
    for (const c of log) {
      const image = /^Kipper-Image: (.+)$/m.exec(c.message)?.[1];
      if (image) commitsOf.set(image, (commitsOf.get(image) ?? 0) + 1);
    }
    const oids = new Set(log.map((c) => c.oid));
    for (const a of answers) {
      expect(a.json.status).toBe('deployed');
      expect(oids.has(a.json.configCommit as string)).toBe(true);
      expect(commitsOf.get(requests[a.i]!.image)).toBe(1);
    }
    expect([...commitsOf.values()].reduce((s, n) => s + n, 0)).toBe(160);
    // Writes resumed by a new holder: at most the lease duration after the dead holder's
    // last renewal, plus up to two retry periods of polling (seeing that renewal, then trying).
    const newHolder = api.holders.find((h) => h.at > killedAt && h.holder !== '' && h.holder !== dead.url)!;
    expect(newHolder).toBeDefined();
    const firstAfter = Math.min(
      ...answers
        .filter((a) => a.at > killedAt && log.find((c) => c.oid === a.json.configCommit)?.authorName !== dead.name)
        .map((a) => a.at),
    );
    const resumedMs = firstAfter - lastRenewAt;
    console.log(
      `lease failover: takeover ${newHolder.at - killedAt} ms after SIGKILL, first write ${firstAfter - killedAt} ms after it, ${resumedMs} ms after the last renewal`,
    );
    expect(resumedMs).toBeLessThanOrEqual(leaseDurationMs + 2 * retryPeriodMs * JITTER_FACTOR + 1_000);
  }, 120_000);

  it('split from the API server, the holder stops pushing before another takes the lease', async () => {
    await start(['replica-a', 'replica-b'], 2);
    const app = appIds(2)[0]!;
    const old = await holder();
    const other = replicas.find((r) => r !== old)!;
    api.cutOff(old.name, true);
    const cutAt = Date.now();
    const direct: Array<{ status: number; at: number; json: Record<string, unknown> }> = [];
    // Clients that still reach the old holder keep sending it writes, one after another.
    for (
      let i = 0;
      !api.holders.some((h) => h.holder === other.url) ||
      direct.filter((d) => d.at > api.holders.at(-1)!.at).length < 3;
      i++
    ) {
      const res = await postWebhook(
        old.url,
        app,
        { image: `registry.example.com/app-0000:split-${i}` },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      direct.push({ status: res.status, at: Date.now(), json: res.json });
      expect([200, 503]).toContain(res.status);
      expect(Date.now() - cutAt).toBeLessThan(leaseDurationMs + 4 * retryPeriodMs + 5_000);
    }
    const takeoverAt = api.holders.find((h) => h.holder === other.url)!.at;
    expect(direct.some((d) => d.status === 503)).toBe(true);
    const oks = direct.filter((d) => d.status === 200);
    const lastOk = Math.max(...oks.map((d) => d.at));
    const firstRefused = direct.find((d) => d.status === 503)!.at;
    console.log(
      `lease split: old holder's last acknowledged push ${lastOk - cutAt} ms after the cut, refused from ${firstRefused - cutAt} ms, ` +
        `new holder ${takeoverAt - cutAt} ms after the cut (gap ${takeoverAt - lastOk} ms)`,
    );
    // It kept writing while its lease was surely its own, then stopped, before the takeover.
    expect(oks.length).toBeGreaterThan(0);
    expect(lastOk).toBeLessThan(takeoverAt);
    expect(lastOk - cutAt).toBeLessThanOrEqual(renewDeadlineMs);
    for (const d of direct.filter((x) => x.at > takeoverAt)) expect(d.status).toBe(503);
    // Every push the old holder made was answered before the takeover; none landed behind it.
    const log = await logOf(bare, 'main', 1_000);
    const byOld = log.filter((c) => c.authorName === old.name && /split-/.test(c.message));
    expect(byOld.map((c) => c.oid).sort()).toEqual(oks.map((d) => d.json.configCommit as string).sort());

    // Healed: the old holder sees the new one and forwards to it.
    api.cutOff(old.name, false);
    const healed = await eventually(
      'the old holder forwarding again',
      async () => {
        const res = await postWebhook(
          old.url,
          app,
          { image: `registry.example.com/app-0000:healed-${Date.now()}` },
          { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
        );
        return res.status === 200 && res;
      },
      { timeoutMs: 3 * retryPeriodMs * JITTER_FACTOR, intervalMs: 200 },
    );
    expect((await logOf(bare, 'main', 1))[0]).toMatchObject({ oid: healed.json.configCommit, authorName: other.name });
  }, 120_000);
});
