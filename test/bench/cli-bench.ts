/**
 * What one `kip` command costs (issue #18): wall time and peak RSS of `kip --help` and
 * `kip app list --json` against a running bridge, beside `node -e 0` in the same run.
 * Targets: help ≤ 2× node, an API command ≤ 3× node plus the request itself (timed from
 * a warm client in this process). Runs the three in turn each round, so a noisy neighbour
 * slows all three alike. `tsx test/bench/cli-bench.ts` runs it alone.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { cleanEnv, KIP_BIN, startBridge } from '../helpers/bridge-process.js';
import { TEST_ADMIN_TOKEN } from '../helpers/tokens.js';
import { ms, quantile, WARMUP, type Row } from './deploy-timing.js';

const ROUNDS = Number(process.env.BENCH_CLI_ROUNDS ?? 20);

/** Prints the process's peak RSS (KB) on stderr as it exits; loaded with --import, for the RSS runs only. */
const RSS_HOOK = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss='+process.resourceUsage().maxRSS+'\\n'))`;

/** Runs `node <args>` to its exit; resolves with the wall time in ms and what it wrote to stderr. */
function timeNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const dt = performance.now() - t0;
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited with ${code}: ${stderr}`));
      else resolve({ ms: dt, stderr });
    });
  });
}

/** Peak RSS in MB of one run of `node <args>`. */
async function peakRss(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { stderr } = await timeNode(['--import', RSS_HOOK, ...args], env);
  return Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024;
}

/** The bench rows of the CLI's start-up cost. */
export async function cliBench(rounds: number = ROUNDS): Promise<Row[]> {
  const bridge = await startBridge({ KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN, KIPPER_LOG_LEVEL: 'warn' });
  try {
    const env = { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const cases = {
      node: ['-e', '0'],
      help: [KIP_BIN, '--help'],
      list: [KIP_BIN, 'app', 'list', '--json'],
    };
    const times = { node: [] as number[], help: [] as number[], list: [] as number[], request: [] as number[] };
    for (let i = 0; i < rounds + WARMUP; i++) {
      const round = {
        node: (await timeNode(cases.node, env)).ms,
        help: (await timeNode(cases.help, env)).ms,
        list: (await timeNode(cases.list, env)).ms,
        request: await timedRequest(bridge.url),
      };
      if (i < WARMUP) continue;
      for (const k of Object.keys(round) as Array<keyof typeof round>) times[k].push(round[k]);
    }
    const p50 = (k: keyof typeof times) => quantile(times[k], 0.5);
    const node = p50('node');
    const help = p50('help');
    const list = p50('list');
    const request = p50('request');
    const rss = {
      node: await peakRss(cases.node, env),
      help: await peakRss(cases.help, env),
      list: await peakRss(cases.list, env),
    };
    const mb = (x: number) => `${x.toFixed(0)} MB`;
    return [
      { name: 'CLI: node -e 0 p50 (baseline)', value: `${ms(node)}, ${mb(rss.node)} peak RSS` },
      {
        name: 'CLI: kip --help p50',
        value: `${ms(help)} (${(help / node).toFixed(2)}× node), ${mb(rss.help)} peak RSS`,
        target: '≤ 2× node',
        ok: help <= 2 * node,
      },
      { name: 'CLI: GET /api/v1/apps from a warm client p50 (the request)', value: ms(request) },
      {
        name: 'CLI: kip app list --json p50',
        value: `${ms(list)} (${(list / node).toFixed(2)}× node; ${((list - request) / node).toFixed(2)}× less the request), ${mb(rss.list)} peak RSS`,
        target: '≤ 3× node + req',
        ok: list <= 3 * node + request,
      },
    ];
  } finally {
    await bridge.stop();
  }
}

/** One `GET /api/v1/apps` from this (warm) process, in ms. */
async function timedRequest(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/apps`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  await res.text();
  if (res.status !== 200) throw new Error(`GET /api/v1/apps answered ${res.status}`);
  return performance.now() - t0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await cliBench())
    console.log(
      `${r.name.padEnd(62)}  ${r.value.padEnd(60)}  ${r.target ? `${r.target} ${r.ok ? 'met' : 'MISSED'}` : ''}`,
    );
}
