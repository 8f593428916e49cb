import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, postWebhook, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { git, headOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { gitlabMergeMessage, startGitlabApi, type GitlabApi } from '../helpers/gitlab-api.js';
import { protectBranch } from '../helpers/host-proposals.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

type Json = Record<string, unknown>;

const [manual, auto] = appIds(2);
const BOT = { username: 'project_42_bot', token: 'glpat-bottoken0123456789' };
const PROJECT = 'acme/config';

// Issue #20: the same pull-request mode on GitLab merge requests, through its v4 API.
describe('pull-request mode on GitLab', () => {
  let server: GitServer;
  let bare: string;
  let gitlab: GitlabApi;
  let bridge: BridgeProcess;

  const webhook = (app: string, tag: string, query = '') =>
    postWebhook(
      bridge.url,
      `${app}${query}`,
      { image: `registry.example.com/${app.split('/')[1]}:${tag}` },
      { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) },
    );
  const admin = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${bridge.url}/api/v1/apps/${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const history = async (app: string) => (await admin('GET', `${app}/history`)).json.revisions as Json[];
  const open = () => gitlab.store.proposals.filter((p) => p.state === 'open');
  const named = (n: number) => open().find((p) => p.number === n && p.body.includes('Kipper-Pull-Request'));

  beforeAll(async () => {
    server = await startGitServer({ authorize: (u, p) => u === BOT.username && p === BOT.token });
    bare = await createConfigRepo(server.root, `${PROJECT}.git`, 2, {
      appKeys: (id) =>
        id === auto ? 'write: pull-request\n    autoMerge: true' : id === manual ? 'write: pull-request' : undefined,
    });
    await protectBranch(bare, 'main', []);
    gitlab = await startGitlabApi({ bare, project: PROJECT, token: BOT.token });
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url(`${PROJECT}.git`),
      KIPPER_GIT_USERNAME: BOT.username,
      KIPPER_GIT_TOKEN: BOT.token,
      KIPPER_GIT_PROVIDER: 'gitlab',
      KIPPER_GITLAB_API_URL: gitlab.url,
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await gitlab?.close();
    await server?.close();
  });

  it('proposes a deploy as one merge request, replaced by the next, and a person’s merge becomes a revision with pullRequest', async () => {
    const main = await headOf(bare);
    const first = await webhook(manual!, 'v1');
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({
      status: 'proposed',
      pullRequest: { number: 1, url: 'https://gitlab.example.com/acme/config/-/merge_requests/1' },
    });
    const second = await webhook(manual!, 'v2');
    expect(second.json.pullRequest).toMatchObject({ number: 1 });
    expect(open()).toHaveLength(1);
    expect(await headOf(bare, `kipper/${manual}`)).toBe(second.json.configCommit);
    expect((await git(['--git-dir', bare, 'rev-parse', `kipper/${manual}^`])).trim()).toBe(main);
    expect((await admin('GET', `${manual}/proposals`)).json).toEqual({
      proposals: [
        {
          number: 1,
          url: 'https://gitlab.example.com/acme/config/-/merge_requests/1',
          image: 'registry.example.com/app-0000:v2',
          commit: null,
          state: 'open',
        },
      ],
    });
    const mr = gitlab.store.find(1)!;
    mr.checks = 'success';
    expect((await gitlab.store.merge(mr, { message: gitlabMergeMessage(PROJECT) })).ok).toBe(true);
    const revisions = await eventually('the merge in history', async () => {
      const r = await history(manual!);
      return r[0]?.image === 'registry.example.com/app-0000:v2' && r;
    });
    expect(revisions[0]).toMatchObject({
      trigger: 'webhook',
      pullRequest: { number: 1, url: 'https://gitlab.example.com/acme/config/-/merge_requests/1' },
    });
  });

  it('?wait= answers 200 deployed once merged, and 409 PR_CLOSED for a merge request closed unmerged', async () => {
    const waiting = webhook(manual!, 'v3', '?wait=60');
    const mr = await eventually('merge request !2', () => named(2));
    mr.checks = 'success';
    expect((await gitlab.store.merge(mr, { message: gitlabMergeMessage(PROJECT) })).ok).toBe(true);
    const merged = await waiting;
    expect(merged.status).toBe(200);
    expect(merged.json).toMatchObject({
      status: 'deployed',
      image: 'registry.example.com/app-0000:v3',
      pullRequest: { number: 2 },
    });
    expect(merged.json.configCommit).toBe(await headOf(bare));

    const main = await headOf(bare);
    const closing = webhook(manual!, 'v4', '?wait=60');
    await gitlab.store.close(await eventually('merge request !3', () => named(3)));
    const closed = await closing;
    expect(closed.status).toBe(409);
    expect(closed.json).toMatchObject({ code: 'PR_CLOSED', pullRequest: { number: 3 } });
    expect(await headOf(bare)).toBe(main);
  });

  it('proposes a rollback, and refuses --direct on the protected branch with 502 PUSH_DECLINED', async () => {
    const rollback = await admin('POST', `${manual}/rollback`, {});
    expect(rollback.status).toBe(202);
    expect(rollback.json).toMatchObject({
      status: 'proposed',
      image: 'registry.example.com/app-0000:v2',
      pullRequest: { number: 4 },
    });
    const direct = await admin('POST', `${manual}/rollback`, { direct: true });
    expect(direct.status).toBe(502);
    expect(direct.json.code).toBe('PUSH_DECLINED');
  });

  it('with autoMerge merges through the API with the head sha once the merge request is mergeable', async () => {
    const res = await webhook(auto!, 'v1');
    expect(res.status).toBe(202);
    const mr = gitlab.store.find((res.json.pullRequest as { number: number }).number)!;
    expect(mr.state).toBe('open');
    // The bridge's first look (pipeline running) is over: the next poll is 5 s away.
    const path = `GET /api/v4/projects/acme%2Fconfig/merge_requests/${mr.number}`;
    await eventually('the first look', () => gitlab.store.calls.includes(path));
    mr.checks = 'success';
    // GitLab's Merge Request Hook for the pipeline that went green: the bridge looks at once.
    const hook = await fetch(`${bridge.url}/api/v1/webhook/${auto}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Merge Request Hook',
        'x-gitlab-token': tokenFor(TEST_SECRET_KEY, auto!, 1),
      },
      body: JSON.stringify({
        object_kind: 'merge_request',
        user: { username: 'ci' },
        object_attributes: { iid: mr.number, source_branch: `kipper/${auto}`, action: 'update' },
      }),
    });
    expect(hook.status).toBe(202);
    await eventually('the bridge merged it', () => mr.state === 'merged', { timeoutMs: 4_000 });
    expect(
      gitlab.store.calls.some((c) => c === `PUT /api/v4/projects/acme%2Fconfig/merge_requests/${mr.number}/merge`),
    ).toBe(true);
    await eventually('the auto-merge in history', async () => (await history(auto!))[0]?.pullRequest);
  });
});
