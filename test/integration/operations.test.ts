import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { cloneRepo, commitAndPush, git, logOf, showFile } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

/** The value of one Prometheus sample (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('serving the embedded repo over git smart HTTP', () => {
  let bridge: BridgeProcess;
  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  it('git clone of /git/config.git gets the latest deploy; a push to it is refused', async () => {
    const token = /Secret token: ([0-9a-f]{64})/.exec(bridge.output())![1]!;
    const res = await postWebhook(
      bridge.url,
      'demo-test/api',
      { image: 'registry.example.com/api:cl0ne01' },
      { 'X-Kipper-Token': token },
    );
    expect(res.json.status).toBe('deployed');
    const clone = await cloneRepo(`${bridge.url}/git/config.git`);
    expect((await git(['-C', clone, 'rev-parse', 'HEAD'])).trim()).toBe(res.json.configCommit);
    expect(await git(['-C', clone, 'show', 'HEAD:apps/demo-test/api/deployment.yaml'])).toContain(
      'registry.example.com/api:cl0ne01',
    );
    await expect(commitAndPush(clone, 'evil.txt', 'x\n', 'try to write around the bridge')).rejects.toThrow(
      /403|read-only|denied|failed/i,
    );
    expect((await logOf(join(bridge.dataDir, 'config.git')))[0]!.oid).toBe(res.json.configCommit);
    const traversal = await fetch(`${bridge.url}/git/config.git/..%2fsecret-key`);
    expect(traversal.status).toBe(404);
  });
});

describe('metrics, readiness and logs against a real remote', () => {
  let server: GitServer;
  let bridge: BridgeProcess;
  const app = 'team-test/app-0001';
  const token = tokenFor(TEST_SECRET_KEY, app, 1);
  const metrics = async () => (await fetch(`${bridge.url}/metrics`)).text();

  beforeAll(async () => {
    ({ server, bridge } = await startRemoteBridge(3, { KIPPER_LOG_LEVEL: 'debug' }));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('moves the counters across a deploy, an authorisation failure and a rejected push', async () => {
    const before = await metrics();
    await postWebhook(bridge.url, app, { image: 'registry.example.com/app-0001:m1' }, { 'X-Kipper-Token': token });
    await postWebhook(bridge.url, app, { image: 'registry.example.com/app-0001:m1' }, { 'X-Kipper-Token': 'nope' });
    // A third party moves the branch: the next push is rejected once, then lands.
    await commitAndPush(await cloneRepo(server.url('config.git')), 'notes/x.txt', 'x\n', 'third party');
    await postWebhook(bridge.url, app, { image: 'registry.example.com/app-0001:m2' }, { 'X-Kipper-Token': token });
    const after = await metrics();
    // How far a series moved across the three requests.
    const moved = (name: string, labels = '') => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('kipper_webhook_requests_total', 'status="200"')).toBe(2);
    expect(moved('kipper_webhook_requests_total', 'status="401"')).toBe(1);
    expect(moved('kipper_push_attempts_total', 'result="ok",repo="default"')).toBe(2);
    expect(moved('kipper_push_attempts_total', 'result="rejected",repo="default"')).toBe(1);
    expect(moved('kipper_deploy_duration_seconds_count')).toBe(2);
    expect(moved('kipper_commits_per_push_sum', 'repo="default"')).toBe(2);
    // Every push that got an answer (2 landed, 1 rejected) is timed from send to answer.
    expect(moved('kipper_push_round_trip_seconds_count', 'repo="default"')).toBe(3);
    expect(moved('kipper_push_round_trip_seconds_sum', 'repo="default"')).toBeGreaterThan(0);
    // Per config repo (docs/design.md "Several config repos"): one repo here, `default`.
    expect(after).toMatch(/^kipper_write_queue_depth\{repo="default"\} 0$/m);
    expect(sample(after, 'kipper_history_index_revisions', 'repo="default"')).toBeGreaterThanOrEqual(3);
  });

  it('turns unready while the remote is down and ready again after', async () => {
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    // /readyz starts a look at the remote when its state is older than 2 s but waits for it
    // only 50 ms, so on a busy machine a later probe sees it: both ways, probe until it
    // turns (10 s at most).
    const probe = { timeoutMs: 10_000, intervalMs: 200 };
    server.setDown(true);
    try {
      const down = await eventually(
        '/readyz to answer 503 while the remote is down',
        async () => {
          const res = await fetch(`${bridge.url}/readyz`);
          if (res.status === 503) return res;
          await res.arrayBuffer();
          return undefined;
        },
        probe,
      );
      expect(down.status).toBe(503);
      expect(((await down.json()) as { code: string }).code).toBe('REPO_UNAVAILABLE');
      expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    } finally {
      server.setDown(false);
    }
    // Ready again once a look at the remote succeeds.
    const up = await eventually(
      '/readyz to answer 200 once the remote is back',
      async () => {
        const res = await fetch(`${bridge.url}/readyz`);
        await res.arrayBuffer();
        return res.status === 200 && res;
      },
      probe,
    );
    expect(up.status).toBe(200);
  });

  it('puts the request id on every log line of a request, and one deploy line with app, image, revision, commit and duration', async () => {
    const res = await fetch(`${bridge.url}/api/v1/webhook/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': token, 'x-request-id': 'ci-run-4711' },
      body: JSON.stringify({ image: 'registry.example.com/app-0001:logged1' }),
    });
    expect(res.headers.get('x-request-id')).toBe('ci-run-4711');
    // The access line is written when the answer has been sent: wait for the pipe.
    const linesOf = () =>
      bridge
        .output()
        .split('\n')
        .filter((l) => l.includes('ci-run-4711'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const lines = await eventually(
      'the two log lines of ci-run-4711',
      () => {
        const seen = linesOf();
        return seen.length >= 2 && seen;
      },
      { timeoutMs: 2_000, intervalMs: 50 },
    );
    expect(lines.map((l) => l.msg)).toEqual(['webhook deployed', 'request']);
    expect(lines[1]).toMatchObject({ method: 'POST', status: 200 });
    const deploy = lines.find((l) => l.msg === 'webhook deployed')!;
    expect(deploy).toMatchObject({
      level: 'info',
      reqId: 'ci-run-4711',
      app,
      image: 'registry.example.com/app-0001:logged1',
      revision: expect.any(Number),
    });
    expect(deploy.configCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(deploy.durationMs).toEqual(expect.any(Number));
  });
});

describe('SIGTERM', () => {
  it('during a burst: every request answered 200 has its commit in the remote, and the bridge exits 0', async () => {
    const server = await startGitServer();
    try {
      await createConfigRepo(server.root, 'config.git', 10);
      const bridge = await startBridge({
        KIPPER_REPO_URL: server.url('config.git'),
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
        KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      });
      const apps = appIds(10);
      const sends = Array.from({ length: 60 }, async (_, i) => {
        const app = apps[i % 10]!;
        const image = `registry.example.com/${app.split('/')[1]}:term-${i}`;
        try {
          const r = await postWebhook(
            bridge.url,
            app,
            { image },
            { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
          );
          return { image, status: r.status, commit: r.json.configCommit as string | undefined };
        } catch {
          return { image, status: 0, commit: undefined }; // connection refused after close
        }
      });
      await new Promise((r) => setTimeout(r, 150));
      const exit = bridge.stop('SIGTERM');
      const answers = await Promise.all(sends);
      expect(await exit).toBe(0);
      const log = await logOf(join(server.root, 'config.git'), 'main', 1000);
      const acknowledged = answers.filter((a) => a.status === 200);
      expect(acknowledged.length).toBeGreaterThan(0);
      for (const a of acknowledged) {
        const c = log.find((e) => e.oid === a.commit);
        expect(c, `${a.image} answered 200 but is not in the remote`).toBeDefined();
        expect(c!.message).toContain(`Kipper-Image: ${a.image}\n`);
      }
      for (const a of answers) expect([0, 200, 503]).toContain(a.status);
      expect(await showFile(join(server.root, 'config.git'), 'main', 'kipper.yaml')).toContain('apps:');
      await rm(bridge.dataDir, { recursive: true, force: true });
    } finally {
      await server.close();
    }
  });
});

describe('the read-only git route under abuse', () => {
  it('leaves no git http-backend behind when a client sends half a request and goes away', async () => {
    const { connect } = await import('node:net');
    const { execFile } = await import('node:child_process');
    const bridge = await startBridge();
    try {
      const url = new URL(bridge.url);
      const backends = () =>
        new Promise<number>((resolve) =>
          execFile('pgrep', ['-c', '-P', String(bridge.child.pid), '-f', 'http-backend'], (_e, out) =>
            resolve(Number(String(out).trim() || 0)),
          ),
        );
      for (let i = 0; i < 3; i++) {
        const socket = connect(Number(url.port), url.hostname);
        await new Promise((r) => socket.once('connect', r));
        socket.write(
          'POST /git/config.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 100000\r\n\r\n0032want',
        );
        await new Promise((r) => setTimeout(r, 150));
        socket.destroy();
      }
      await eventually('every git http-backend to end', async () => (await backends()) === 0, {
        timeoutMs: 2_000,
        intervalMs: 100,
      });
      expect(await backends()).toBe(0);
    } finally {
      await bridge.stop();
    }
  });
});
