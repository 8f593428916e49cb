import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { headOf, logOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/providers/', import.meta.url));
const payload = (name: string) => readFile(new URL(`../../fixtures/webhooks/${name}`, import.meta.url));
const DOCS = 'yourr-name-prod/docs';
const API = 'yourr-name-test/api';
const DOCS_FILE = 'apps/yourr-name-prod/docs/application.yaml';
const sign = (secret: string, body: Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

// Issue #5: git providers call the webhook with their own events and authentication.
describe('GitHub and GitLab webhooks', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  let delivery = 0;
  const docsToken = tokenFor(TEST_SECRET_KEY, DOCS, 1);
  const apiToken = tokenFor(TEST_SECRET_KEY, API, 1);

  /** POST raw bytes as GitHub does: signed, no token header. */
  const github = async (
    app: string,
    event: string,
    body: Buffer,
    opts: { secret?: string; signature?: string; id?: string } = {},
  ) => {
    const res = await fetch(`${bridge.url}/api/v1/webhook/${app}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': opts.id ?? `d-${++delivery}`,
        'x-hub-signature-256': opts.signature ?? sign(opts.secret ?? (app === DOCS ? docsToken : apiToken), body),
        'user-agent': 'GitHub-Hookshot/abc1234',
      },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(FIXTURE));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('answers a signed ping with 200 and writes nothing', async () => {
    const head = await headOf(bare);
    const res = await github(DOCS, 'ping', await payload('github-ping.json'));
    expect(res).toMatchObject({ status: 200, json: { status: 'pong', app: DOCS } });
    expect(await headOf(bare)).toBe(head);
  });

  it('deploys the pushed head commit of a git-source app from a GitHub push, once per delivery', async () => {
    const body = await payload('github-push.json');
    const res = await github(DOCS, 'push', body, { id: 'push-delivery-1' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'building',
      app: DOCS,
      image: null,
      commit: '9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392',
      revision: 2,
    });
    const head = await headOf(bare);
    expect(res.json.configCommit).toBe(head);
    expect(await showFile(bare, 'main', DOCS_FILE)).toContain(
      'targetRevision: 9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392 # {"$kipper": "yourr-name-prod/docs:commit"}',
    );
    const [commit] = await logOf(bare);
    expect(commit!.message).toBe(
      `deploy ${DOCS}: 9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392\n\nKipper-App: ${DOCS}\n` +
        'Kipper-Source-Commit: 9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392\nKipper-Trigger: webhook\n' +
        // GitHub's sender: who pushed (docs/design.md "Who did it").
        'Kipper-Actor: octocat\n',
    );
    // GitHub's redelivery: same id, same answer, no second commit.
    const again = await github(DOCS, 'push', body, { id: 'push-delivery-1' });
    expect(again).toEqual(res);
    expect(await headOf(bare)).toBe(head);
  });

  it('a CI step and the provider firing for the same push make one commit', async () => {
    const head = await headOf(bare);
    const res = await fetch(`${bridge.url}/api/v1/webhook/${DOCS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': docsToken },
      body: JSON.stringify({ commit: '9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'unchanged', revision: 2, configCommit: head });
    expect(await headOf(bare)).toBe(head);
  });

  it('answers 409 to an image posted to a git-source app', async () => {
    const head = await headOf(bare);
    const res = await fetch(`${bridge.url}/api/v1/webhook/${DOCS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': docsToken },
      body: JSON.stringify({ image: 'registry.example.com/docs:1' }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { code: string }).code).toBe('GIT_APP_IMAGE');
    expect(await headOf(bare)).toBe(head);
  });

  it('ignores other branches and events with 202 and the reason', async () => {
    const head = await headOf(bare);
    const other = Buffer.from(
      (await payload('github-push.json')).toString().replace('"refs/heads/main"', '"refs/heads/feature/x"'),
    );
    const res = await github(DOCS, 'push', other);
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'ignored', app: DOCS });
    expect(String(res.json.reason)).toContain('refs/heads/feature/x');
    expect((await github(DOCS, 'issues', Buffer.from('{"action":"opened"}'))).status).toBe(202);
    expect(await headOf(bare)).toBe(head);
  });

  it('deploys an image app from a registry_package published event whose repository matches', async () => {
    const res = await github(API, 'registry_package', await payload('github-registry-package.json'));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'deployed', app: API, image: 'ghcr.io/yourr-name/api:abc123f' });
    expect(await showFile(bare, 'main', 'apps/yourr-name-test/api/deployment.yaml')).toContain(
      'image: ghcr.io/yourr-name/api:abc123f',
    );
    // The package version's target_oid is the commit it was built from (issue #9).
    expect(res.json.commit).toBe('abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6');
    expect((await logOf(bare))[0]!.message).toContain(
      'Kipper-Source-Commit: abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6\n',
    );
    const head = await headOf(bare);
    const elsewhere = Buffer.from(
      (await payload('github-registry-package.json'))
        .toString()
        .replaceAll('ghcr.io/yourr-name/api:abc123f', 'ghcr.io/yourr-name/other:abc123f'),
    );
    const ignored = await github(API, 'registry_package', elsewhere);
    expect(ignored.status).toBe(202);
    expect(await headOf(bare)).toBe(head);
  });

  it('refuses bad signatures with the one 401, writing nothing', async () => {
    const head = await headOf(bare);
    const body = await payload('github-push.json');
    const tampered = Buffer.from(
      body.toString().replace('9c4f2d1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a392', 'ffffffffffffffffffffffffffffffffffffffff'),
    );
    const cases = [
      await github(DOCS, 'push', tampered, { signature: sign(docsToken, body) }),
      await github(DOCS, 'push', body, { secret: apiToken }),
      await github(DOCS, 'push', body, {
        signature: `sha1=${createHmac('sha1', docsToken).update(body).digest('hex')}`,
      }),
      await github(DOCS, 'push', body, { signature: 'sha256=' }),
      await github(DOCS, 'push', body, { secret: TEST_ADMIN_TOKEN }),
    ];
    for (const c of cases) expect(c).toMatchObject({ status: 401, json: { code: 'UNAUTHORIZED' } });
    expect(await headOf(bare)).toBe(head);
  });

  it('names the credential that failed in a 401, the same for an app that does not exist', async () => {
    const post = (app: string, headers: Record<string, string>) =>
      fetch(`${bridge.url}/api/v1/webhook/${app}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"commit":"abc1234"}',
      });
    const error = async (res: Response) => {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; code: string };
      expect(body.code).toBe('UNAUTHORIZED');
      return body.error;
    };
    const gitlab = await error(await post(DOCS, { 'x-gitlab-token': apiToken }));
    expect(gitlab).toContain('X-Gitlab-Token');
    expect(gitlab).not.toContain('send X-Kipper-Token');
    expect(await error(await post('yourr-name-prod/nope', { 'x-gitlab-token': apiToken }))).toBe(gitlab);
    const github = await error(
      await post(DOCS, { 'x-hub-signature-256': sign(apiToken, Buffer.from('{"commit":"abc1234"}')) }),
    );
    expect(github).toContain('X-Hub-Signature-256');
    expect(github).not.toContain('send X-Kipper-Token');
    expect(
      await error(
        await post('yourr-name-prod/nope', {
          'x-hub-signature-256': sign(apiToken, Buffer.from('{"commit":"abc1234"}')),
        }),
      ),
    ).toBe(github);
  });

  it('decides what a deploy may hold in one place: the webhook and the admin API give a git-source app the same answers', async () => {
    const head = await headOf(bare);
    const viaWebhook = (body: string) =>
      fetch(`${bridge.url}/api/v1/webhook/${DOCS}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-kipper-token': docsToken },
        body,
      });
    const viaAdmin = (body: string) =>
      fetch(`${bridge.url}/api/v1/apps/${DOCS}/deploy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body,
      });
    for (const body of [
      '{}',
      '{"image":"registry.example.com/docs:1"}',
      '{"image":"registry.example.com/docs:1","commit":"abc1234"}',
    ]) {
      const [a, b] = [await viaWebhook(body), await viaAdmin(body)];
      const [ja, jb] = [(await a.json()) as { code: string }, (await b.json()) as { code: string }];
      expect([b.status, jb.code], body).toEqual([a.status, ja.code]);
    }
    expect(await headOf(bare)).toBe(head);
  });

  it('takes a GitLab Push Hook with X-Gitlab-Token', async () => {
    const pushHook = async (token: string) =>
      fetch(`${bridge.url}/api/v1/webhook/${DOCS}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token },
        body: await payload('gitlab-push-hook.json'),
      });
    const res = await pushHook(docsToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'building',
      commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      revision: 3,
    });
    expect(await showFile(bare, 'main', DOCS_FILE)).toContain(
      'targetRevision: da1560886d4f094c3e6c9ef40349f7d38b5d27d7 #',
    );
    expect((await pushHook(apiToken)).status).toBe(401);
  });

  it('takes a manual commit deploy for a git-source app through the admin API', async () => {
    const res = await fetch(`${bridge.url}/api/v1/apps/${DOCS}/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ commit: '1111111111111111111111111111111111111111' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'building',
      commit: '1111111111111111111111111111111111111111',
      revision: 4,
    });
    const [c] = await logOf(bare);
    expect(c!.message).toContain('Kipper-Trigger: manual\n');
    // and back through a rollback, which for a git-source app sets the commit again
    const rb = await fetch(`${bridge.url}/api/v1/apps/${DOCS}/rollback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(await rb.json()).toMatchObject({
      status: 'rolled_back',
      rolledBackTo: 3,
      image: null,
      commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      revision: 5,
    });
    // The all-digit SHA before it had to be quoted (YAML would read a number); the
    // scalar keeps that style.
    expect(await showFile(bare, 'main', DOCS_FILE)).toContain(
      'targetRevision: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" #',
    );
  });

  it('shows git-source deploys in history with their commits', async () => {
    const res = await fetch(`${bridge.url}/api/v1/apps/${DOCS}/history`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    const body = (await res.json()) as {
      revisions: Array<{ revision: number; image: string | null; commit: string; trigger: string }>;
    };
    expect(body.revisions.map((r) => [r.revision, r.image, r.commit.slice(0, 7), r.trigger])).toEqual([
      [5, null, 'da15608', 'rollback'],
      [4, null, '1111111', 'manual'],
      [3, null, 'da15608', 'webhook'],
      [2, null, '9c4f2d1', 'webhook'],
      [1, null, '6113728', 'git'],
    ]);
  });

  it('answers 429 after repeated failures from one address, while the right token still deploys', async () => {
    let last = 0;
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${bridge.url}/api/v1/webhook/${API}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-kipper-token': `${i}`.padStart(64, '0') },
        body: '{"image":"ghcr.io/yourr-name/api:x"}',
      });
      last = res.status;
    }
    expect(last).toBe(429);
    const ok = await fetch(`${bridge.url}/api/v1/webhook/${API}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kipper-token': apiToken },
      body: '{"image":"ghcr.io/yourr-name/api:after-429"}',
    });
    expect(ok.status).toBe(200);
  });
});
