import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #19 item 2: KIPPER_GIT_TOKEN_FILE, re-read when the file changes (no restart).
const [APP] = appIds(1);
const newToken = () => `glpat-${randomBytes(15).toString('hex')}`;

/**
 * A secret volume as the kubelet writes it: `token -> ..data/token`, `..data -> ..<version>`;
 * an update writes a new version directory and swaps `..data` with one rename.
 * https://kubernetes.io/docs/concepts/configuration/secret/#mounted-secrets-are-updated-automatically
 */
async function secretVolume(token: string) {
  const dir = await mkdtemp(join(tmpdir(), 'kip-secret-'));
  let version = 0;
  const put = async (value: string) => {
    const name = `..2026_12_07_v${++version}`;
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'token'), `${value}\n`, { mode: 0o400 });
    await symlink(name, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  await put(token);
  await symlink('..data/token', join(dir, 'token'));
  return { dir, path: join(dir, 'token'), put };
}

function deploy(bridge: BridgeProcess, tag: string) {
  return fetch(`${bridge.url}/api/v1/webhook/${APP}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, APP!, 1) },
    body: JSON.stringify({ image: `registry.example.com/app-0000:${tag}` }),
  });
}

describe('the remote token in a file that rotates', () => {
  const accepted = new Set<string>();
  const used: string[] = [];
  let volume: Awaited<ReturnType<typeof secretVolume>>;
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  /** The server takes `token` from now on and no longer the ones before it: a rotation with revocation. */
  function rotateOnServer(token: string) {
    accepted.clear();
    accepted.add(token);
    used.push(token);
  }

  beforeAll(async () => {
    const first = newToken();
    rotateOnServer(first);
    volume = await secretVolume(first);
    server = await startGitServer({ authorize: (user, password) => user === 'kipper-bot' && accepted.has(password) });
    bare = await createConfigRepo(server.root, 'config.git', 1);
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_GIT_USERNAME: 'kipper-bot',
      KIPPER_GIT_TOKEN_FILE: volume.path,
      KIPPER_LOG_LEVEL: 'trace',
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('deploys with the token in the file', async () => {
    const res = await deploy(bridge, 'v1');
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await logOf(bare))[0]!.message).toContain('app-0000:v1');
  });

  it('a Kubernetes secret update (..data symlink swap), the old token revoked: the next deploy uses the new one, no restart', async () => {
    const token = newToken();
    await volume.put(token);
    rotateOnServer(token);
    const mark = server.requests.length;
    const res = await deploy(bridge, 'v2');
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await logOf(bare))[0]!.message).toContain('app-0000:v2');
    // Read again before the request, not after the server refused the old token.
    expect(server.requests.slice(mark).filter((r) => r.status === 401)).toEqual([]);
    expect(server.requests.length).toBeGreaterThan(mark);
  });

  it('a file replaced by an atomic rename: the next deploy uses the new token', async () => {
    const token = newToken();
    await writeFile(join(volume.dir, 'token.tmp'), token, { mode: 0o400 });
    await rename(join(volume.dir, 'token.tmp'), volume.path);
    rotateOnServer(token);
    const mark = server.requests.length;
    const res = await deploy(bridge, 'v3');
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await logOf(bare))[0]!.message).toContain('app-0000:v3');
    expect(server.requests.slice(mark).filter((r) => r.status === 401)).toEqual([]);
  });

  it('never writes a token to its output, and says when the file changed', () => {
    const out = bridge.output();
    expect(out.match(/the git token file changed: using the new token/g)).toHaveLength(2);
    expect(out.length).toBeGreaterThan(0);
    expect(used).toHaveLength(3);
    for (const token of used) {
      expect(out).not.toContain(token);
      expect(out).not.toContain(Buffer.from(`kipper-bot:${token}`).toString('base64'));
    }
  });
});

describe('a token file that cannot work stops the start', () => {
  async function serve(env: Record<string, string>) {
    const dataDir = await mkdtemp(join(tmpdir(), 'kipper-data-'));
    const res = await runKip(
      ['serve'],
      { KIPPER_PORT: '0', KIPPER_DATA_DIR: dataDir, KIPPER_REPO_URL: 'http://127.0.0.1:9/config.git', ...env },
      { timeoutMs: 20_000 },
    );
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    return res.stderr.trim();
  }

  it('with KIPPER_GIT_TOKEN beside it', async () => {
    const { path } = await secretVolume('file-token-value');
    const err = await serve({ KIPPER_GIT_TOKEN: 'env-token-value', KIPPER_GIT_TOKEN_FILE: path });
    expect(err).toContain('KIPPER_GIT_TOKEN_FILE: set either KIPPER_GIT_TOKEN or KIPPER_GIT_TOKEN_FILE, not both');
    expect(err).not.toContain('token-value');
  });

  it('missing or empty, naming the variable and the path', async () => {
    expect(await serve({ KIPPER_GIT_TOKEN_FILE: '/nonexistent/token' })).toContain(
      'KIPPER_GIT_TOKEN_FILE: cannot read /nonexistent/token (ENOENT)',
    );
    const dir = await mkdtemp(join(tmpdir(), 'kip-secret-'));
    await writeFile(join(dir, 'token'), '\n');
    expect(await serve({ KIPPER_GIT_TOKEN_FILE: join(dir, 'token') })).toContain(
      `KIPPER_GIT_TOKEN_FILE: ${join(dir, 'token')} is empty`,
    );
  });
});
