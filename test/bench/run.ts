/**
 * `npm run bench`: deploy latency and throughput of the bridge over HTTP against a
 * native-git baseline (a kept clone: edit, `git commit`, `git push`) in the same run,
 * both pushing to a `git http-backend` remote on loopback. Prints medians and ratios
 * against the targets of issues #2 and #14; it asserts nothing (machines here are noisy).
 *
 * Issue #14's cases, each beside its baseline from the same run: the CPU the bridge
 * spends per deploy in a burst (its own, from /proc, and its git children's) against a
 * native group commit; a remote 100 ms away (BENCH_FAR=0 skips it); 10,000 apps with
 * 100,000 commits (BENCH_BIG=0 skips it). Issue #18: what one `kip` command costs against
 * `node -e 0` (BENCH_CLI=0 skips it). Issue #19: an SSH remote (the real sshd) beside native
 * git over the same sshd (BENCH_SSH=0 skips it). Issue #22: 3 replicas under KIPPER_LEASE
 * against one bridge alone (BENCH_REPLICAS=0 skips it).
 *
 * Issue #22's targets are for a bridge that has been running: the timed one-at-a-time
 * deploys go to apps deployed once before (the first deploy of each is printed beside),
 * and the burst with the targets is the second (the first after start, which pays for the
 * JIT and the first reads of most apps' files, is printed beside). The CI client is
 * node:http with kept-alive connections (webhook-client.ts), as lean as `curl`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { cloneRepo, git } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { bigBench } from './big-bench.js';
import { cliBench } from './cli-bench.js';
import { editBench } from './edit-bench.js';
import { historyBench } from './history-bench.js';
import { rolloutBench } from './rollout-bench.js';
import { replicasBench } from './replicas-bench.js';
import { signingBench } from './signing-bench.js';
import { sshBench } from './ssh-bench.js';
import { bridgeEnv, bridgeSequential, ms, peakRssMb, quantile, WARMUP, type Row } from './deploy-timing.js';
import { cpuBetween, sampleCpu } from './proc-cpu.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
// BENCH_PROFILE_DIR=/tmp/prof writes a CPU profile of each bridge process there.
// BENCH_NODE_ARGS: more node flags for the bridges (e.g. --trace-gc).
const nodeArgs = [
  ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
  ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
];
const SIZES = (process.env.BENCH_SIZES ?? '200,2000').split(',').filter(Boolean).map(Number);
// BENCH_HISTORY=0 skips the 10,000-commit history case.
const HISTORY = process.env.BENCH_HISTORY !== '0';
// BENCH_ROLLOUT=0 skips the 500 rollout waiters; BENCH_SIGNING=0 the signed commits.
const ROLLOUT = process.env.BENCH_ROLLOUT !== '0';
const SIGNING = process.env.BENCH_SIGNING !== '0';
// BENCH_FAR=0 skips the remote 100 ms away; BENCH_BIG=0 the 10,000 apps / 100,000 commits.
const FAR = process.env.BENCH_FAR !== '0';
const BIG = process.env.BENCH_BIG !== '0';
const CLI = process.env.BENCH_CLI !== '0';
// BENCH_SSH=0 skips the SSH remote (issue #19).
const SSH = process.env.BENCH_SSH !== '0';
// BENCH_REPLICAS=0 skips the 3 replicas under KIPPER_LEASE (issue #22).
const REPLICAS = process.env.BENCH_REPLICAS !== '0';
const BURST = 1000;

const rows: Row[] = [];

async function startRemote(server: GitServer, apps: number): Promise<string> {
  const name = `config-${apps}.git`;
  await createConfigRepo(server.root, name, apps);
  return server.url(name);
}

/** The native baseline: edit the file in a kept clone, `git commit`, `git push`. */
async function nativeSequential(url: string, apps: string[], rounds: number): Promise<number[]> {
  const dir = await cloneRepo(url);
  const times: number[] = [];
  for (let i = 0; i < rounds + WARMUP; i++) {
    const name = apps[i % apps.length]!.split('/')[1]!;
    const file = join(dir, 'apps', 'team-test', name, 'deployment.yaml');
    const t0 = performance.now();
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace(/image: registry\.example\.com\/\S+/, `image: registry.example.com/${name}:native-${i}`),
    );
    await git(['-C', dir, 'commit', '--quiet', '-am', `deploy ${name}`]);
    await git(['-C', dir, 'push', '--quiet', 'origin', 'HEAD:main']);
    const dt = performance.now() - t0;
    if (i >= WARMUP) times.push(dt);
  }
  return times;
}

/**
 * The native group commit: the same kind of edits in a kept clone, `git commit` each,
 * one `git push` per `perPush` commits. Returns edits per second.
 */
async function nativeGroupCommit(
  url: string,
  apps: string[],
  total: number,
  perPush: number,
  tag: string,
): Promise<number> {
  const dir = await cloneRepo(url);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const name = apps[i % apps.length]!.split('/')[1]!;
    const file = join(dir, 'apps', 'team-test', name, 'deployment.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace(/image: registry\.example\.com\/\S+/, `image: registry.example.com/${name}:${tag}-${i}`),
    );
    await git(['-C', dir, 'commit', '--quiet', '-am', `deploy ${name}`]);
    if ((i + 1) % perPush === 0 || i === total - 1) await git(['-C', dir, 'push', '--quiet', 'origin', 'HEAD:main']);
  }
  return total / ((performance.now() - t0) / 1000);
}

/**
 * Packs the remote's objects into one pack before a timed phase, so that neither the
 * native baseline nor the bridge meets the server's `git gc --auto` (receive.autogc:
 * after 50 packs it repacks the whole repo inside a push) because of what ran before it.
 */
async function packed(bare: string): Promise<void> {
  await git(['--git-dir', bare, 'repack', '-a', '-d', '-q']);
}

/** `total` webhooks with `inFlight` at a time over `apps`. */
async function burst(bridge: BridgeProcess, apps: string[], total: number, inFlight: number, tag = 'burst') {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const app = apps[i % apps.length]!;
      const image = `registry.example.com/${app.split('/')[1]}:${tag}-${i}`;
      const s = performance.now();
      const res = await sendWebhook(
        bridge.url,
        app,
        { image },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      if (res.status !== 200) throw new Error(`burst deploy failed: ${res.status} ${JSON.stringify(res.json)}`);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: total / seconds, p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) };
}

async function main(): Promise<void> {
  for (const e of editBench()) {
    rows.push({
      name: `YAML edit, ${e.format} (${e.fixtures} fixtures)`,
      value: `${e.medianUs.toFixed(0)} µs median, ${e.worstUs.toFixed(0)} µs worst fixture`,
      target: '< 1 ms',
      ok: e.worstUs < 1000,
    });
  }
  // First, while no bridge of another case runs beside it: these are process start-up times.
  if (CLI) rows.push(...(await cliBench()));
  const server = await startGitServer();
  const bridges: BridgeProcess[] = [];
  try {
    const p50: Record<number, { bridge: number; native: number; share: number }> = {};
    let rss = 0;
    for (const size of SIZES) {
      const url = await startRemote(server, size);
      const apps = appIds(size);
      const native = quantile(await nativeSequential(url, apps, ROUNDS), 0.5);
      const bare = join(server.root, `config-${size}.git`);
      await packed(bare);
      const group = size === 200 ? await nativeGroupCommit(url, apps, BURST, 50, 'group') : 0;
      const spawned = performance.now();
      const bridge = await startBridge(bridgeEnv(url), nodeArgs);
      bridges.push(bridge);
      // The first deploy of each app since the start reads and parses its files; the timed
      // rounds go to apps deployed once before, as a running bridge's deploys mostly do.
      const first = await bridgeSequential(bridge, server, apps, ROUNDS, 'first');
      const seq = await bridgeSequential(bridge, server, apps, ROUNDS);
      const ours = quantile(seq.times, 0.5);
      p50[size] = { bridge: ours, native, share: quantile(seq.shares, 0.5) };
      rows.push({ name: `one deploy at a time, ${size} apps: native git CLI p50`, value: ms(native) });
      rows.push({
        name: `one deploy at a time, ${size} apps: bridge p50`,
        value: `${ms(ours)} (${(ours / native).toFixed(2)}× native)`,
        target: '≤ 0.6× native',
        ok: ours / native <= 0.6,
      });
      rows.push({
        name: `one deploy at a time, ${size} apps: bridge's share p50 (less the push's server time)`,
        value: ms(p50[size].share),
      });
      // Issue #22: "answer time less the remote's push round trip", as the bridge timed it.
      const own = quantile(seq.roundTripShares, 0.5);
      rows.push({
        name: `one deploy at a time, ${size} apps: its own share p50 (less the push's round trip)`,
        value: ms(own),
        ...(size === 200 ? { target: '≤ 3 ms', ok: own <= 3 } : {}),
      });
      rows.push({
        name: `one deploy at a time, ${size} apps: share p50 of an app's first deploy since start`,
        value: ms(quantile(first.shares, 0.5)),
      });
      if (size === 200) {
        // Two bursts: the first after start pays for compiling the hot paths (V8's JIT) and
        // for the first reads of the other apps' files; the second is what a running bridge spends.
        const bursts = [];
        for (const tag of ['burst-first', 'burst']) {
          await packed(bare);
          const before = await sampleCpu(bridge.child.pid!);
          const from = performance.now() - spawned;
          const b = await burst(bridge, apps, BURST, 50, tag);
          const cpu = cpuBetween(before, await sampleCpu(bridge.child.pid!));
          profileWindow(`${tag} of bridge ${bridge.child.pid}`, from, performance.now() - spawned);
          bursts.push({ ...b, cpu });
        }
        const [cold, b] = bursts as [(typeof bursts)[0], (typeof bursts)[0]];
        rows.push({
          name: 'burst: native git CLI group commit (50 commits, one push), 200 apps',
          value: `${group.toFixed(0)} deploys/s`,
        });
        rows.push({
          name: 'first burst after start: 1,000 webhooks, 50 in flight, 200 apps',
          value: `${cold.perSecond.toFixed(0)} deploys/s, bridge CPU ${ms(cold.cpu.self / BURST)} per deploy`,
        });
        rows.push({
          name: 'burst: 1,000 webhooks, 50 in flight, 200 apps',
          value: `${b.perSecond.toFixed(0)} deploys/s`,
          target: '≥ 200/s',
          ok: b.perSecond >= 200,
        });
        rows.push({
          name: 'burst rate / native group commit rate',
          value: `${(b.perSecond / group).toFixed(2)}×`,
          target: '≥ 6×',
          ok: b.perSecond >= 6 * group,
        });
        rows.push({
          name: 'burst latency p50 / p95',
          value: `${ms(b.p50)} / ${ms(b.p95)}`,
          target: 'p95 ≤ 1 s',
          ok: b.p95 <= 1000,
        });
        rows.push({
          name: 'burst: bridge process CPU per deploy (/proc utime+stime)',
          value: `${ms(b.cpu.self / BURST)} (${(b.cpu.self / 1000).toFixed(2)} s over ${BURST})`,
          target: '≤ 1.2 ms',
          ok: b.cpu.self / BURST <= 1.2,
        });
        rows.push({
          name: "burst: CPU of the bridge's git children per deploy",
          value: `${ms(b.cpu.children / BURST)} (${(b.cpu.children / 1000).toFixed(2)} s over ${BURST})`,
        });
      }
      rss = Math.max(rss, await peakRssMb(bridge.child.pid!));
      await bridge.stop();
    }
    if (p50[2000] && p50[200]) {
      const growth = p50[2000].bridge / p50[200].bridge;
      rows.push({
        name: 'bridge p50 2,000 apps / 200 apps',
        value: `${growth.toFixed(2)}×`,
        target: '≤ 1.2×',
        ok: growth <= 1.2,
      });
    }
    if (SIZES.length > 0)
      rows.push({
        name: 'peak RSS of the bridge (deploys)',
        value: `${rss.toFixed(0)} MB`,
        target: '≤ 250 MB',
        ok: rss <= 250,
      });
    if (SSH) rows.push(...(await sshBench(ROUNDS, BURST, burst, nodeArgs)));
    if (FAR) await farBench();
    if (BIG) {
      const share200 = p50[200]?.share;
      for (const row of await bigBench(server, nodeArgs, ROUNDS, share200)) rows.push(row);
    }
    if (HISTORY) {
      const h = await historyBench(server, peakRssMb);
      const ratio = h.warmMs / h.nativeMs;
      rows.push({ name: `history, 10,000 commits / 200 apps: native git log -- file`, value: ms(h.nativeMs) });
      rows.push({
        name: `history of one app (${h.revisions} revisions), bridge warm`,
        value: `${ms(h.warmMs)} (${ratio.toFixed(2)}× native)`,
        target: '≤ 0.5× native',
        ok: ratio <= 0.5,
      });
      rows.push({ name: 'history, first query on a fresh data dir (full fetch + index)', value: ms(h.coldFirstMs) });
      rows.push({
        name: 'history, first query after a restart',
        value: `${ms(h.restartFirstMs)} (${ms(h.restartTotalMs)} from spawn)`,
        target: '≤ 3 s',
        ok: h.restartTotalMs <= 3000,
      });
      rows.push({
        name: 'peak RSS of the bridge (history)',
        value: `${h.peakRssMb.toFixed(0)} MB`,
        target: '≤ 250 MB',
        ok: h.peakRssMb <= 250,
      });
    }
    if (ROLLOUT) {
      const r = await rolloutBench(server, ROUNDS);
      const label = `${r.waiters} webhooks waiting (?wait=) on ${r.applications} Argo CD apps`;
      rows.push({
        name: `${label}: bridge memory`,
        value: `+${(r.rssWaitingMb - r.rssIdleMb).toFixed(1)} MB (${r.rssIdleMb.toFixed(0)} → ${r.rssWaitingMb.toFixed(0)} MB RSS)`,
        target: '< 50 MB',
        ok: r.rssWaitingMb - r.rssIdleMb < 50,
      });
      rows.push({
        name: `${label}: bridge CPU, requests to Argo CD (watch streams)`,
        value: `${r.cpuMsPerSecond.toFixed(0)} ms/s, ${r.syncerGetsPerSecond.toFixed(1)} GET/s, ${r.streams} streams`,
      });
      // The baseline of the same run: the streams refused, the bridge polls every 2 s (issue #22).
      rows.push({
        name: `${label}: the same, streams refused (polling)`,
        value: `${r.pollingCpuMsPerSecond.toFixed(0)} ms/s, ${r.pollingGetsPerSecond.toFixed(1)} GET/s`,
      });
      rows.push({
        name: `${label}: deploy p50 of other apps`,
        value: `${ms(r.waitingP50)} (idle ${ms(r.idleP50)}, ${(r.waitingP50 / r.idleP50).toFixed(2)}×)`,
        target: '≤ 1.2× idle',
        ok: r.waitingP50 / r.idleP50 <= 1.2,
      });
      rows.push({
        name: `${label}: answered 200 healthy`,
        value: `${r.healthy}/${r.waiters}, the last ${ms(r.releaseMs)} after Argo CD said so`,
        target: 'all',
        ok: r.healthy === r.waiters,
      });
    }
    if (REPLICAS) rows.push(...(await replicasBench(server, nodeArgs)));
    if (SIGNING) {
      for (const r of await signingBench(server, ROUNDS)) {
        // The paired difference (signed and unsigned deploys one right after the other);
        // #22's bound for ed25519 keys, #13's for the others.
        const bound = r.key.includes('ed25519') ? 2 : 5;
        rows.push({
          name: `signed commits (${r.key}), 200 apps: deploy p50, and the paired extra`,
          value: `${ms(r.signedP50)} (unsigned ${ms(r.unsignedP50)}, ${r.extraP50 >= 0 ? '+' : ''}${ms(r.extraP50)}; one signature ${(r.signMs * 1000).toFixed(0)} µs)`,
          target: `≤ +${bound} ms`,
          ok: r.extraP50 <= bound,
        });
      }
    }
  } finally {
    await Promise.all(bridges.map((b) => b.stop()));
    await server.close();
  }
  const w = Math.max(...rows.map((r) => r.name.length));
  const v = Math.max(...rows.map((r) => r.value.length));
  console.log(`\nKipper bench (${ROUNDS} rounds after ${WARMUP} warm-up, git http-backend on loopback)\n`);
  for (const r of rows) {
    const verdict = r.target ? `${r.target.padEnd(16)} ${r.ok ? 'met' : 'MISSED'}` : '';
    console.log(`${r.name.padEnd(w)}  ${r.value.padEnd(v)}  ${verdict}`);
  }
}

/** With BENCH_PROFILE_DIR: when a case ran, in ms after its bridge was spawned, to cut its part out of the profile. */
function profileWindow(what: string, fromMs: number, toMs: number): void {
  if (process.env.BENCH_PROFILE_DIR)
    console.log(`profile window: ${what} from ${fromMs.toFixed(0)} to ${toMs.toFixed(0)} ms after spawn`);
}

/** A remote 100 ms away: every request to it is held 100 ms before it is served. */
async function farBench(): Promise<void> {
  const far = await startGitServer({ delayMs: 100 });
  let bridge: BridgeProcess | undefined;
  try {
    const url = await startRemote(far, 200);
    const apps = appIds(200);
    const group = await nativeGroupCommit(url, apps, BURST, 50, 'far-group');
    const spawned = performance.now();
    bridge = await startBridge(bridgeEnv(url), nodeArgs);
    await bridgeSequential(bridge, far, apps, 10, 'far-warm');
    const from = performance.now() - spawned;
    const b = await burst(bridge, apps, BURST, 100, 'far');
    profileWindow(`far burst of bridge ${bridge.child.pid}`, from, performance.now() - spawned);
    rows.push({
      name: 'remote 100 ms away: native git CLI group commit (50 commits, one push)',
      value: `${group.toFixed(0)} deploys/s`,
    });
    rows.push({
      name: 'remote 100 ms away: 1,000 deploys, 100 in flight, 200 apps',
      value: `${b.perSecond.toFixed(0)} deploys/s (${(b.perSecond / group).toFixed(2)}× native group commit)`,
      target: '≥ 300/s',
      ok: b.perSecond >= 300,
    });
    rows.push({
      name: 'remote 100 ms away: latency p50 / p95',
      value: `${ms(b.p50)} / ${ms(b.p95)}`,
      target: 'p95 ≤ 1 s',
      ok: b.p95 <= 1000,
    });
  } finally {
    await bridge?.stop();
    await far.close();
  }
}

await main();
