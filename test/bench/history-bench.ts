/**
 * History on a real-sized repo (issue #3): 10,000 commits over 200 apps, generated with
 * `git fast-import`. Times one app's history through the bridge (warm, and first query
 * after a restart) against native `git log -- <file>` in the same run.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, deploymentYaml } from '../helpers/config-repo.js';
import { git, GIT_TEST_ENV } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from '../helpers/tokens.js';

/** A bare repo of `commits` commits, each changing the image of one of `apps` apps. */
export async function generateHistoryRepo(
  server: GitServer,
  name: string,
  apps: number,
  commits: number,
): Promise<string> {
  const bare = `${server.root}/${name}`;
  await git(['init', '-q', '--bare', '--initial-branch=main', bare]);
  const ids = appIds(apps);
  const file = (id: string) => `apps/${id}/deployment.yaml`;
  const chunks: string[] = [];
  const blob = (path: string, text: string) => `M 100644 inline ${path}\ndata ${Buffer.byteLength(text)}\n${text}\n`;
  const commit = (n: number, message: string, body: string) =>
    `commit refs/heads/main\ncommitter Kipper <kipper@localhost> ${1_700_000_000 + n * 60} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n${body}`;
  const kipper = `apps:\n${ids.map((id) => `  - namespace: ${id.split('/')[0]}\n    name: ${id.split('/')[1]}\n    files: [${file(id)}]`).join('\n')}\n`;
  let body = blob('kipper.yaml', kipper);
  for (const id of ids)
    body += blob(
      file(id),
      deploymentYaml(id.split('/')[1]!, id.split('/')[0]!, `registry.example.com/${id.split('/')[1]}:v0`),
    );
  chunks.push(commit(0, 'seed\n', body));
  for (let i = 1; i < commits; i++) {
    const id = ids[i % ids.length]!;
    const name = id.split('/')[1]!;
    const image = `registry.example.com/${name}:v${i}`;
    const msg = `deploy ${id}: ${image}\n\nKipper-App: ${id}\nKipper-Image: ${image}\nKipper-Trigger: webhook\n`;
    chunks.push(commit(i, msg, blob(file(id), deploymentYaml(name, id.split('/')[0]!, image))));
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', bare, 'fast-import', '--quiet'], {
      env: { ...process.env, ...GIT_TEST_ENV },
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`))));
    child.stdin.end(chunks.join(''));
  });
  await git(['--git-dir', bare, 'config', 'http.receivepack', 'true']);
  await git(['--git-dir', bare, 'repack', '-adq']);
  return bare;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function historyOnce(bridge: BridgeProcess, app: string): Promise<number> {
  const res = await fetch(`${bridge.url}/api/v1/apps/${app}/history`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  const body = (await res.json()) as { revisions: unknown[] };
  if (res.status !== 200) throw new Error(`history failed: ${JSON.stringify(body)}`);
  return body.revisions.length;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

export interface HistoryBenchResult {
  revisions: number;
  nativeMs: number;
  warmMs: number;
  coldFirstMs: number;
  restartFirstMs: number;
  restartTotalMs: number;
  peakRssMb: number;
}

/** Run the history case; `rss` reads a process's peak RSS in MB. */
export async function historyBench(
  server: GitServer,
  rss: (pid: number) => Promise<number>,
): Promise<HistoryBenchResult> {
  const apps = 200;
  const bare = await generateHistoryRepo(server, 'history.git', apps, 10_000);
  const app = appIds(apps)[7]!;
  const path = `apps/${app}/deployment.yaml`;
  const native: number[] = [];
  for (let i = 0; i < 15; i++) {
    const [ms] = await timed(() =>
      git(['--git-dir', bare, 'log', '--first-parent', '--format=%H%x00%an%x00%at%x00%B%x01', 'main', '--', path]),
    );
    native.push(ms);
  }
  const env = {
    KIPPER_REPO_URL: server.url('history.git'),
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KIPPER_LOG_LEVEL: 'warn',
  };
  let bridge = await startBridge(env);
  const [coldFirstMs, revisions] = await timed(() => historyOnce(bridge, app));
  const warm: number[] = [];
  for (let i = 0; i < 15; i++) warm.push((await timed(() => historyOnce(bridge, app)))[0]);
  let peak = await rss(bridge.child.pid!);
  await bridge.stop();
  const t0 = performance.now();
  bridge = await startBridge({ ...env, KIPPER_DATA_DIR: bridge.dataDir });
  const [restartFirstMs] = await timed(() => historyOnce(bridge, app));
  const restartTotalMs = performance.now() - t0;
  peak = Math.max(peak, await rss(bridge.child.pid!));
  await bridge.stop();
  return {
    revisions,
    nativeMs: median(native),
    warmMs: median(warm),
    coldFirstMs,
    restartFirstMs,
    restartTotalMs,
    peakRssMb: peak,
  };
}
