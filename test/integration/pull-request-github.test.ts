import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, postWebhook, runKip, type BridgeProcess } from '../helpers/bridge-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { git, headOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startGithubPulls, type GithubPulls } from '../helpers/github-pulls.js';
import { protectBranch } from '../helpers/host-proposals.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

type Json = Record<string, unknown>;

const [manual, auto, raced] = appIds(3);
const BOT = { username: 'kipper-bot', token: 'ghs_bottoken0123456789' };

// Issue #20: deploys as pull requests, against a double of GitHub's REST API in front of a
// real git http-backend repo whose main branch is protected by a pre-receive hook.
describe('pull-request mode on GitHub', () => {
  let server: GitServer;
  let bare: string;
  let github: GithubPulls;
  let bridge: BridgeProcess;
  let env: NodeJS.ProcessEnv;

  const webhook = (app: string, tag: string, query = '') =>
    postWebhook(
      `${bridge.url}`,
      `${app}${query}`,
      { image: `registry.example.com/${app.split('/')[1]}:${tag}` },
      { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, app, 1) },
    );
  const admin = async (
    b: BridgeProcess,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${b.url}/api/v1/apps/${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const history = async (app: string) => (await admin(bridge, 'GET', `${app}/history`)).json.revisions as Json[];
  const open = () => github.store.proposals.filter((p) => p.state === 'open');

  beforeAll(async () => {
    server = await startGitServer({
      authorize: (u, p) => (u === BOT.username && p === BOT.token) || (u === 'alice' && p === 'alice-pw'),
    });
    bare = await createConfigRepo(server.root, 'acme/config.git', 3, {
      appKeys: (id) =>
        id === auto
          ? 'write: pull-request\n    autoMerge: true'
          : id === manual || id === raced
            ? 'write: pull-request\n    labels: [deploy, kipper]'
            : undefined,
    });
    // No bypass: main takes nothing but merges by the host.
    await protectBranch(bare, 'main', []);
    github = await startGithubPulls({ bare, owner: 'acme', repo: 'config', token: BOT.token });
    env = {
      KIPPER_REPO_URL: server.url('acme/config.git'),
      KIPPER_GIT_USERNAME: BOT.username,
      KIPPER_GIT_TOKEN: BOT.token,
      KIPPER_GIT_PROVIDER: 'github',
      KIPPER_GITHUB_API_URL: github.url,
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    };
    bridge = await startBridge(env);
  });
  afterAll(async () => {
    await bridge?.stop();
    await github?.close();
    await server?.close();
  });

  it('answers 202 proposed with one commit on kipper/<ns>/<app> on top of main and one labelled pull request', async () => {
    const main = await headOf(bare);
    const res = await webhook(manual!, 'v1');
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({
      status: 'proposed',
      app: manual,
      image: 'registry.example.com/app-0000:v1',
      pullRequest: { number: 1 },
    });
    const pr = res.json.pullRequest as { number: number; url: string };
    expect(pr.url).toBe('https://github.example.com/acme/config/pull/1');
    const branch = `kipper/${manual}`;
    expect(res.json.configCommit).toBe(await headOf(bare, branch));
    expect((await git(['--git-dir', bare, 'rev-parse', `${branch}^`])).trim()).toBe(main);
    expect(await headOf(bare)).toBe(main);
    const message = await git(['--git-dir', bare, 'log', '-1', '--format=%B', branch]);
    expect(message).toContain(`Kipper-App: ${manual}`);
    expect(message).toContain('Kipper-Trigger: webhook');
    expect(message).toContain(`Kipper-Pull-Request: ${pr.url}`);
    expect(open()).toHaveLength(1);
    expect(open()[0]).toMatchObject({ branch, target: 'main', labels: ['deploy', 'kipper'] });
    expect(open()[0]!.body).toContain('Kipper-Image: registry.example.com/app-0000:v1');
    const listed = await admin(bridge, 'GET', `${manual}/proposals`);
    expect(listed.json).toEqual({
      proposals: [{ number: 1, url: pr.url, image: 'registry.example.com/app-0000:v1', commit: null, state: 'open' }],
    });
  });

  it('replaces the proposal’s commit with a newer deploy: still one pull request, one commit on main', async () => {
    const main = await headOf(bare);
    const res = await webhook(manual!, 'v2');
    expect(res.status).toBe(202);
    expect(res.json.pullRequest).toMatchObject({ number: 1 });
    expect(open()).toHaveLength(1);
    const branch = `kipper/${manual}`;
    expect(await headOf(bare, branch)).toBe(res.json.configCommit);
    expect((await git(['--git-dir', bare, 'rev-list', '--count', `main..${branch}`])).trim()).toBe('1');
    expect((await git(['--git-dir', bare, 'rev-parse', `${branch}^`])).trim()).toBe(main);
    expect(open()[0]!.body).toContain('registry.example.com/app-0000:v2');
    expect(open()[0]!.title).toBe(`deploy ${manual}: registry.example.com/app-0000:v2`);
  });

  it('answers a retry of the proposed deploy with the same commit, pushing nothing', async () => {
    const tip = await headOf(bare, `kipper/${manual}`);
    const pushes = server.pushes;
    const res = await webhook(manual!, 'v2');
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'proposed', configCommit: tip, pullRequest: { number: 1 } });
    expect(server.pushes).toBe(pushes);
  });

  it('shows the open proposal above the revisions, with its link, in the console (Chromium) and in kip app history', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${bridge.url}/`);
      await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.goto(`${bridge.url}/apps/${manual}`);
      const link = page.getByRole('link', { name: 'pull request #1' });
      expect(await link.getAttribute('href')).toBe('https://github.example.com/acme/config/pull/1');
      expect(await page.locator('p.proposal').innerText()).toContain('registry.example.com/app-0000:v2');
      // Above the table of revisions.
      const proposalBox = await page.locator('p.proposal').boundingBox();
      const tableBox = await page.locator('table.deploys').boundingBox();
      const above = proposalBox !== null && tableBox !== null && proposalBox.y < tableBox.y;
      expect(above).toBe(true);
    } finally {
      await browser.close();
    }
    const cli = await runKip(['app', 'history', manual!], {
      KIPPER_URL: bridge.url,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    expect(cli.code).toBe(0);
    const lines = cli.stdout.split('\n');
    expect(lines[0]).toBe(
      'Proposed: registry.example.com/app-0000:v2 in pull request #1 https://github.example.com/acme/config/pull/1',
    );
    expect(lines[1]).toMatch(/^ +# {2}IMAGE/);
  });

  it('refuses a direct push to the protected branch with 502 PUSH_DECLINED, the host’s words and a hint', async () => {
    const main = await headOf(bare);
    const res = await admin(bridge, 'POST', `${manual}/deploy`, {
      image: 'registry.example.com/app-0000:hotfix',
      direct: true,
    });
    expect(res.status).toBe(502);
    expect(res.json.code).toBe('PUSH_DECLINED');
    expect(String(res.json.remote)).toContain('GH006: Protected branch update failed');
    expect(String(res.json.error)).toContain('pull request');
    expect(await headOf(bare)).toBe(main);
  });

  it('makes a merge by a person a revision like any other, with its trigger and pullRequest', async () => {
    const pr = github.store.find(1)!;
    pr.checks = 'success';
    const merged = await github.store.merge(pr, { method: 'merge' });
    expect(merged.ok).toBe(true);
    const revisions = await eventually('the merge in history', async () => {
      const r = await history(manual!);
      return r[0]?.image === 'registry.example.com/app-0000:v2' && r;
    });
    expect(revisions[0]).toMatchObject({
      trigger: 'webhook',
      current: true,
      pullRequest: { number: 1, url: 'https://github.example.com/acme/config/pull/1' },
      configCommit: merged.ok ? merged.commit : '',
    });
    expect((await admin(bridge, 'GET', `${manual}/proposals`)).json).toEqual({ proposals: [] });
  });

  it('?wait= answers once a person merged it: 200 deployed with pullRequest and the revision', async () => {
    const waiting = webhook(manual!, 'v3', '?wait=60');
    // Once the bridge named it in its commit (what the 202 would have told).
    const pr = await eventually('a second pull request', () =>
      open().find((p) => p.number === 2 && p.body.includes('Kipper-Pull-Request')),
    );
    pr.checks = 'success';
    // A squash merge: the trailers come from the pull request's body.
    expect((await github.store.merge(pr, { method: 'squash' })).ok).toBe(true);
    const res = await waiting;
    expect(res.json).toMatchObject({ status: 'deployed' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'deployed',
      app: manual,
      image: 'registry.example.com/app-0000:v3',
      pullRequest: { number: 2 },
    });
    expect(res.json.configCommit).toBe(await headOf(bare));
    const revisions = await history(manual!);
    expect(revisions[0]).toMatchObject({ revision: res.json.revision, trigger: 'webhook', pullRequest: { number: 2 } });
  });

  it('answers a waiter 409 PR_CLOSED when the pull request is closed unmerged, and nothing is deployed', async () => {
    const main = await headOf(bare);
    const waiting = webhook(manual!, 'v4', '?wait=60');
    const pr = await eventually('a third pull request', () => open().find((p) => p.number === 3));
    await github.store.close(pr);
    const res = await waiting;
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'PR_CLOSED', pullRequest: { number: 3 } });
    expect(await headOf(bare)).toBe(main);
    expect((await history(manual!))[0]!.image).toBe('registry.example.com/app-0000:v3');
  });

  it('answers an older waiter 409 SUPERSEDED when a newer deploy replaces its proposal', async () => {
    const waiting = webhook(manual!, 'v5', '?wait=60');
    await eventually('a fourth pull request', () => open().find((p) => p.number === 4));
    const newer = await webhook(manual!, 'v6');
    expect(newer.json.pullRequest).toMatchObject({ number: 4 });
    const res = await waiting;
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'SUPERSEDED', pullRequest: { number: 4 } });
  });

  it('proposes a rollback like any deploy, and merged it is a rollback revision', async () => {
    const res = await admin(bridge, 'POST', `${manual}/rollback`, {});
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({
      status: 'proposed',
      image: 'registry.example.com/app-0000:v2',
      pullRequest: { number: 4 },
    });
    const pr = github.store.find(4)!;
    pr.checks = 'success';
    expect((await github.store.merge(pr, { method: 'rebase' })).ok).toBe(true);
    const revisions = await eventually('the rollback in history', async () => {
      const r = await history(manual!);
      return r[0]?.image === 'registry.example.com/app-0000:v2' && r[0]?.trigger === 'rollback' && r;
    });
    expect(revisions[0]).toMatchObject({ trigger: 'rollback', pullRequest: { number: 4 } });
  });

  it('with autoMerge merges through the API, with the head sha, once checks are green', async () => {
    const res = await webhook(auto!, 'v1');
    expect(res.status).toBe(202);
    const number = (res.json.pullRequest as { number: number }).number;
    const pr = github.store.find(number)!;
    // Checks pending: the bridge must not merge.
    expect(pr.state).toBe('open');
    const callsBefore = github.store.calls.filter((c) => c.endsWith('/merge')).length;
    pr.checks = 'success';
    await eventually('the bridge merged it', () => pr.state === 'merged', { timeoutMs: 15_000 });
    expect(github.store.calls.filter((c) => c.endsWith('/merge')).length).toBeGreaterThan(callsBefore);
    const parents = (await git(['--git-dir', bare, 'log', '-1', '--format=%P', 'main'])).trim().split(' ');
    expect(parents[1]).toBe(res.json.configCommit);
    await eventually('the auto-merge in history', async () => (await history(auto!))[0]?.pullRequest);
  });

  it('reacts to GitHub’s check_suite webhook at once, not at the next 5 s poll', async () => {
    const res = await webhook(auto!, 'v2');
    expect(res.status).toBe(202);
    const number = (res.json.pullRequest as { number: number }).number;
    const pr = github.store.find(number)!;
    const path = `GET /repos/acme/config/pulls/${number}`;
    // The bridge's first look (checks pending) is over: the next poll is 5 s away.
    await eventually('the first look', () => github.store.calls.includes(path));
    pr.checks = 'success';
    const body = Buffer.from(
      JSON.stringify({
        action: 'completed',
        check_suite: { head_branch: `kipper/${auto}`, conclusion: 'success' },
        sender: { login: 'github-actions' },
      }),
    );
    const started = Date.now();
    const sent = await fetch(`${bridge.url}/api/v1/webhook/${auto}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'check_suite',
        'x-hub-signature-256': `sha256=${createHmac('sha256', tokenFor(TEST_SECRET_KEY, auto!, 1))
          .update(body)
          .digest('hex')}`,
      },
      body,
    });
    expect(sent.status).toBe(202);
    await eventually('the bridge merged it', () => pr.state === 'merged', { timeoutMs: 4_000 });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('a bridge restarted since the proposal was opened still auto-merges it when the host’s webhook comes', async () => {
    const before = await startBridge(env);
    const res = await postWebhook(
      before.url,
      auto!,
      { image: 'registry.example.com/app-0001:v3' },
      { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, auto!, 1) },
    );
    await before.stop();
    expect(res.status).toBe(202);
    const pr = github.store.find((res.json.pullRequest as { number: number }).number)!;
    const after = await startBridge(env);
    try {
      pr.checks = 'success';
      const body = Buffer.from(
        JSON.stringify({ action: 'synchronize', pull_request: { number: pr.number, head: { ref: `kipper/${auto}` } } }),
      );
      const sent = await fetch(`${after.url}/api/v1/webhook/${auto}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'pull_request',
          'x-hub-signature-256': `sha256=${createHmac('sha256', tokenFor(TEST_SECRET_KEY, auto!, 1))
            .update(body)
            .digest('hex')}`,
        },
        body,
      });
      expect(sent.status).toBe(202);
      await eventually('the restarted bridge merged it', () => pr.state === 'merged', { timeoutMs: 4_000 });
    } finally {
      await after.stop();
    }
  });

  it('two replicas deploying one app at once open one pull request and never fight over the branch', async () => {
    const second = await startBridge(env);
    try {
      const answers = await Promise.all([
        postWebhook(
          bridge.url,
          raced!,
          { image: 'registry.example.com/app-0002:a' },
          { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, raced!, 1) },
        ),
        postWebhook(
          second.url,
          raced!,
          { image: 'registry.example.com/app-0002:b' },
          { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, raced!, 1) },
        ),
      ]);
      expect(answers.map((a) => a.status)).toEqual([202, 202]);
      const prs = github.store.proposals.filter((p) => p.branch === `kipper/${raced}`);
      expect(prs).toHaveLength(1);
      expect(answers.map((a) => (a.json.pullRequest as { number: number }).number)).toEqual([
        prs[0]!.number,
        prs[0]!.number,
      ]);
      expect(answers.map((a) => a.json.configCommit)).toContain(await headOf(bare, `kipper/${raced}`));
    } finally {
      await second.stop();
    }
  });

  it('answers 502 HOST_API_FAILED when GitHub’s API cannot be reached, before pushing anything, without the token', async () => {
    const dead = await startBridge({ ...env, KIPPER_GITHUB_API_URL: 'http://127.0.0.1:9' });
    try {
      const tip = await headOf(bare, `kipper/${raced}`);
      const res = await postWebhook(
        dead.url,
        raced!,
        { image: 'registry.example.com/app-0002:c' },
        { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, raced!, 1) },
      );
      expect(res.status).toBe(502);
      expect(res.json.code).toBe('HOST_API_FAILED');
      expect(String(res.json.error)).toMatch(/^GitHub answered/);
      expect(JSON.stringify(res.json)).not.toContain(BOT.token);
      expect(await headOf(bare, `kipper/${raced}`)).toBe(tip);
    } finally {
      await dead.stop();
    }
  });

  it('with the bridge on the branch’s bypass list, its own writes (webhook enable) land while people still need a pull request', async () => {
    await protectBranch(bare, 'main', [BOT.username]);
    const enabled = await admin(bridge, 'POST', `${manual}/webhook`);
    expect(enabled.status).toBe(200);
    expect(enabled.json.enabled).toBe(true);
    const clone = `${server.root}-alice`;
    const aliceUrl = server.url('acme/config.git').replace('http://', 'http://alice:alice-pw@');
    await git(['clone', '--quiet', aliceUrl, clone]);
    await git(['-C', clone, 'commit', '--quiet', '--allow-empty', '-m', 'direct push']);
    await expect(git(['-C', clone, 'push', '--quiet', 'origin', 'HEAD:main'])).rejects.toThrow(/GH006/);
  });

  it('kip app update proposes, kip app wait waits through the merge, and --direct pushes straight where the branch allows it', async () => {
    const kipEnv = { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const proposed = await runKip(['app', 'update', manual!, '--image', 'registry.example.com/app-0000:v7'], kipEnv);
    expect(proposed.code).toBe(0);
    expect(proposed.stdout).toMatch(
      /^✔ Proposed app-0000: registry\.example\.com\/app-0000:v7 in pull request #\d+: https:\/\/github\.example\.com\/acme\/config\/pull\/\d+/,
    );
    const pr = open().find((p) => p.branch === `kipper/${manual}`)!;
    const looks = () => github.store.calls.filter((c) => c.startsWith('GET /repos/acme/config/pulls')).length;
    const before = looks();
    const waiting = runKip(['app', 'wait', manual!, '--timeout', '60s'], kipEnv);
    // Once kip asked for the proposal (the bridge looks it up at the host for it).
    await eventually('kip waiting', () => looks() > before);
    pr.checks = 'success';
    expect((await github.store.merge(pr, { method: 'merge' })).ok).toBe(true);
    const waited = await waiting;
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain(`pull request #${pr.number} merged as revision`);
    // The bridge is on the bypass list now (the test before): --direct lands on main.
    const direct = await runKip(
      ['app', 'update', manual!, '--image', 'registry.example.com/app-0000:hotfix', '--direct'],
      kipEnv,
    );
    expect(direct.code).toBe(0);
    expect(direct.stdout).toContain('✔ Updated app-0000: registry.example.com/app-0000:hotfix');
    expect(await git(['--git-dir', bare, 'log', '-1', '--format=%B', 'main'])).toContain(
      'Kipper-Image: registry.example.com/app-0000:hotfix',
    );
  });
});
