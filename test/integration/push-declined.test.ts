import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { appIds } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { headOf } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

type Json = Record<string, unknown>;

const apps = appIds(10);
const HOOK_LINE = 'POLICY-REJECT: pushes frozen for INC-99';

async function deploy(
  bridge: BridgeProcess,
  app: string,
  tag: string,
): Promise<{ status: number; json: Json; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${bridge.url}/api/v1/webhook/${app}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) },
    body: JSON.stringify({ image: `registry.example.com/${app.split('/')[1]}:${tag}` }),
    signal: AbortSignal.timeout(40_000),
  });
  return { status: res.status, json: (await res.json()) as Json, ms: performance.now() - started };
}

/** Pushes (`POST …/git-receive-pack`) the server was sent so far, answered or not. */
const pushRequests = (server: GitServer) =>
  server.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack')).length;

const logLines = (bridge: BridgeProcess): Json[] =>
  bridge
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);

// Issue #18, "A declined push is retried as if it were a race".
describe('a remote whose pre-receive hook declines every push', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const hook = () => join(bare, 'hooks', 'pre-receive');

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(apps.length, { KIPPER_LOG_LEVEL: 'info' }));
    await writeFile(
      hook(),
      `#!/bin/sh\necho '${HOOK_LINE}' >&2\necho 'ask #release-freeze before pushing' >&2\nexit 1\n`,
    );
    await chmod(hook(), 0o755);
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('answers 502 PUSH_DECLINED at once with the hook’s own lines, after one push, writing nothing', async () => {
    const before = await headOf(bare);
    const pushesBefore = pushRequests(server);
    const res = await deploy(bridge, apps[0]!, 'declined1');
    expect(res.status).toBe(502);
    expect(res.json.code).toBe('PUSH_DECLINED');
    expect(res.json.remote).toBe(`${HOOK_LINE}\nask #release-freeze before pushing`);
    expect(String(res.json.error)).toContain('pre-receive hook declined');
    expect(res.ms).toBeLessThan(5_000);
    expect(pushRequests(server) - pushesBefore).toBe(1);
    expect(await headOf(bare)).toBe(before);
  });

  it('answers 10 callers in flight within seconds, each push tried once, and logs each declined push once at warn', async () => {
    const before = await headOf(bare);
    const pushesBefore = pushRequests(server);
    const warnsBefore = logLines(bridge).filter(
      (l) => l.level === 'warn' && l.msg === 'the config repo declined a push',
    ).length;
    const started = performance.now();
    const answers = await Promise.all(apps.map((app, i) => deploy(bridge, app, `burst${i}`)));
    const elapsed = performance.now() - started;
    expect(answers.map((a) => a.status)).toEqual(apps.map(() => 502));
    expect(answers.every((a) => a.json.code === 'PUSH_DECLINED' && String(a.json.remote).startsWith(HOOK_LINE))).toBe(
      true,
    );
    expect(elapsed).toBeLessThan(10_000);
    const pushes = pushRequests(server) - pushesBefore;
    // Group commit: the 10 deploys ride in a few pushes, none of them tried twice.
    expect(pushes).toBeGreaterThanOrEqual(1);
    expect(pushes).toBeLessThanOrEqual(apps.length);
    expect(await headOf(bare)).toBe(before);
    const warns = logLines(bridge).filter((l) => l.level === 'warn' && l.msg === 'the config repo declined a push');
    expect(warns.length - warnsBefore).toBe(pushes);
    expect(warns.at(-1)!.remote).toEqual([HOOK_LINE, 'ask #release-freeze before pushing']);
    expect(warns.at(-1)!.answer).toBe('pre-receive hook declined');
  });

  it('shows the declined push on /readyz and /metrics until a push lands again', async () => {
    const ready = await fetch(`${bridge.url}/readyz`);
    const body = (await ready.json()) as Json;
    expect(ready.status).toBe(200);
    expect(body.pushDeclined).toMatchObject({ remote: expect.stringContaining(HOOK_LINE) as unknown });
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^kipper_push_declined\{repo="default"\} 1$/m);
    expect(metrics).toMatch(/^kipper_push_attempts_total\{result="declined",repo="default"\} [1-9]\d*$/m);

    await rm(hook());
    const res = await deploy(bridge, apps[0]!, 'after-freeze');
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('deployed');
    await eventually('readyz without pushDeclined', async () => {
      const after = (await (await fetch(`${bridge.url}/readyz`)).json()) as Json;
      return after.status === 'ready' && after.pushDeclined === undefined;
    });
    expect(await (await fetch(`${bridge.url}/metrics`)).text()).toMatch(/^kipper_push_declined\{repo="default"\} 0$/m);
  });
});
