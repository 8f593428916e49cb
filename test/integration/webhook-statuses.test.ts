import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { createConfigRepo } from '../helpers/config-repo.js';
import { headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Every row of docs/design.md's webhook table for image apps, against a real remote served by
// `git http-backend`; each rejected request leaves the remote head where it was.
describe('webhook statuses against a real remote', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const app = 'team-test/app-0001';
  const token = tokenFor(TEST_SECRET_KEY, app, 1);
  const other = tokenFor(TEST_SECRET_KEY, 'team-test/app-0002', 1);
  const post = (body: unknown, headers: Record<string, string> = { 'X-Kipper-Token': token }, target = app) =>
    postWebhook(bridge.url, target, body, headers);

  beforeAll(async () => {
    server = await startGitServer();
    bare = await createConfigRepo(server.root, 'config.git', 5);
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('200 deployed: the commit is in the remote before the answer', async () => {
    const res = await post({ image: 'registry.example.com/app-0001:abc123f', commit: 'abc123f' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'deployed',
      app,
      image: 'registry.example.com/app-0001:abc123f',
      commit: 'abc123f',
      revision: 2,
    });
    expect(res.json.configCommit).toBe(await headOf(bare));
    const [latest] = await logOf(bare);
    expect(latest!.message).toContain('Kipper-Trigger: webhook');
    expect(await showFile(bare, 'main', 'apps/team-test/app-0001/deployment.yaml')).toContain(
      'image: registry.example.com/app-0001:abc123f # set by kipper',
    );
  });

  it('200 unchanged: a CI retry of the same image writes nothing', async () => {
    const head = await headOf(bare);
    const res = await post({ image: 'registry.example.com/app-0001:abc123f', commit: 'abc123f' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'unchanged', revision: 2, configCommit: head });
    expect(await headOf(bare)).toBe(head);
  });

  it('accepts the older X-Skipper-Token header', async () => {
    const res = await post({ image: 'registry.example.com/app-0001:skipper1' }, { 'X-Skipper-Token': token });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('deployed');
  });

  const rejected: Array<[string, () => Promise<{ status: number; json: Record<string, unknown> }>, number, string]> = [
    ['no token', () => post({ image: 'registry.example.com/app-0001:x1' }, {}), 401, 'UNAUTHORIZED'],
    [
      'a wrong token',
      () => post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': 'a'.repeat(64) }),
      401,
      'UNAUTHORIZED',
    ],
    [
      'the token of another app',
      () => post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': other }),
      401,
      'UNAUTHORIZED',
    ],
    [
      'an unknown app',
      () => post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': token }, 'team-test/nope'),
      401,
      'UNAUTHORIZED',
    ],
    [
      'the admin token',
      () => post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': TEST_ADMIN_TOKEN }),
      401,
      'UNAUTHORIZED',
    ],
    [
      'a token with a space inside',
      () =>
        post(
          { image: 'registry.example.com/app-0001:x1' },
          { 'X-Kipper-Token': `${token.slice(0, 32)} ${token.slice(33)}` },
        ),
      401,
      'UNAUTHORIZED',
    ],
    [
      'an empty token',
      () => post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': '' }),
      401,
      'UNAUTHORIZED',
    ],
    ['bad JSON', () => post('{"image": ', { 'X-Kipper-Token': token }), 400, 'INVALID_JSON'],
    ['a JSON array', () => post('[1,2]', { 'X-Kipper-Token': token }), 400, 'INVALID_BODY'],
    ['no image', () => post({ commit: 'abc123f' }), 400, 'INVALID_IMAGE'],
    ['an image that is not a string', () => post({ image: 42 }), 400, 'INVALID_IMAGE'],
    ['an uppercase image path', () => post({ image: 'registry.example.com/App:1' }), 400, 'INVALID_IMAGE'],
    [
      'a newline in the image',
      () => post({ image: 'registry.example.com/app-0001:1\nKipper-App: x' }),
      400,
      'INVALID_IMAGE',
    ],
    [
      'a tag of 129 characters',
      () => post({ image: `registry.example.com/app-0001:${'a'.repeat(129)}` }),
      400,
      'INVALID_IMAGE',
    ],
    ['a bad digest', () => post({ image: 'registry.example.com/app-0001@sha256:xyz' }), 400, 'INVALID_IMAGE'],
    [
      'a commit that is not hex',
      () => post({ image: 'registry.example.com/app-0001:ok', commit: 'nothex!' }),
      400,
      'INVALID_COMMIT',
    ],
    [
      'a commit too short',
      () => post({ image: 'registry.example.com/app-0001:ok', commit: 'abc12' }),
      400,
      'INVALID_COMMIT',
    ],
    [
      'a commit with a newline',
      () => post({ image: 'registry.example.com/app-0001:ok', commit: 'abc123f\n' }),
      400,
      'INVALID_COMMIT',
    ],
    ['both fields bad', () => post({ image: 'UPPER', commit: 'zz' }), 400, 'INVALID_BODY'],
  ];
  for (const [what, send, status, code] of rejected) {
    it(`${status} ${code} for ${what}, and the remote head does not move`, async () => {
      const head = await headOf(bare);
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.json.code).toBe(code);
      expect(typeof res.json.error).toBe('string');
      expect(await headOf(bare)).toBe(head);
    });
  }

  it('one 401 message for every authorisation failure (no probing which apps exist)', async () => {
    const a = await post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': other });
    const b = await post({ image: 'registry.example.com/app-0001:x1' }, { 'X-Kipper-Token': token }, 'team-test/nope');
    const c = await post({ image: 'registry.example.com/app-0001:x1' }, {});
    expect(a.json).toEqual(b.json);
    expect(b.json).toEqual(c.json);
  });

  it('reports bad fields one by one', async () => {
    const res = await post({ image: 'UPPER/Case', commit: 'zz' });
    expect(res.json.fields).toHaveProperty('image');
    expect(res.json.fields).toHaveProperty('commit');
  });

  it('413 for a body over 64 KiB, also when gzip hides it', async () => {
    const head = await headOf(bare);
    const big = JSON.stringify({ image: 'registry.example.com/app-0001:big', pad: 'x'.repeat(64 * 1024) });
    expect((await post(big)).status).toBe(413);
    const res = await fetch(`${bridge.url}/api/v1/webhook/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-kipper-token': token },
      body: gzipSync(Buffer.from(big)),
    });
    expect(res.status).toBe(413);
    expect(await headOf(bare)).toBe(head);
  });

  it('405 for other methods on the webhook route', async () => {
    const res = await fetch(`${bridge.url}/api/v1/webhook/${app}`, { method: 'GET' });
    expect(res.status).toBe(405);
  });

  it('422 NO_IMAGE_TARGET when no container of the app runs that repository', async () => {
    const head = await headOf(bare);
    const res = await post({ image: 'registry.example.com/something-else:1' });
    expect(res.status).toBe(422);
    expect(res.json.code).toBe('NO_IMAGE_TARGET');
    expect(res.json.error).toContain('apps/team-test/app-0001/deployment.yaml');
    expect(await headOf(bare)).toBe(head);
  });

  it('503 with Retry-After when the remote is unreachable, then deploys once it is back', async () => {
    const head = await headOf(bare);
    server.setDown(true);
    try {
      const res = await post({ image: 'registry.example.com/app-0001:down1' });
      expect(res.status).toBe(503);
      expect(res.json.code).toBe('REPO_UNAVAILABLE');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      server.setDown(false);
    }
    expect(await headOf(bare)).toBe(head);
    // The CI's retry deploys: the dropped edit was not pushed behind its back.
    const retry = await post({ image: 'registry.example.com/app-0001:down1' });
    expect(retry.status).toBe(200);
    expect(retry.json.status).toBe('deployed');
    const log = await logOf(bare, 'main', 5);
    expect(log.filter((c) => c.message.includes('app-0001:down1'))).toHaveLength(1);
  });
});
