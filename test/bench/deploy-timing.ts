/** Shared by the bench cases: timing deploys through a bridge's webhook, quantiles, peak RSS. */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { type BridgeProcess } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import type { GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

/** Deploys before the timed ones (JIT, connections). */
export const WARMUP = 5;

/** One printed line: a measurement, and its target if it has one. */
export interface Row {
  name: string;
  value: string;
  target?: string;
  ok?: boolean;
}

/** The `q` quantile (0.5: the median) of `xs`. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
export const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Per-deploy latencies, and each less the remote's part of it (the bridge's own share). */
export interface Sequential {
  times: number[];
  /** Less the git server's time for the push (its request's arrival to its answer's end). */
  shares: number[];
  /** Less the push's round trip as the bridge timed it (`kipper_push_round_trip_seconds`). */
  roundTripShares: number[];
}

/** The sum of the pushes' round trips the bridge has timed so far, in ms. */
async function roundTripsMs(bridge: BridgeProcess): Promise<number> {
  const text = await (await fetch(`${bridge.url}/metrics`)).text();
  const sums = text.split('\n').filter((l) => l.startsWith('kipper_push_round_trip_seconds_sum'));
  return sums.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0) * 1000;
}

/**
 * One deploy at a time through the bridge's webhook. The bridge's share of a deploy is
 * its answer time less the time the git server took for the pushes that arrived during
 * it (from arrival to the end of its answer, any delay of a far remote included), and
 * less the round trip of its push as the bridge timed it (network and server).
 */
export async function bridgeSequential(
  bridge: BridgeProcess,
  server: GitServer,
  apps: readonly string[],
  rounds: number,
  tag = 'seq',
): Promise<Sequential> {
  const times: number[] = [];
  const shares: number[] = [];
  const roundTripShares: number[] = [];
  let timed = await roundTripsMs(bridge);
  for (let i = 0; i < rounds + WARMUP; i++) {
    const app = apps[i % apps.length]!;
    const image = `registry.example.com/${app.split('/')[1]}:${tag}-${i}-${Date.now()}`;
    const seen = server.requests.length;
    const t0 = performance.now();
    const res = await sendWebhook(bridge.url, app, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) });
    const dt = performance.now() - t0;
    if (res.status !== 200 || res.json.status !== 'deployed')
      throw new Error(`deploy failed: ${JSON.stringify(res.json)}`);
    const pushMs = server.requests
      .slice(seen)
      .filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack') && r.at >= t0)
      .reduce((sum, r) => sum + r.ms, 0);
    const before = timed;
    timed = await roundTripsMs(bridge);
    if (i >= WARMUP) {
      times.push(dt);
      shares.push(dt - pushMs);
      roundTripShares.push(dt - (timed - before));
    }
  }
  return { times, shares, roundTripShares };
}

/** Peak resident set size (VmHWM) of a process, in MB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** The environment of a bench bridge on the remote at `url`. */
export function bridgeEnv(url: string): NodeJS.ProcessEnv {
  return {
    KIPPER_REPO_URL: url,
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KIPPER_LOG_LEVEL: 'warn',
  };
}
