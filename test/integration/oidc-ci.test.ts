import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { eventually } from '../helpers/eventually.js';
import { createBareRepo, headOf, logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { loopbackCertificate, startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from '../helpers/tokens.js';

// Issue #21 item 2 (DESIGN.md "CI with OIDC, no shared secret"): a CI job's ID token, checked
// against kipper.yaml trust: rules, deploys without a stored secret; every bad token gets
// the one 401 and writes nothing, and the bridge's log says which check failed.
const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const TEST_API = 'yourr-name-test/api';
const PROD_API = 'yourr-name-prod/api';
const PUBLIC_URL = 'https://kipper.example.com';
const image = (tag: string) => ({ image: `registry.example.com/api:${tag}` });

/** Claims as GitHub Actions documents them (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect). */
const githubClaims = (over: Record<string, unknown> = {}) => ({
  sub: 'repo:acme/api:ref:refs/heads/main',
  aud: 'kipper',
  repository: 'acme/api',
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  sha: '0123456789abcdef0123456789abcdef01234567',
  workflow: 'deploy',
  event_name: 'push',
  run_id: '4242',
  run_number: '17',
  run_attempt: '1',
  actor: 'octocat',
  ...over,
});

/** Claims as GitLab CI documents them (https://docs.gitlab.com/ci/secrets/id_token_authentication/). */
const gitlabClaims = (over: Record<string, unknown> = {}) => ({
  sub: 'project_path:acme/shop:ref_type:branch:ref:main',
  aud: PUBLIC_URL,
  namespace_path: 'acme',
  project_path: 'acme/shop',
  ref: 'main',
  ref_type: 'branch',
  pipeline_id: '777',
  pipeline_source: 'push',
  job_id: '999',
  user_login: 'ana',
  ...over,
});

describe('CI deploys with an OIDC ID token (trust: rules)', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  let github: OidcIssuer;
  let gitlab: OidcIssuer;
  let stranger: OidcIssuer;
  let githubKey: string;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const lastMessage = async () => (await logOf(bare, 'main', 1))[0]!.message;
  /** The bridge's log lines about refused ID tokens. */
  const refusals = () =>
    bridge
      .output()
      .split('\n')
      .filter((l) => l.includes('webhook OIDC token refused'))
      .map((l) => JSON.parse(l) as { check: string; app: string });

  beforeAll(async () => {
    const tls = await loopbackCertificate();
    // GitHub Enterprise Server's issuer shape: https://<host>/_services/token.
    github = await startOidcIssuer(tls, '/_services/token');
    githubKey = await github.addKey();
    gitlab = await startOidcIssuer(tls, '/gitlab');
    await gitlab.addKey();
    stranger = await startOidcIssuer(tls, '/stranger');
    await stranger.addKey();
    const seed = await mkdtemp(join(tmpdir(), 'kip-oidc-seed-'));
    await cp(FIXTURE, seed, { recursive: true });
    const kipper = await readFile(join(seed, 'kipper.yaml'), 'utf8');
    await writeFile(
      join(seed, 'kipper.yaml'),
      `${kipper}trust:
  - issuer: ${github.url}
    audience: kipper
    claims: { repository: acme/api, ref: refs/heads/main }
    apps: [${TEST_API}]
  - issuer: ${gitlab.url}            # audience: KIPPER_PUBLIC_URL
    claims: { project_path: acme/*, ref_type: branch }
    apps: [${PROD_API}]
`,
    );
    server = await startGitServer();
    bare = await createBareRepo(server.root, 'config.git', seed);
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_PUBLIC_URL: PUBLIC_URL,
      // The issuers are https with a private CA, as DESIGN.md says: trusted through NODE_EXTRA_CA_CERTS.
      NODE_EXTRA_CA_CERTS: tls.certFile,
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
    await Promise.all([github, gitlab, stranger].map((i) => i?.close()));
  });

  it('deploys for a GitHub Actions token, recording oidc:<sub> and the run URL', async () => {
    const res = await postWebhook(bridge.url, TEST_API, image('gh-1'), bearer(await github.mint(githubClaims())));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.status).toBe('deployed');
    const message = await lastMessage();
    expect(message).toMatch(/^Kipper-Actor: oidc:repo:acme\/api:ref:refs\/heads\/main$/m);
    // GitHub Enterprise Server: the server URL is the issuer's without /_services/token.
    expect(message).toContain(
      `\nKipper-Run: ${github.url.replace('/_services/token', '')}/acme/api/actions/runs/4242\n`,
    );
  });

  it('deploys for a GitLab CI token with the default audience (KIPPER_PUBLIC_URL) and a globbed claim', async () => {
    const res = await postWebhook(bridge.url, PROD_API, image('gl-1'), bearer(await gitlab.mint(gitlabClaims())));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const message = await lastMessage();
    expect(message).toMatch(/^Kipper-Actor: oidc:project_path:acme\/shop:ref_type:branch:ref:main$/m);
    expect(message).toContain(`\nKipper-Run: ${gitlab.url}/acme/shop/-/pipelines/777\n`);
  });

  it('refuses every bad token with the one 401 of a wrong token, writes nothing, and logs which check failed', async () => {
    const cases: Array<[string, string, () => Promise<string> | string, string]> = [
      ['wrong claim', TEST_API, () => github.mint(githubClaims({ repository: 'acme/other' })), 'claims'],
      ['wrong globbed claim', PROD_API, () => gitlab.mint(gitlabClaims({ ref_type: 'tag' })), 'claims'],
      [
        'wrong audience',
        TEST_API,
        () => github.mint(githubClaims({ aud: 'https://elsewhere.example.com' })),
        'audience',
      ],
      ['no audience', TEST_API, () => github.mint(githubClaims({ aud: undefined })), 'audience'],
      [
        'expired beyond the skew',
        TEST_API,
        () => github.mint(githubClaims(), { expiresIn: -61, issuedAt: -400 }),
        'expiry',
      ],
      [
        'issued in the future',
        TEST_API,
        () => github.mint(githubClaims(), { issuedAt: 120, expiresIn: 400 }),
        'expiry',
      ],
      ['alg: none', TEST_API, () => github.mintUnsigned(githubClaims()), 'algorithm'],
      [
        'HS256 signed with the public key',
        TEST_API,
        () => github.mintWithPublicKeyAsSecret(githubClaims()),
        'algorithm',
      ],
      ['unknown issuer', TEST_API, () => stranger.mint(githubClaims()), 'issuer'],
      ['an app not in the rule', PROD_API, () => github.mint(githubClaims()), 'app'],
      ['an app not in kipper.yaml', 'yourr-name-test/nope', () => github.mint(githubClaims()), 'app'],
      ['not a JWT', TEST_API, () => 'not-a-jwt', 'format'],
    ];
    const head = await headOf(bare);
    const wrongToken = await postWebhook(bridge.url, TEST_API, image('x'), bearer('x'));
    expect(wrongToken.status).toBe(401);
    expect(wrongToken.json.code).toBe('UNAUTHORIZED');
    // The same code and status as a wrong static token; the message names the credential sent.
    const staticToken = await postWebhook(bridge.url, TEST_API, image('x'), { 'x-kipper-token': 'f'.repeat(64) });
    expect([staticToken.status, staticToken.json.code]).toEqual([401, 'UNAUTHORIZED']);
    const before = refusals().length;
    for (const [i, [what, app, token, check]] of cases.entries()) {
      const res = await postWebhook(bridge.url, app, image('bad'), bearer(await token()));
      expect(res.status, what).toBe(401);
      expect(res.json, what).toEqual(wrongToken.json);
      const logged = await eventually(`the log line for ${what}`, () => refusals()[before + i]);
      expect(logged.check, what).toBe(check);
    }
    expect(
      refusals()
        .slice(before)
        .map((r) => r.check),
    ).toEqual(cases.map((c) => c[3]));
    expect(await headOf(bare)).toBe(head);
    // No token content in the log: not the token, not a claim value.
    expect(bridge.output()).not.toContain('acme/other');
    expect(bridge.output()).not.toContain('elsewhere.example.com');
    // An issuer no rule names is never asked for its keys.
    expect(stranger.jwksRequests()).toBe(0);
  });

  it('refuses a key the JWKS does not serve yet, refetching it at most once a minute, and keeps the old key working', async () => {
    const head = await headOf(bare);
    const fetched = github.jwksRequests();
    const rotated = await github.addKey({ publish: false });
    const token = await github.mint(githubClaims(), { kid: rotated });
    const before = refusals().length;
    const first = await postWebhook(bridge.url, TEST_API, image('rotated'), bearer(token));
    expect(first.status).toBe(401);
    expect((await eventually('the log line', () => refusals()[before])).check).toBe('kid');
    // The issuer now serves the new key, but the last fetch was under a minute ago: no new
    // fetch for an unknown kid, however many tokens carry one.
    github.publish(rotated);
    for (let i = 0; i < 3; i++)
      expect((await postWebhook(bridge.url, TEST_API, image('rotated'), bearer(token))).status).toBe(401);
    expect(github.jwksRequests()).toBe(fetched);
    expect(await headOf(bare)).toBe(head);
    const old = await postWebhook(
      bridge.url,
      TEST_API,
      image('gh-old-key'),
      bearer(await github.mint(githubClaims(), { kid: githubKey })),
    );
    expect(old.status).toBe(200);
  });
});
