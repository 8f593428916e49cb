import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { postWebhook, runKip } from '../helpers/bridge-process.js';
import { headOf, logOf } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #18 §4 "Who did it" (docs/design.md "Who did it"): the admin token's actor is
// `admin`, with the name kip claims (KIPPER_USER) added as `admin (as <name>)`.
const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const API = 'yourr-name-test/api';
const TEST_NS = ['--project', 'yourr-name', '--environment', 'test'];
const image = (tag: string) => `registry.example.com/api:${tag}`;

describe('who did it, in git and in history', () => {
  let rb: RemoteBridge;
  const kip = (args: string[], user?: string) =>
    runKip(
      args,
      { KIPPER_URL: rb.bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...(user ? { KIPPER_USER: user } : {}) },
      { timeoutMs: 30_000 },
    );
  const trailer = async () => /^Kipper-Actor: (.*)$/m.exec((await logOf(rb.bare, 'main', 1))[0]!.message)?.[1];

  beforeAll(async () => {
    rb = await startRemoteBridge(FIXTURE);
    await kip(['app', 'webhook', 'enable', 'api', ...TEST_NS]);
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('records webhook:<app> for a token, admin (as <KIPPER_USER>) for kip, admin without a name', async () => {
    const status = JSON.parse((await kip(['app', 'webhook', 'status', 'api', ...TEST_NS, '--json'])).stdout) as {
      token: string;
    };
    const hook = await postWebhook(rb.bridge.url, API, { image: image('by-ci') }, { 'x-kipper-token': status.token });
    expect(hook.status).toBe(200);
    expect(await trailer()).toBe(`webhook:${API}`);

    expect((await kip(['app', 'update', 'api', '--image', image('by-ana'), ...TEST_NS], 'ana@example.com')).code).toBe(
      0,
    );
    expect(await trailer()).toBe('admin (as ana@example.com)');

    expect((await kip(['app', 'rollback', 'api', ...TEST_NS])).code).toBe(0);
    expect(await trailer()).toBe('admin');

    const history = JSON.parse((await kip(['app', 'history', 'api', ...TEST_NS, '--json'])).stdout) as HistoryAnswer;
    expect(history.revisions.slice(0, 3).map((r) => r.actor)).toEqual([
      'admin',
      'admin (as ana@example.com)',
      `webhook:${API}`,
    ]);
    const table = (await kip(['app', 'history', 'api', ...TEST_NS, '--limit', '3'])).stdout.split('\n');
    expect(table[0]).toMatch(/ BY$/);
    expect(table[1]).toMatch(/ admin$/);
    expect(table[2]).toMatch(/ admin \(as ana@example\.com\)$/);
    expect(table[3]).toMatch(new RegExp(` webhook:${API}$`));
  });

  it('names who enabled a webhook and who locked an app in those commits too', async () => {
    expect((await kip(['app', 'lock', 'api', '--reason', 'INC-1: freeze', ...TEST_NS], 'bob')).code).toBe(0);
    expect(await trailer()).toBe('admin (as bob)');
    expect((await kip(['app', 'unlock', 'api', ...TEST_NS], 'bob')).code).toBe(0);
    expect(await trailer()).toBe('admin (as bob)');
    expect((await kip(['app', 'webhook', 'enable', 'api', ...TEST_NS], 'carol')).code).toBe(0);
    expect(await trailer()).toBe('admin (as carol)');
  });

  it('refuses a claimed name that would break the trailer line, writing nothing', async () => {
    const head = await headOf(rb.bare);
    for (const user of ['two\nlines', 'x'.repeat(201), 'admin) (as root']) {
      const res = await fetch(`${rb.bridge.url}/api/v1/apps/${API}/deploy`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
          'x-kipper-user': user.replace('\n', '\t'),
        },
        body: JSON.stringify({ image: image('claimed') }),
      });
      expect(res.status, user).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('INVALID_BODY');
    }
    expect(await headOf(rb.bare)).toBe(head);
    // The secret key never signs what the header says: a token for one app deploys it alone.
    expect(tokenFor(TEST_SECRET_KEY, API, 1)).toMatch(/^[0-9a-f]{64}$/);
  });
});
