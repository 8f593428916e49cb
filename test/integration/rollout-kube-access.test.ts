import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { eventually } from '../helpers/eventually.js';
import { headOf } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { startKubeDouble, type KubeDouble } from '../helpers/syncer-doubles.js';
import { TEST_ADMIN_TOKEN } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/rollout/', import.meta.url));
const FLUX_APP = 'shop-prod/api';
/** What the exec plugin prints, and the only bearer token the Kubernetes double accepts. */
const EXEC_TOKEN = 'k8s-aws-v1.exec-plugin-token-0123456789';

// Issue #22: kubeconfigs as real clusters hand them out, read the way kubectl reads them.
describe('the Kubernetes API through a kubeconfig', () => {
  let kube: KubeDouble;
  const bridges: RemoteBridge[] = [];

  /** A bridge on the rollout fixture with this kubeconfig; Flux reports the seed applied and Ready. */
  async function bridgeWith(kubeconfig: string): Promise<RemoteBridge> {
    const rb = await startRemoteBridge(FIXTURE, { KIPPER_KUBECONFIG: kubeconfig });
    bridges.push(rb);
    return rb;
  }

  /** The app's current revision once the bridge shows it healthy at `commit` (as Flux reports it). */
  const healthyAt = (rb: RemoteBridge, commit: string) =>
    eventually(`${FLUX_APP} healthy at ${commit}`, async () => {
      const res = await fetch(`${rb.bridge.url}/api/v1/apps/${FLUX_APP}/history`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      const current = ((await res.json()) as HistoryAnswer).revisions[0];
      return current?.rollout?.state === 'healthy' && current.rollout.revision === commit && current;
    });

  beforeAll(async () => {
    kube = await startKubeDouble(EXEC_TOKEN);
  });
  afterAll(async () => {
    for (const rb of bridges) {
      await rb.bridge.stop();
      await rb.server.close();
    }
    await kube?.close();
  });

  it('finds certificate files named relative to the kubeconfig, not to the working directory', async () => {
    // pki/ holds the CA and the client certificate; the kubeconfig sits in kube/ and names
    // them `../pki/…`. The bridge runs in the project's folder, where no such path exists.
    const root = await mkdtemp(join(tmpdir(), 'kip-kube-relative-'));
    await mkdir(join(root, 'pki'));
    await mkdir(join(root, 'kube'));
    await copyFile(kube.pki.ca, join(root, 'pki', 'ca.crt'));
    await copyFile(kube.pki.clientCert, join(root, 'pki', 'client.crt'));
    await copyFile(kube.pki.clientKey, join(root, 'pki', 'client.key'));
    const kubeconfig = join(root, 'kube', 'config');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: prod',
        'clusters:',
        '  - name: prod',
        `    cluster: { server: "${kube.url}", certificate-authority: ../pki/ca.crt }`,
        'users:',
        '  - name: kipper',
        '    user: { client-certificate: ../pki/client.crt, client-key: ../pki/client.key }',
        'contexts:',
        '  - name: prod',
        '    context: { cluster: prod, user: kipper }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const rb = await bridgeWith(kubeconfig);
    const seed = await headOf(rb.bare);
    kube.set('Kustomization', 'flux-system', 'api-prod', { lastApplied: seed, ready: 'True' });
    // Authenticated by the client certificate alone (the kubeconfig has no token) over TLS
    // checked against the CA: healthy is only reachable through both files.
    const current = await healthyAt(rb, seed);
    expect(current.configCommit).toBe(seed);
  });

  it('runs an exec credential plugin and sends the token it prints, running it again only when that expires', async () => {
    // As `aws eks get-token` / gke-gcloud-auth-plugin / kubelogin do: an ExecCredential on stdout.
    const dir = await mkdtemp(join(tmpdir(), 'kip-kube-exec-'));
    const plugin = join(dir, 'get-token.sh');
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { token: EXEC_TOKEN, expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() },
    };
    await writeFile(
      plugin,
      [
        '#!/bin/sh',
        'echo "$1 $KIPPER_TEST_CLUSTER" >> "$(dirname "$0")/runs"',
        `echo '${JSON.stringify(credential)}'`,
        '',
      ].join('\n'),
      {
        mode: 0o700,
      },
    );
    const kubeconfig = join(dir, 'config');
    const ca = (await readFile(kube.pki.ca)).toString('base64');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: eks',
        'clusters:',
        '  - name: eks',
        `    cluster: { server: "${kube.url}", certificate-authority-data: "${ca}" }`,
        'users:',
        '  - name: kipper',
        '    user:',
        '      exec:',
        '        apiVersion: client.authentication.k8s.io/v1beta1',
        // Relative, with a slash: kubectl runs it from the kubeconfig's folder.
        '        command: ./get-token.sh',
        '        args: [token]',
        '        env: [{ name: KIPPER_TEST_CLUSTER, value: prod-eu }]',
        '        interactiveMode: Never',
        'contexts:',
        '  - name: eks',
        '    context: { cluster: eks, user: kipper }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const rb = await bridgeWith(kubeconfig);
    const seed = await headOf(rb.bare);
    kube.set('Kustomization', 'flux-system', 'api-prod', { lastApplied: seed, ready: 'True' });
    await healthyAt(rb, seed);
    // The plugin got its args and env; its token is cached until it expires (an hour away),
    // however often the bridge looks.
    const gets = kube.gets;
    // A history query looks again once the last look is 5 s old.
    await eventually('another look at the Kustomization', async () => (await healthyAt(rb, seed)) && kube.gets > gets, {
      timeoutMs: 15_000,
      intervalMs: 500,
    });
    expect((await readFile(join(dir, 'runs'), 'utf8')).trim().split('\n')).toEqual(['token prod-eu']);
  });

  it('reports a failing exec plugin in the unknown rollout message, and an unreadable kubeconfig stops startup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-kube-exec-fail-'));
    await writeFile(
      join(dir, 'no-login.sh'),
      ['#!/bin/sh', 'echo "error: not logged in: run aws sso login" >&2', 'exit 1', ''].join('\n'),
      { mode: 0o700 },
    );
    const kubeconfig = join(dir, 'config');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: eks',
        'clusters: [{ name: eks, cluster: { server: "' + kube.url + '" } }]',
        'users: [{ name: kipper, user: { exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: ./no-login.sh } } }]',
        'contexts: [{ name: eks, context: { cluster: eks, user: kipper } }]',
        '',
      ].join('\n'),
    );
    const rb = await bridgeWith(kubeconfig);
    const rollout = await eventually('the rollout to be unknown', async () => {
      const res = await fetch(`${rb.bridge.url}/api/v1/apps/${FLUX_APP}/history`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      const r = ((await res.json()) as HistoryAnswer).revisions[0]?.rollout;
      return r?.state === 'unknown' && r;
    });
    expect(rollout.message).toContain('not logged in: run aws sso login');

    const missing = join(dir, 'no-such-kubeconfig');
    await expect(startRemoteBridge(FIXTURE, { KIPPER_KUBECONFIG: missing })).rejects.toThrow(
      `KIPPER_KUBECONFIG ${missing}: cannot be read (ENOENT)`,
    );
  });
});
