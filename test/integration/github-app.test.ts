import { execFile, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadSettings } from '../../src/config/settings.js';
import { runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startGithubApi, type GithubApi } from '../helpers/github-api.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #19 item 2: a GitHub App's installation tokens as the config repo's credentials.
const APP_ID = 4242;
const INSTALLATION_ID = 77;
const [APP] = appIds(1);

/** An RSA key as GitHub hands an App's out: PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"). */
function appKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { pem: privateKey, publicKey: createPublicKey(publicKey) };
}

async function writeSecret(name: string, text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'kip-app-key-')), name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

function deploy(bridge: BridgeProcess, tag: string) {
  return fetch(`${bridge.url}/api/v1/webhook/${APP}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, APP!, 1) },
    body: JSON.stringify({ image: `registry.example.com/app-0000:${tag}` }),
  });
}

/** The App's key on disk, the GitHub API double that knows the App, and `acme/config` behind a git server that takes its tokens. */
async function appRemote(key: ReturnType<typeof appKey>) {
  const keyPath = await writeSecret('app.pem', key.pem);
  const api = await startGithubApi({
    apps: [{ id: APP_ID, publicKey: key.publicKey }],
    installations: [{ id: INSTALLATION_ID, appId: APP_ID, repos: ['acme/config'] }],
  });
  const server = await startGitServer({ authorize: (user, password) => api.accepts(user, password) });
  const bare = await createConfigRepo(server.root, 'acme/config.git', 1);
  return { keyPath, api, server, bare };
}

describe('a config repo on GitHub with GitHub App credentials', () => {
  const key = appKey();
  let keyPath: string;
  let api: GithubApi;
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    ({ keyPath, api, server, bare } = await appRemote(key));
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url('acme/config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_GITHUB_APP_ID: String(APP_ID),
      KIPPER_GITHUB_APP_PRIVATE_KEY: keyPath,
      KIPPER_GITHUB_API_URL: api.url,
      // Everything the bridge can say, for the leak check at the end.
      KIPPER_LOG_LEVEL: 'trace',
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
    await api?.close();
  });

  it('deploys with a token minted for the installation it looked up from the repo URL', async () => {
    const res = await deploy(bridge, 'v1');
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'deployed' });
    expect((await logOf(bare))[0]!.message).toMatch(
      /^deploy team-test\/app-0000: registry\.example\.com\/app-0000:v1\n/,
    );
    expect(api.calls.filter((c) => c.status !== 200 && c.status !== 201)).toEqual([]);
    expect(
      api.calls.some((c) => c.method === 'GET' && c.path === '/repos/acme/config/installation' && c.status === 200),
    ).toBe(true);
    expect(
      api.calls.some(
        (c) =>
          c.method === 'POST' && c.path === `/app/installations/${INSTALLATION_ID}/access_tokens` && c.status === 201,
      ),
    ).toBe(true);
    // One token serves every request while it is fresh.
    expect(api.minted).toHaveLength(1);
    expect(server.requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it('a token revoked on the server: the 401 gets a new token at once, and the deploy succeeds', async () => {
    const before = api.minted.length;
    const mark = server.requests.length;
    api.revokeAll();
    const res = await deploy(bridge, 'v2');
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await logOf(bare))[0]!.message).toContain('app-0000:v2');
    // Exactly one new token, however many requests (the deploy's, the background look) met the 401.
    expect(api.minted.length).toBe(before + 1);
    expect(server.requests.slice(mark).some((r) => r.status === 401)).toBe(true);
  });

  it('renews a short-lived token before it expires: no request is ever refused', async () => {
    api.tokenLifetimeMs = 8_000;
    api.revokeAll();
    let n = 0;
    // The first deploy meets the revoked token (401) and gets an 8 s one, renewed 4 s before it expires.
    expect((await deploy(bridge, `short-${n++}`)).status).toBe(200);
    const mark = server.requests.length;
    const first = api.minted.length;
    await eventually(
      'two renewals while deploying',
      async () => {
        const res = await deploy(bridge, `short-${n++}`);
        expect(res.status, await res.clone().text()).toBe(200);
        return api.minted.length >= first + 2;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    // Each new token came before its predecessor expired, and no request met an expired one.
    const renewed = api.minted.slice(first - 1);
    for (let i = 1; i < renewed.length; i++) expect(renewed[i]!.mintedAt).toBeLessThan(renewed[i - 1]!.expiresAt);
    expect(server.requests.slice(mark).filter((r) => r.status === 401)).toEqual([]);
    // The server does refuse expired tokens: what the renewal avoided was real.
    const old = renewed[0]!;
    await eventually('the first short token to expire', () => Date.now() > old.expiresAt, { timeoutMs: 10_000 });
    expect(api.accepts('x-access-token', old.token)).toBe(false);
    // Renewed, not minted per request.
    expect(server.requests.length - mark).toBeGreaterThan(3 * (api.minted.length - first));
  });

  it('never writes a token, the JWT or the private key to its output', () => {
    const out = bridge.output();
    expect(out.length).toBeGreaterThan(0);
    expect(api.minted.length).toBeGreaterThan(2);
    for (const { token } of api.minted) {
      expect(out).not.toContain(token);
      expect(out).not.toContain(Buffer.from(`x-access-token:${token}`).toString('base64'));
    }
    expect(api.jwts.length).toBeGreaterThan(0);
    for (const jwt of api.jwts) expect(out).not.toContain(jwt.split('.')[2]);
    const keyLines = key.pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const line of keyLines) expect(out).not.toContain(line);
  });
});

describe('GitHub App credentials that cannot work stop the start with what to fix', () => {
  const key = appKey();
  const otherKey = appKey();
  let api: GithubApi;
  let server: GitServer;
  let keyPath: string;

  beforeAll(async () => {
    keyPath = await writeSecret('app.pem', key.pem);
    api = await startGithubApi({
      apps: [{ id: APP_ID, publicKey: key.publicKey }],
      installations: [{ id: INSTALLATION_ID, appId: APP_ID, repos: ['acme/config'] }],
    });
    server = await startGitServer({ authorize: (user, password) => api.accepts(user, password) });
    await createConfigRepo(server.root, 'acme/config.git', 1);
    await createConfigRepo(server.root, 'acme/other.git', 1);
  });
  afterAll(async () => {
    await server?.close();
    await api?.close();
  });

  async function serve(env: Record<string, string>) {
    const dataDir = await mkdtemp(join(tmpdir(), 'kipper-data-'));
    const res = await runKip(
      ['serve'],
      {
        KIPPER_PORT: '0',
        KIPPER_DATA_DIR: dataDir,
        KIPPER_REPO_URL: server.url('acme/config.git'),
        KIPPER_GITHUB_APP_ID: String(APP_ID),
        KIPPER_GITHUB_APP_PRIVATE_KEY: keyPath,
        KIPPER_GITHUB_API_URL: api.url,
        ...env,
      },
      { timeoutMs: 20_000 },
    );
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    for (const line of key.pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')))
      expect(res.stderr + res.stdout).not.toContain(line);
    return res.stderr.trim();
  }

  it('a wrong App id names the App id and the key', async () => {
    const err = await serve({ KIPPER_GITHUB_APP_ID: '999' });
    expect(err).toContain('KIPPER_GITHUB_APP_ID');
    expect(err).toContain('KIPPER_GITHUB_APP_PRIVATE_KEY');
    expect(err).toContain('HTTP 401');
  });

  it("another App's key names the App id and the key", async () => {
    const err = await serve({ KIPPER_GITHUB_APP_PRIVATE_KEY: await writeSecret('other.pem', otherKey.pem) });
    expect(err).toContain('KIPPER_GITHUB_APP_PRIVATE_KEY is the private key of App 4242');
    expect(err).toContain('A JSON web token could not be decoded');
    expect(api.calls.at(-1)).toMatchObject({ status: 401, refused: 'A JSON web token could not be decoded' });
  });

  it('a key file that is not a key, or is missing, names the variable and not the contents', async () => {
    expect(
      await serve({ KIPPER_GITHUB_APP_PRIVATE_KEY: await writeSecret('app.pem', 'not a key but a secret-ish text\n') }),
    ).toMatch(/KIPPER_GITHUB_APP_PRIVATE_KEY: .*app\.pem is not an RSA private key in PEM/);
    expect(await serve({ KIPPER_GITHUB_APP_PRIVATE_KEY: '/nonexistent/app.pem' })).toContain(
      'KIPPER_GITHUB_APP_PRIVATE_KEY: cannot read /nonexistent/app.pem (ENOENT)',
    );
  });

  it('an installation id that does not exist names KIPPER_GITHUB_APP_INSTALLATION_ID', async () => {
    const err = await serve({ KIPPER_GITHUB_APP_INSTALLATION_ID: '12345' });
    expect(err).toContain(
      'installation 12345 of GitHub App 4242 was not found: check KIPPER_GITHUB_APP_INSTALLATION_ID',
    );
  });

  it('an App not installed on the repo says so', async () => {
    const err = await serve({ KIPPER_REPO_URL: server.url('acme/other.git') });
    expect(err).toContain('GitHub App 4242 is not installed on acme/other');
  });

  it('App credentials beside a token are refused', async () => {
    const err = await serve({ KIPPER_GIT_TOKEN: 'some-token' });
    expect(err).toContain('KIPPER_GITHUB_APP_ID: a GitHub App replaces KIPPER_GIT_TOKEN');
    expect(err).not.toContain('some-token');
  });
});

// The examples in manifests/: what `kubectl kustomize` builds is what a user applies.
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;

interface BuiltPod {
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  mounts: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  volumes: Array<{ name: string; secret?: { secretName: string; items?: Array<{ key: string; path: string }> } }>;
  config: Record<string, string>;
}

async function buildExample(name: string): Promise<BuiltPod> {
  const dir = fileURLToPath(new URL(`../../manifests/examples/${name}/`, import.meta.url));
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { timeout: 60_000 });
  const docs = parseAllDocuments(stdout).map(
    (d) => d.toJS() as { kind: string; data?: Record<string, string>; spec?: Record<string, never> },
  );
  const pod = (
    docs.find((d) => d.kind === 'Deployment')!.spec as unknown as {
      template: { spec: { containers: Array<Record<string, never>>; volumes: BuiltPod['volumes'] } };
    }
  ).template.spec;
  const container = pod.containers[0] as unknown as { env: BuiltPod['env']; volumeMounts: BuiltPod['mounts'] };
  return {
    env: container.env,
    mounts: container.volumeMounts,
    volumes: pod.volumes,
    config: docs.find((d) => d.kind === 'ConfigMap')!.data ?? {},
  };
}

/** The pod's environment with the Secrets filled in as `secrets` says (`<secret>/<key>`). */
function podEnv(pod: BuiltPod, secrets: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...pod.config };
  for (const e of pod.env) {
    const ref = e.valueFrom?.secretKeyRef;
    env[e.name] = ref ? secrets[`${ref.name}/${ref.key}`] : e.value;
  }
  return env;
}

/** Where the file at `path` comes from: a read-only, whole-Secret mount (a subPath mount never sees updates). */
function secretFileOf(
  pod: BuiltPod,
  path: string,
): { secret: string; key: string; readOnly: boolean; subPath: string | undefined } | undefined {
  const mount = pod.mounts.find((m) => path.startsWith(`${m.mountPath}/`));
  const volume = pod.volumes.find((v) => v.name === mount?.name);
  const item = volume?.secret?.items?.find((i) => `${mount!.mountPath}/${i.path}` === path);
  if (!mount || !volume?.secret || !item) return undefined;
  return { secret: volume.secret.secretName, key: item.key, readOnly: mount.readOnly === true, subPath: mount.subPath };
}

const CLUSTER_SECRETS = {
  'kipper-secrets/KIPPER_SECRET_KEY': TEST_SECRET_KEY,
  'kipper-secrets/KIPPER_ADMIN_TOKEN': TEST_ADMIN_TOKEN,
};

describe('the Kubernetes examples for App and token-file credentials', () => {
  it.skipIf(!hasKubectl)(
    'github-app: the key is a read-only file from the App Secret, and the pod env is valid App settings',
    async () => {
      const pod = await buildExample('github-app');
      const settings = loadSettings(
        podEnv(pod, {
          ...CLUSTER_SECRETS,
          'kipper-github-app/app-id': '123456',
          'kipper-github-app/installation-id': '7890123',
        }),
      );
      expect(settings.githubApp).toEqual({
        appId: '123456',
        installationId: 7890123,
        privateKeyPath: '/var/run/secrets/kipper/github-app/private-key.pem',
      });
      expect(settings.gitProvider).toBe('github');
      expect(secretFileOf(pod, settings.githubApp!.privateKeyPath)).toEqual({
        secret: 'kipper-github-app',
        key: 'private-key.pem',
        readOnly: true,
        subPath: undefined,
      });
      // Even with a token left in kipper-secrets, the overlay does not read it.
      expect(pod.env.map((e) => e.name)).not.toContain('KIPPER_GIT_TOKEN');
    },
  );

  it.skipIf(!hasKubectl)(
    'token-file: the token is a read-only whole-Secret mount the kubelet updates, and the pod env is valid',
    async () => {
      const pod = await buildExample('token-file');
      const settings = loadSettings(podEnv(pod, CLUSTER_SECRETS));
      expect(settings.gitTokenFile).toBe('/var/run/secrets/kipper/git-token/token');
      expect(secretFileOf(pod, settings.gitTokenFile!)).toEqual({
        secret: 'kipper-git-token',
        key: 'token',
        readOnly: true,
        subPath: undefined,
      });
      expect(pod.env.map((e) => e.name)).not.toContain('KIPPER_GIT_TOKEN');
    },
  );
});

// Issue #19 item 3: an entry of KIPPER_REPOS_FILE takes the same App credentials (`auth.githubApp`).
describe('a repos-file entry with GitHub App credentials', () => {
  const key = appKey();
  let api: GithubApi;
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    let keyPath: string;
    ({ keyPath, api, server, bare } = await appRemote(key));
    const reposFile = await writeSecret(
      'repos.yaml',
      `repos:\n  - name: platform\n    url: ${server.url('acme/config.git')}\n    apiUrl: ${api.url}\n    auth:\n      githubApp: { appId: ${APP_ID}, privateKey: ${keyPath} }\n`,
    );
    bridge = await startBridge({
      KIPPER_REPOS_FILE: reposFile,
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
    await api?.close();
  });

  it('fetches and pushes with installation tokens minted for that entry, looked up from its URL', async () => {
    const res = await deploy(bridge, 'from-repos-file');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { configCommit: string };
    expect((await logOf(bare, 'main', 1))[0]!.oid).toBe(body.configCommit);
    const paths = api.calls.map((c) => `${c.method} ${c.path}`);
    expect(paths).toContain('GET /repos/acme/config/installation');
    expect(paths).toContain(`POST /app/installations/${INSTALLATION_ID}/access_tokens`);
    const list = JSON.parse(
      (await runKip(['app', 'list', '--json'], { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN }))
        .stdout,
    ) as {
      apps: Array<{ app: string; repo: string }>;
    };
    expect(list.apps.find((a) => a.app === APP)?.repo).toBe('platform');
  });
});
