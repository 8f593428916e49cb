import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { deploymentYaml } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { createBareRepo, logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { replicaEnv, startLeaseApi, type LeaseApi } from '../helpers/lease-api.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

/** A config repo of one app, its webhook enabled. */
async function oneApp(id: string): Promise<string> {
  const [namespace, name] = id.split('/') as [string, string];
  const dir = await mkdtemp(join(tmpdir(), 'kip-lease-repo-'));
  const file = `apps/${namespace}/${name}/deployment.yaml`;
  await mkdir(dirname(join(dir, file)), { recursive: true });
  await writeFile(join(dir, file), deploymentYaml(name, namespace, `registry.example.com/${name}:v0`));
  await writeFile(
    join(dir, 'kipper.yaml'),
    `apps:\n  - namespace: ${namespace}\n    name: ${name}\n    files: [${file}]\nwebhooks:\n  ${id}: { generation: 1 }\n`,
  );
  return dir;
}

// docs/running-in-a-cluster.md "Replicas": with KIPPER_REPOS_FILE, one Lease per repo
// (`<name>-<repo name>`), so each repo may have a different writer.
describe('KIPPER_LEASE with several config repos', () => {
  let server: GitServer;
  let api: LeaseApi;
  const bare: Record<string, string> = {};
  const replicas: Array<BridgeProcess & { name: string }> = [];

  beforeAll(async () => {
    server = await startGitServer();
    bare.alpha = await createBareRepo(server.root, 'alpha.git', await oneApp('alpha-test/api'));
    bare.beta = await createBareRepo(server.root, 'beta.git', await oneApp('beta-test/api'));
    api = await startLeaseApi();
    const dir = await mkdtemp(join(tmpdir(), 'kip-lease-repos-'));
    const reposFile = join(dir, 'repos.yaml');
    await writeFile(
      reposFile,
      `repos:\n  - name: alpha\n    url: ${server.url('alpha.git')}\n  - name: beta\n    url: ${server.url('beta.git')}\n`,
    );
    const envs = { a: await replicaEnv(api, 'replica-a'), b: await replicaEnv(api, 'replica-b') };
    // beta's Lease is replica-b's, freshly renewed, before anyone starts: replica-a must leave it alone.
    const now = new Date().toISOString().replace('Z', '000Z');
    api.leases.set('kipper/kipper-writer-beta', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'kipper-writer-beta',
        namespace: 'kipper',
        resourceVersion: '1',
        uid: 'uid-beta',
        creationTimestamp: now,
      },
      spec: {
        holderIdentity: envs.b.KIPPER_PEER_URL,
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    });
    for (const [name, env] of [['replica-a', envs.a] as const, ['replica-b', envs.b] as const]) {
      const b = await startBridge({
        ...env,
        KIPPER_REPOS_FILE: reposFile,
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
        KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        KIPPER_LOG_LEVEL: 'warn',
      });
      replicas.push({ ...b, name });
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((b) => b.stop()));
    await server?.close();
    await api?.close();
  });

  it('elects a writer per repo, and each replica forwards to the writer of the app’s repo', async () => {
    const [a, b] = replicas as [BridgeProcess & { name: string }, BridgeProcess & { name: string }];
    await eventually(
      'both leases held',
      () => api.leases.get('kipper/kipper-writer-alpha')?.spec.holderIdentity === a.url,
    );
    expect(api.leases.get('kipper/kipper-writer-beta')!.spec.holderIdentity).toBe(b.url);
    expect(api.leases.has('kipper/kipper-writer')).toBe(false);

    // At b, an alpha app: written by a. At a, a beta app: written by b.
    const alpha = await postWebhook(
      b.url,
      'alpha-test/api',
      { image: 'registry.example.com/api:alpha-1' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, 'alpha-test/api', 1) },
    );
    const beta = await postWebhook(
      a.url,
      'beta-test/api',
      { image: 'registry.example.com/api:beta-1' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, 'beta-test/api', 1) },
    );
    expect(alpha.status, JSON.stringify(alpha.json)).toBe(200);
    expect(beta.status, JSON.stringify(beta.json)).toBe(200);
    expect((await logOf(bare.alpha!, 'main', 1))[0]).toMatchObject({
      oid: alpha.json.configCommit,
      authorName: 'replica-a',
    });
    expect((await logOf(bare.beta!, 'main', 1))[0]).toMatchObject({
      oid: beta.json.configCommit,
      authorName: 'replica-b',
    });
  });
});
