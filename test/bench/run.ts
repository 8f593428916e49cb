/**
 * `npm run bench`: deploy latency and throughput of the bridge over HTTP against a
 * native-git baseline (a kept clone: edit, `git commit`, `git push`) in the same run,
 * both pushing to a `git http-backend` remote on loopback. Prints medians and ratios
 * against the targets of issue #2; it asserts nothing (machines here are noisy).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { cloneRepo, git } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { editBench } from './edit-bench.js';
import { historyBench } from './history-bench.js';
import { rolloutBench } from './rollout-bench.js';
import { signingBench } from './signing-bench.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const WARMUP = 5;
// BENCH_PROFILE_DIR=/tmp/prof writes a CPU profile of each bridge process there.
const nodeArgs = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
const SIZES = (process.env.BENCH_SIZES ?? '200,2000').split(',').filter(Boolean).map(Number);
// BENCH_HISTORY=0 skips the 10,000-commit history case.
const HISTORY = process.env.BENCH_HISTORY !== '0';
// BENCH_ROLLOUT=0 skips the 500 rollout waiters; BENCH_SIGNING=0 the signed commits.
const ROLLOUT = process.env.BENCH_ROLLOUT !== '0';
const SIGNING = process.env.BENCH_SIGNING !== '0';

interface Row {
  name: string;
  value: string;
  target?: string;
  ok?: boolean;
}
const rows: Row[] = [];

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function startRemote(server: GitServer, apps: number): Promise<string> {
  const name = `config-${apps}.git`;
  await createConfigRepo(server.root, name, apps);
  return server.url(name);
}

/** One deploy at a time through the bridge's webhook; returns per-deploy latencies. */
async function bridgeSequential(bridge: BridgeProcess, apps: string[], rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds + WARMUP; i++) {
    const app = apps[i % apps.length]!;
    const image = `registry.example.com/${app.split('/')[1]}:seq-${i}-${Date.now()}`;
    const t0 = performance.now();
    const res = await postWebhook(bridge.url, app, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) });
    const dt = performance.now() - t0;
    if (res.status !== 200 || res.json.status !== 'deployed') throw new Error(`deploy failed: ${JSON.stringify(res.json)}`);
    if (i >= WARMUP) times.push(dt);
  }
  return times;
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
    await writeFile(file, text.replace(/image: registry\.example\.com\/\S+/, `image: registry.example.com/${name}:native-${i}`));
    await git(['-C', dir, 'commit', '--quiet', '-am', `deploy ${name}`]);
    await git(['-C', dir, 'push', '--quiet', 'origin', 'HEAD:main']);
    const dt = performance.now() - t0;
    if (i >= WARMUP) times.push(dt);
  }
  return times;
}

/** `total` webhooks with `inFlight` at a time over `apps`. */
async function burst(bridge: BridgeProcess, apps: string[], total: number, inFlight: number) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const app = apps[i % apps.length]!;
      const image = `registry.example.com/${app.split('/')[1]}:burst-${i}`;
      const s = performance.now();
      const res = await postWebhook(bridge.url, app, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) });
      if (res.status !== 200) throw new Error(`burst deploy failed: ${res.status} ${JSON.stringify(res.json)}`);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: total / seconds, p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) };
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
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
  const server = await startGitServer();
  const bridges: BridgeProcess[] = [];
  try {
    const p50: Record<number, { bridge: number; native: number }> = {};
    let rss = 0;
    for (const size of SIZES) {
      const url = await startRemote(server, size);
      const apps = appIds(size);
      const native = quantile(await nativeSequential(url, apps, ROUNDS), 0.5);
      const bridge = await startBridge(
        { KIPPER_REPO_URL: url, KIPPER_SECRET_KEY: TEST_SECRET_KEY, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN, KIPPER_LOG_LEVEL: 'warn' },
        nodeArgs,
      );
      bridges.push(bridge);
      const ours = quantile(await bridgeSequential(bridge, apps, ROUNDS), 0.5);
      p50[size] = { bridge: ours, native };
      rows.push({ name: `one deploy at a time, ${size} apps: native git CLI p50`, value: ms(native) });
      rows.push({
        name: `one deploy at a time, ${size} apps: bridge p50`,
        value: `${ms(ours)} (${(ours / native).toFixed(2)}× native)`,
        target: '≤ 0.6× native',
        ok: ours / native <= 0.6,
      });
      if (size === 200) {
        const b = await burst(bridge, apps, 1000, 50);
        rows.push({
          name: 'burst: 1,000 webhooks, 50 in flight, 200 apps',
          value: `${b.perSecond.toFixed(0)} deploys/s`,
          target: '≥ 200/s',
          ok: b.perSecond >= 200,
        });
        rows.push({ name: 'burst latency p50 / p95', value: `${ms(b.p50)} / ${ms(b.p95)}`, target: 'p95 ≤ 1 s', ok: b.p95 <= 1000 });
      }
      rss = Math.max(rss, await peakRssMb(bridge.child.pid!));
      await bridge.stop();
    }
    if (p50[2000] && p50[200]) {
      const growth = p50[2000].bridge / p50[200].bridge;
      rows.push({ name: 'bridge p50 2,000 apps / 200 apps', value: `${growth.toFixed(2)}×`, target: '≤ 1.2×', ok: growth <= 1.2 });
    }
    if (SIZES.length > 0) rows.push({ name: 'peak RSS of the bridge (deploys)', value: `${rss.toFixed(0)} MB`, target: '≤ 250 MB', ok: rss <= 250 });
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
      rows.push({ name: 'peak RSS of the bridge (history)', value: `${h.peakRssMb.toFixed(0)} MB`, target: '≤ 250 MB', ok: h.peakRssMb <= 250 });
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
      rows.push({ name: `${label}: bridge CPU, requests to Argo CD`, value: `${r.cpuMsPerSecond.toFixed(0)} ms/s, ${r.syncerGetsPerSecond.toFixed(1)} GET/s` });
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
    if (SIGNING) {
      for (const r of await signingBench(server, ROUNDS)) {
        const extra = r.signedP50 - r.unsignedP50;
        rows.push({
          name: `signed commits (${r.key}), 200 apps: deploy p50`,
          value: `${ms(r.signedP50)} (unsigned ${ms(r.unsignedP50)}, ${extra >= 0 ? '+' : ''}${ms(extra)})`,
          target: '≤ +5 ms',
          ok: extra <= 5,
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
    const verdict = r.target ? `${r.target.padEnd(14)} ${r.ok ? 'met' : 'MISSED'}` : '';
    console.log(`${r.name.padEnd(w)}  ${r.value.padEnd(v)}  ${verdict}`);
  }
}

await main();
