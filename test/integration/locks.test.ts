import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer, LockAnswer, RollbackAnswer } from '../../src/api-types.js';
import { cloneRepo, commitAndPush, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/providers/', import.meta.url));
const API = 'yourr-name-test/api';
const DOCS = 'yourr-name-prod/docs';
const API_FILE = 'apps/yourr-name-test/api/deployment.yaml';

// Issue #13: locks and reasons through the admin API and the webhook, against a real remote.
describe('locks and reasons', () => {
  let rb: RemoteBridge;
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${rb.bridge.url}/api/v1/apps/${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const json = async <T>(res: Response | Promise<Response>): Promise<{ status: number; body: T }> => {
    const r = await res;
    return { status: r.status, body: (await r.json()) as T };
  };
  const webhook = (app: string, body: unknown, headers: Record<string, string> = {}) =>
    json<Record<string, unknown>>(
      fetch(`${rb.bridge.url}/api/v1/webhook/${app}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1),
          ...headers,
        },
        body: JSON.stringify(body),
      }),
    );
  const history = async (app: string) => (await json<HistoryAnswer>(admin('GET', `${app}/history`))).body;

  beforeAll(async () => {
    rb = await startRemoteBridge(FIXTURE);
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('a lock is one commit to kipper.yaml; the webhook then answers 423 with the reason and writes nothing', async () => {
    const before = await showFile(rb.bare, 'main', 'kipper.yaml');
    const locked = await json<LockAnswer>(
      admin('POST', `${API}/lock`, { reason: 'INC-42: bad migration', by: 'ana@example.com' }),
    );
    expect(locked.status).toBe(200);
    expect(locked.body).toMatchObject({
      app: API,
      locked: true,
      lock: { reason: 'INC-42: bad migration', by: 'ana@example.com' },
    });
    const [commit] = await logOf(rb.bare);
    expect(commit!.oid).toBe(locked.body.configCommit);
    expect(commit!.message).toBe(
      `lock ${API}\n\nINC-42: bad migration\n\nKipper-App: ${API}\nKipper-Reason: INC-42: bad migration\nKipper-Actor: admin\n`,
    );
    // Only lines added to kipper.yaml: the rest of the hand-written file is as it was.
    const after = await showFile(rb.bare, 'main', 'kipper.yaml');
    expect(after).toBe(
      `${before}locks:\n  ${API}: { reason: "INC-42: bad migration", by: "ana@example.com", at: ${JSON.stringify(locked.body.lock!.at)} }\n`,
    );

    const head = await headOf(rb.bare);
    const refused = await webhook(API, { image: 'ghcr.io/yourr-name/api:while-locked' });
    expect(refused.status).toBe(423);
    expect(refused.body).toMatchObject({
      code: 'APP_LOCKED',
      lock: { reason: 'INC-42: bad migration', by: 'ana@example.com' },
    });
    expect(String(refused.body.error)).toContain('INC-42: bad migration');
    expect(await headOf(rb.bare)).toBe(head);
    // History and the app list show it.
    expect((await history(API)).lock).toMatchObject({ reason: 'INC-42: bad migration' });
    const apps = (await json<{ apps: Array<{ app: string; lock: unknown }> }>(admin('GET', ''))).body.apps;
    expect(apps.find((a) => a.app === API)?.lock).toMatchObject({ reason: 'INC-42: bad migration' });
    expect(apps.find((a) => a.app === DOCS)?.lock).toBeNull();
  });

  it('a locked app still takes a manual deploy with a reason, which history and the commit carry', async () => {
    const res = await json<Record<string, unknown>>(
      admin('POST', `${API}/deploy`, { image: 'ghcr.io/yourr-name/api:hotfix', reason: 'INC-42 hotfix' }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'deployed', image: 'ghcr.io/yourr-name/api:hotfix' });
    const [commit] = await logOf(rb.bare);
    expect(commit!.message).toMatch(
      /^deploy yourr-name-test\/api: ghcr\.io\/yourr-name\/api:hotfix\n\nINC-42 hotfix\n\n/,
    );
    expect(commit!.message).toContain('\nKipper-Trigger: manual\nKipper-Reason: INC-42 hotfix\n');
    const [newest, older] = (await history(API)).revisions;
    expect(newest).toMatchObject({ trigger: 'manual', reason: 'INC-42 hotfix' });
    expect(older!.reason).toBeNull();
  });

  it('refuses a provider event for a locked git-source app, and a bad reason, writing nothing', async () => {
    await json(admin('POST', `${DOCS}/lock`, { reason: 'docs freeze' }));
    const head = await headOf(rb.bare);
    const push = await readFile(new URL('../../fixtures/webhooks/gitlab-push-hook.json', import.meta.url));
    const res = await fetch(`${rb.bridge.url}/api/v1/webhook/${DOCS}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-token': tokenFor(TEST_SECRET_KEY, DOCS, 1),
      },
      body: push,
    });
    expect(res.status).toBe(423);
    expect(((await res.json()) as { lock: { by: string } }).lock.by).toBe('admin API');
    for (const reason of ['', 'two\nlines', 'x'.repeat(501)]) {
      const bad = await json<{ code: string; fields: Record<string, string> }>(
        admin('POST', `${API}/lock`, { reason }),
      );
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('INVALID_BODY');
      expect(Object.keys(bad.body.fields)).toEqual(['reason']);
    }
    const noReason = await json<{ code: string }>(admin('POST', `${API}/rollback`, { lock: true }));
    expect(noReason.status).toBe(400);
    expect(await headOf(rb.bare)).toBe(head);
  });

  it('unlock is one commit that gives kipper.yaml back; the webhook deploys again', async () => {
    const locked = await showFile(rb.bare, 'main', 'kipper.yaml');
    const unlocked = await json<LockAnswer>(admin('DELETE', `${DOCS}/lock`));
    expect(unlocked.body).toMatchObject({ app: DOCS, locked: false, lock: null });
    expect(unlocked.body.configCommit).toMatch(/^[0-9a-f]{40}$/);
    const text = await showFile(rb.bare, 'main', 'kipper.yaml');
    expect(text).toBe(locked.replace(/^ {2}yourr-name-prod\/docs: \{ reason: "docs freeze".*\n/m, ''));
    const again = await json<LockAnswer>(admin('DELETE', `${DOCS}/lock`));
    expect(again.body.configCommit).toBeNull();

    await json(admin('DELETE', `${API}/lock`, { reason: 'INC-42 fixed' }));
    const [commit] = await logOf(rb.bare);
    expect(commit!.message).toBe(
      `unlock ${API}\n\nINC-42 fixed\n\nKipper-App: ${API}\nKipper-Reason: INC-42 fixed\nKipper-Actor: admin\n`,
    );
    expect(await showFile(rb.bare, 'main', 'kipper.yaml')).not.toContain('locks:');
    const deployed = await webhook(API, { image: 'ghcr.io/yourr-name/api:after-unlock' });
    expect(deployed).toMatchObject({ status: 200, body: { status: 'deployed' } });
  });

  it('rollback with lock is one commit: the image goes back and the app is locked, with the reason', async () => {
    const head = await headOf(rb.bare);
    const res = await json<RollbackAnswer>(
      admin('POST', `${API}/rollback`, { reason: 'INC-43: 500s after deploy', lock: true, by: 'bob' }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'rolled_back',
      image: 'ghcr.io/yourr-name/api:hotfix',
      lock: { reason: 'INC-43: 500s after deploy', by: 'bob' },
    });
    expect(await git(['--git-dir', rb.bare, 'rev-list', '--count', `${head}..main`])).toBe('1\n');
    const changed = await git(['--git-dir', rb.bare, 'diff', '--name-only', head, 'main']);
    expect(changed.split('\n').filter(Boolean).sort()).toEqual([API_FILE, 'kipper.yaml']);
    const [commit] = await logOf(rb.bare);
    expect(commit!.message).toContain('\n\nINC-43: 500s after deploy\n\n');
    expect(commit!.message).toContain('\nKipper-Trigger: rollback\n');
    expect(commit!.message).toMatch(/\nKipper-Reason: INC-43: 500s after deploy\nKipper-Actor: admin\n$/);
    expect((await history(API)).revisions[0]).toMatchObject({
      trigger: 'rollback',
      reason: 'INC-43: 500s after deploy',
    });
    expect((await webhook(API, { image: 'ghcr.io/yourr-name/api:ci-again' })).status).toBe(423);
  });

  it('a lock pushed by someone else (another replica, a human) is honoured at once', async () => {
    await json(admin('DELETE', `${API}/lock`));
    const clone = await cloneRepo(rb.server.url('config.git'));
    const text = await readFile(`${clone}/kipper.yaml`, 'utf8');
    await commitAndPush(clone, 'kipper.yaml', `${text}locks:\n  ${API}: { reason: "frozen by hand" }\n`, 'freeze api');
    const head = await headOf(rb.bare);
    const refused = await webhook(API, { image: 'ghcr.io/yourr-name/api:racing' });
    expect(refused.status).toBe(423);
    expect(refused.body).toMatchObject({ code: 'APP_LOCKED', lock: { reason: 'frozen by hand', by: '', at: '' } });
    expect(await headOf(rb.bare)).toBe(head);
  });
});
