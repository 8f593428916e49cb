/**
 * Issue #19: the bridge over SSH (the real sshd on loopback, a deploy key) beside native
 * git over the same sshd: one deploy at a time at 200 apps against a kept clone's
 * edit + `git commit` + `git push`, and a burst of 1,000 webhooks (50 in flight) against
 * a native group commit (50 commits, one `git push`). BENCH_SSH=0 skips it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { git } from '../helpers/git-cli.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { bridgeEnv, ms, quantile, WARMUP, type Row } from './deploy-timing.js';
import { cpuBetween, sampleCpu } from './proc-cpu.js';

/** A burst through the bridge's webhook (run.ts's). */
export type Burst = (
  bridge: BridgeProcess,
  apps: string[],
  total: number,
  inFlight: number,
  tag?: string,
) => Promise<{ perSecond: number; p50: number; p95: number }>;

const APPS = 200;

/** A kept clone whose `git push` goes over ssh with the same key and known_hosts as the bridge. */
async function sshClone(server: SshServer, url: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-ssh-clone-'));
  const ssh = `ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=${server.knownHosts} -o IdentitiesOnly=yes -i ${server.clientKey}`;
  await git(['clone', '--quiet', '-c', `core.sshCommand=${ssh}`, url, dir]);
  return dir;
}

/** Edit one app's file in the clone, commit; push when `push`. */
async function nativeEdit(dir: string, app: string, tag: string, push: boolean): Promise<void> {
  const name = app.split('/')[1]!;
  const file = join(dir, 'apps', 'team-test', name, 'deployment.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(
    file,
    text.replace(/image: registry\.example\.com\/\S+/, `image: registry.example.com/${name}:${tag}`),
  );
  await git(['-C', dir, 'commit', '--quiet', '-am', `deploy ${name}`]);
  if (push) await git(['-C', dir, 'push', '--quiet', 'origin', 'HEAD:main']);
}

/** The pid of the bridge's shared ssh connection (it runs on its own, not as the bridge's child). */
function masterPid(server: SshServer, dataDir: string): Promise<number | null> {
  const args = [
    '-F',
    '/dev/null',
    '-o',
    `ControlPath=${dataDir}/ssh.sock`,
    '-p',
    String(server.port),
    '-O',
    'check',
    '--',
    `${userInfo().username}@${server.host}`,
  ];
  return new Promise((resolve) =>
    execFile('ssh', args, { encoding: 'utf8' }, (_err, _stdout, stderr) =>
      resolve(Number(/pid=(\d+)/.exec(stderr)?.[1] ?? NaN) || null),
    ),
  );
}

/** The rows of the SSH case. */
export async function sshBench(rounds: number, total: number, burst: Burst, nodeArgs: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  const server = await startSshServer();
  let bridge: BridgeProcess | undefined;
  try {
    await createConfigRepo(server.root, 'config.git', APPS);
    const url = server.url('config.git');
    const apps = appIds(APPS);

    const clone = await sshClone(server, url);
    const native: number[] = [];
    for (let i = 0; i < rounds + WARMUP; i++) {
      const t0 = performance.now();
      await nativeEdit(clone, apps[i % apps.length]!, `native-${i}`, true);
      if (i >= WARMUP) native.push(performance.now() - t0);
    }
    const t0 = performance.now();
    for (let i = 0; i < total; i++)
      await nativeEdit(clone, apps[i % apps.length]!, `group-${i}`, (i + 1) % 50 === 0 || i === total - 1);
    const group = total / ((performance.now() - t0) / 1000);

    bridge = await startBridge(
      { ...bridgeEnv(url), KIPPER_GIT_SSH_KEY: server.clientKey, KIPPER_GIT_KNOWN_HOSTS: server.knownHosts },
      nodeArgs,
    );
    const times: number[] = [];
    for (let i = 0; i < rounds + WARMUP; i++) {
      const app = apps[i % apps.length]!;
      const s = performance.now();
      const res = await sendWebhook(
        bridge.url,
        app,
        { image: `registry.example.com/${app.split('/')[1]}:ssh-${i}` },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      if (res.status !== 200 || res.json.status !== 'deployed')
        throw new Error(`deploy over ssh failed: ${JSON.stringify(res.json)}`);
      if (i >= WARMUP) times.push(performance.now() - s);
    }
    const nativeP50 = quantile(native, 0.5);
    const oursP50 = quantile(times, 0.5);
    rows.push({ name: `SSH, one deploy at a time, ${APPS} apps: native git push over ssh p50`, value: ms(nativeP50) });
    rows.push({
      name: `SSH, one deploy at a time, ${APPS} apps: bridge p50`,
      value: `${ms(oursP50)} (${(oursP50 / nativeP50).toFixed(2)}× native)`,
    });

    const master = await masterPid(server, bridge.dataDir);
    const before = await sampleCpu(bridge.child.pid!);
    const masterBefore = master ? await sampleCpu(master) : null;
    const b = await burst(bridge, apps, total, 50, 'ssh-burst');
    const cpu = cpuBetween(before, await sampleCpu(bridge.child.pid!));
    const masterCpu = master && masterBefore ? cpuBetween(masterBefore, await sampleCpu(master)).self : NaN;
    rows.push({
      name: `SSH burst: native group commit over ssh (50 commits, one push), ${APPS} apps`,
      value: `${group.toFixed(0)} deploys/s`,
    });
    rows.push({
      name: `SSH burst: ${total.toLocaleString('en')} webhooks, 50 in flight, ${APPS} apps`,
      value: `${b.perSecond.toFixed(0)} deploys/s (${(b.perSecond / group).toFixed(2)}× native group commit), p50 / p95 ${ms(b.p50)} / ${ms(b.p95)}`,
    });
    rows.push({
      name: 'SSH burst: CPU per deploy, bridge / its git+ssh children / the shared ssh connection',
      value: `${ms(cpu.self / total)} / ${ms(cpu.children / total)} / ${ms(masterCpu / total)}`,
    });
  } finally {
    await bridge?.stop();
    await server.close();
  }
  return rows;
}
