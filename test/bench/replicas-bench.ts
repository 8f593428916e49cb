/**
 * Issue #22, "Replicas that don't fight": three bridges on one remote under KIPPER_LEASE
 * (a Lease API double over HTTP), 900 deploys, 16 in flight at each replica, against one
 * bridge alone taking the same 900 with one replica's 16 in flight, and with all 48. Followers forward their
 * writes to the holder, so one write queue group-commits them all instead of three
 * losing each other's compare-and-swaps.
 */
import { performance } from 'node:perf_hooks';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import type { GitServer } from '../helpers/git-server.js';
import { replicaEnv, startLeaseApi } from '../helpers/lease-api.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { bridgeEnv, bridgeSequential, ms, quantile, type Row } from './deploy-timing.js';
import { cpuBetween, sampleCpu, type CpuSample } from './proc-cpu.js';

const DEPLOYS = 900;
const IN_FLIGHT = 16;
const APPS = 200;

/** CPU per deploy of the 900: the process's own, and its git children's. */
function cpuText(c: CpuSample): string {
  return `${ms(c.self / DEPLOYS)} + git ${ms(c.children / DEPLOYS)} per deploy`;
}

/** `count` webhooks at `bridge`, `inFlight` at a time; every one must answer 200. */
async function load(
  bridge: BridgeProcess,
  apps: string[],
  first: number,
  count: number,
  inFlight: number,
  tag: string,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = first;
  const worker = async () => {
    while (next < first + count) {
      const i = next++;
      const app = apps[i % apps.length]!;
      const s = performance.now();
      const res = await sendWebhook(
        bridge.url,
        app,
        { image: `registry.example.com/${app.split('/')[1]}:${tag}-${i}` },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      if (res.status !== 200)
        throw new Error(`replicas bench: deploy failed: ${res.status} ${JSON.stringify(res.json)}`);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return latencies;
}

export async function replicasBench(server: GitServer, nodeArgs: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  const apps = appIds(APPS);
  await createConfigRepo(server.root, 'config-replicas.git', APPS);
  const url = server.url('config-replicas.git');
  const api = await startLeaseApi();
  const started: BridgeProcess[] = [];
  try {
    // One bridge alone, the same 900 deploys with the same 48 in flight.
    const alone = await startBridge(bridgeEnv(url), nodeArgs);
    started.push(alone);
    await bridgeSequential(alone, server, apps, 5, 'replicas-warm');
    const aloneCpu = await sampleCpu(alone.child.pid!);
    let t0 = performance.now();
    const aloneLatencies = await load(alone, apps, 0, DEPLOYS, 3 * IN_FLIGHT, 'alone');
    const aloneRate = DEPLOYS / ((performance.now() - t0) / 1000);
    const aloneUsed = cpuBetween(aloneCpu, await sampleCpu(alone.child.pid!));
    // The same bridge with one replica's clients (16 in flight): what one bridge alone does for them.
    t0 = performance.now();
    const oneLatencies = await load(alone, apps, DEPLOYS, DEPLOYS, IN_FLIGHT, 'alone-16');
    const oneRate = DEPLOYS / ((performance.now() - t0) / 1000);
    await alone.stop();

    const replicas: BridgeProcess[] = [];
    for (const name of ['replica-a', 'replica-b', 'replica-c']) {
      const b = await startBridge({ ...bridgeEnv(url), ...(await replicaEnv(api, name)) }, nodeArgs);
      started.push(b);
      replicas.push(b);
    }
    await eventually(
      'a lease holder',
      () => replicas.some((r) => r.url === api.leases.get('kipper/kipper-writer')?.spec.holderIdentity),
      {
        timeoutMs: 30_000,
      },
    );
    for (const r of replicas) await bridgeSequential(r, server, apps, 5, `replicas-warm-${r.child.pid}`);
    const per = DEPLOYS / replicas.length;
    const cpu: CpuSample[] = await Promise.all(replicas.map((r) => sampleCpu(r.child.pid!)));
    t0 = performance.now();
    const latencies = await Promise.all(replicas.map((r, k) => load(r, apps, k * per, per, IN_FLIGHT, 'lease')));
    const rate = DEPLOYS / ((performance.now() - t0) / 1000);
    const used = await Promise.all(replicas.map(async (r, k) => cpuBetween(cpu[k]!, await sampleCpu(r.child.pid!))));

    rows.push({
      name: `one bridge alone: ${DEPLOYS} deploys, ${3 * IN_FLIGHT} in flight, ${APPS} apps`,
      value: `${aloneRate.toFixed(0)} deploys/s, p95 ${ms(quantile(aloneLatencies, 0.95))}, CPU ${cpuText(aloneUsed)}`,
    });
    rows.push({
      name: `one bridge alone: ${DEPLOYS} deploys, ${IN_FLIGHT} in flight, ${APPS} apps`,
      value: `${oneRate.toFixed(0)} deploys/s, p95 ${ms(quantile(oneLatencies, 0.95))}`,
    });
    const holder = api.leases.get('kipper/kipper-writer')?.spec.holderIdentity;
    latencies.forEach((l, k) => {
      const p95 = quantile(l, 0.95);
      rows.push({
        name: `3 replicas, KIPPER_LEASE: replica ${k + 1} (${replicas[k]!.url === holder ? 'holder' : 'follower'}), ${per} deploys, ${IN_FLIGHT} in flight: p50 / p95`,
        value: `${ms(quantile(l, 0.5))} / ${ms(p95)}, CPU ${cpuText(used[k]!)}`,
        target: 'p95 ≤ 1 s',
        ok: p95 <= 1000,
      });
    });
    // The comparison: one bridge alone with the clients of one replica (16 in flight).
    // Beside it, one bridge with all 48: on this machine the three replicas, the git server
    // and the clients share two cores, so what the followers spend on forwarding (their
    // CPU above) is taken from the holder, which a cluster runs on other nodes.
    rows.push({
      name: `3 replicas, KIPPER_LEASE: ${DEPLOYS} deploys, throughput`,
      value: `${rate.toFixed(0)} deploys/s (${(rate / oneRate).toFixed(2)}× one bridge alone at ${IN_FLIGHT} in flight, ${(rate / aloneRate).toFixed(2)}× at ${3 * IN_FLIGHT})`,
      target: '≥ 1× one bridge',
      ok: rate >= oneRate,
    });
    return rows;
  } finally {
    await Promise.all(started.map((b) => b.stop()));
    await api.close();
  }
}
