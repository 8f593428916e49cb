import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { appIds } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { cloneRepo, git, logOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

type LogLine = Record<string, unknown>;

/** The JSON log lines the bridge wrote so far. */
function logLines(bridge: BridgeProcess): LogLine[] {
  return bridge
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** How long these tests wait for the bridge to recover or notice, and how often they look. */
const WAIT = { timeoutMs: 15_000, intervalMs: 100 };

async function timed(url: string): Promise<{ status: number; ms: number; json: LogLine }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const json = (await res.json()) as LogLine;
  return { status: res.status, ms: performance.now() - started, json };
}

const apps = appIds(5);
const token = (app: string) => tokenFor(TEST_SECRET_KEY, app, 1);

function deploy(bridge: BridgeProcess, app: string, tag: string, signal?: AbortSignal) {
  return fetch(`${bridge.url}/api/v1/webhook/${app}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kipper-token': token(app) },
    body: JSON.stringify({ image: `registry.example.com/${app.split('/')[1]}:${tag}` }),
    ...(signal ? { signal } : {}),
  });
}

// Issue #9: "A remote that hangs" and "Logs of failed deploys".
describe('a remote that accepts connections and never answers', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const DEPLOY_TIMEOUT_S = 2;

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(5, {
      KIPPER_DEPLOY_TIMEOUT: String(DEPLOY_TIMEOUT_S),
      KIPPER_LOG_LEVEL: 'info',
    }));
  });
  afterAll(async () => {
    server?.setHanging(false);
    await bridge?.stop();
    await server?.close();
  });

  it('answers every deploy 503 within KIPPER_DEPLOY_TIMEOUT, keeps the probes quick, writes nothing later and recovers', async () => {
    expect((await deploy(bridge, apps[0]!, 'before')).status).toBe(200);
    server.setHanging(true);
    const started = performance.now();
    // 40 deploys during the hang; the callers of 10 of them give up after 300 ms.
    const sends = Array.from({ length: 40 }, async (_, i) => {
      const gaveUp = i % 4 === 0;
      const controller = new AbortController();
      if (gaveUp) setTimeout(() => controller.abort(), 300);
      try {
        const res = await deploy(bridge, apps[i % apps.length]!, `hang-${i}`, controller.signal);
        return {
          gaveUp,
          status: res.status,
          ms: performance.now() - started,
          retryAfter: res.headers.get('retry-after'),
          reqId: res.headers.get('x-request-id'),
          body: (await res.json()) as LogLine,
        };
      } catch {
        return { gaveUp, status: 0, ms: performance.now() - started, retryAfter: null, reqId: null, body: {} };
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const health = await timed(`${bridge.url}/healthz`);
    const ready = await timed(`${bridge.url}/readyz`);
    // The contract is 100 ms; the bound here only tells "answers" from "waits on git".
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(2_000);
    expect(ready.ms).toBeLessThan(2_000);

    const answers = await Promise.all(sends);
    const waited = answers.filter((a) => !a.gaveUp);
    for (const a of waited) {
      expect(a.status).toBe(503);
      expect(a.body.code).toBe('REPO_UNAVAILABLE');
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      expect(a.ms).toBeLessThan(DEPLOY_TIMEOUT_S * 1000 + 5_000);
    }
    const unready = await timed(`${bridge.url}/readyz`);
    expect(unready.status).toBe(503);
    expect(unready.ms).toBeLessThan(2_000);

    // Every 503 wrote exactly one warn line with its request id, the app, the code, what
    // the remote answered and how many pushes were tried.
    const lines = logLines(bridge);
    for (const a of waited) {
      const mine = lines.filter((l) => l.reqId === a.reqId && (l.level === 'warn' || l.level === 'error'));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        level: 'warn',
        code: 'REPO_UNAVAILABLE',
        app: expect.stringMatching(/^team-test\/app-/),
        remote: expect.any(String),
        attempts: expect.any(Number),
      });
    }

    server.setHanging(false);
    // Recovers without a restart: the next deploy lands.
    await eventually(
      'a deploy after the hang',
      async () => (await deploy(bridge, apps[1]!, 'after')).status === 200,
      WAIT,
    );
    await eventually('ready again', async () => (await timed(`${bridge.url}/readyz`)).status === 200, WAIT);
    // Nothing from the hang was pushed later behind its callers' backs.
    await new Promise((r) => setTimeout(r, 1_000));
    const log = await logOf(bare, 'main', 200);
    expect(log.filter((c) => c.message.includes(':hang-'))).toEqual([]);
    for (const app of apps) {
      const file = `apps/team-test/${app.split('/')[1]}/deployment.yaml`;
      expect(await showFile(bare, 'main', file)).not.toContain(':hang-');
    }
  });

  it('logs one info line with reqId, app and code for a refused webhook', async () => {
    const res = await fetch(`${bridge.url}/api/v1/webhook/${apps[2]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': 'f'.repeat(64), 'x-request-id': 'refused-4711' },
      body: JSON.stringify({ image: 'registry.example.com/app-0002:x' }),
    });
    expect(res.status).toBe(401);
    const bad = await fetch(`${bridge.url}/api/v1/webhook/${apps[2]}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-kipper-token': token(apps[2]!),
        'x-request-id': 'refused-4712',
      },
      body: JSON.stringify({ image: 'Not An Image' }),
    });
    expect(bad.status).toBe(400);
    await eventually('the log lines', () => logLines(bridge).some((l) => l.reqId === 'refused-4712'), WAIT);
    for (const [reqId, code] of [
      ['refused-4711', 'UNAUTHORIZED'],
      ['refused-4712', 'INVALID_IMAGE'],
    ]) {
      const mine = logLines(bridge).filter((l) => l.reqId === reqId);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ level: 'info', reqId, app: apps[2], code });
    }
  });
});

// Issue #9: "Readiness and a broken kipper.yaml".
describe('a broken kipper.yaml pushed by a human', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(3));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('makes /readyz 503 naming the file and field, deploys 422, and the fix is seen by the very next request', async () => {
    const clone = await cloneRepo(server.url('config.git'));
    const good = await showFile(bare, 'main', 'kipper.yaml');
    const broken = good.replace('files: [apps/team-test/app-0000/deployment.yaml]', 'files: []');
    expect(broken).not.toBe(good);
    await git(['-C', clone, 'pull', '-q']);
    await writeFile(join(clone, 'kipper.yaml'), broken);
    await git(['-C', clone, 'commit', '-qam', 'oops']);
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);

    const ready = await eventually(
      '/readyz to notice',
      async () => {
        const r = await timed(`${bridge.url}/readyz`);
        return r.status === 503 && r;
      },
      WAIT,
    );
    expect(ready.json.code).toBe('CONFIG_INVALID');
    expect(String(ready.json.error)).toContain('kipper.yaml');
    expect(String(ready.json.error)).toContain('files');

    const refused = await deploy(bridge, apps[1]!, 'while-broken');
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as LogLine).code).toBe('CONFIG_INVALID');

    await writeFile(join(clone, 'kipper.yaml'), good);
    await git(['-C', clone, 'commit', '-qam', 'fix it']);
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);
    // No waiting for the poll: the request that would be refused looks again first.
    const fixed = await deploy(bridge, apps[1]!, 'after-fix');
    expect(fixed.status).toBe(200);
    expect((await timed(`${bridge.url}/readyz`)).status).toBe(200);
  });
});
