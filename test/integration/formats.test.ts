import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, type BridgeProcess } from '../helpers/bridge-process.js';
import { git, headOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/formats/', import.meta.url));
const BOUTIQUE = 'us-central1-docker.pkg.dev/google-samples/microservices-demo';
const SHA = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

/** The lines a commit changed in a file (`-old` / `+new`), from native git. */
async function changedLines(bare: string, path: string): Promise<string[]> {
  const diff = await git(['--git-dir', bare, 'diff', '--unified=0', 'main~1', 'main', '--', path]);
  return diff.split('\n').filter((l) => /^[-+](?![-+]{2} )/.test(l));
}

// Issue #4 end to end: a webhook per config format, against a real remote; the git diff
// is exactly the value and nothing else.
describe('every config format through the webhook', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const post = (app: string, image: string) =>
    postWebhook(bridge.url, app, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) });

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(FIXTURE));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('kustomization images: adds the missing newTag in the entry style', async () => {
    const res = await post('shop-prod/web', 'registry.example.com/shop/api:1.5.0');
    expect(res.json).toMatchObject({ status: 'deployed', revision: 2 }); // the seed's untagged entry is revision 1
    expect(await changedLines(bare, 'apps/shop-prod/web/kustomization.yaml')).toEqual(['+    newTag: 1.5.0']);
    expect(await showFile(bare, 'main', 'apps/shop-prod/web/kustomization.yaml')).toContain(
      '    # newTag is set by the first deploy\n',
    );
  });

  it('setter markers in a CRD: every marker of the app, nothing else', async () => {
    const res = await post('shop-prod/api', 'registry.example.com/shop/api:1.5.0');
    expect(res.json.status).toBe('deployed');
    const lines = await changedLines(bare, 'apps/shop-prod/api/rollout.yaml');
    expect(lines.filter((l) => l.startsWith('+'))).toEqual([
      '+  image: registry.example.com/shop/api:1.5.0 # {"$kipper": "shop-prod/api"}',
      '+    version: "1.5.0"   # { "$kipper" : "shop-prod/api:tag" }',
      '+    pin: "" # {"$kipper": "shop-prod/api:digest"}',
      '+    - registry.example.com/shop/api:1.5.0 # {"$kipper": "shop-prod/api"}',
    ]);
    const file = await showFile(bare, 'main', 'apps/shop-prod/api/rollout.yaml');
    expect(file).toContain('sidecar: registry.example.com/shop/api:1.4.1 # {"$kipper": "shop-prod/worker"}');
  });

  it('Flux HelmRelease values: only the tag changes, a long comment survives', async () => {
    const image = 'registry.example.com/platform-engineering/shop/checkout-service-api:1.5.0-build.20240214.0123abc';
    const res = await post('shop-prod/checkout', image);
    expect(res.json.status).toBe('deployed');
    const lines = await changedLines(bare, 'apps/shop-prod/checkout/helmrelease.yaml');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      '+        tag: 1.5.0-build.20240214.0123abc   # the build CI published on 31 January, see the release notes in the wiki',
    );
  });

  it('answers 422 NO_IMAGE_TARGET naming the files and what it looked for, writing nothing', async () => {
    const head = await headOf(bare);
    const res = await post('shop-prod/web', 'registry.example.com/unrelated/thing:1');
    expect(res.status).toBe(422);
    expect(res.json.code).toBe('NO_IMAGE_TARGET');
    expect(res.json.error).toContain('apps/shop-prod/web/kustomization.yaml');
    expect(res.json.error).toContain('kustomize images: entries named registry.example.com/unrelated/thing');
    expect(await headOf(bare)).toBe(head);
  });

  // Issue #9: real config files. An all-in-one manifest names every container `server`.
  it('answers 422 AMBIGUOUS_TARGET for a container name that hits other services, writing nothing', async () => {
    const head = await headOf(bare);
    for (const [app, image] of [
      ['boutique-prod/checkoutservice', `${BOUTIQUE}/checkoutservice:v0.10.3`],
      ['boutique-prod/backend', `${BOUTIQUE}/cartservice:v0.10.3`], // `server` in two files
    ] as const) {
      const res = await post(app, image);
      expect(res.status).toBe(422);
      expect(res.json).toEqual({ error: expect.any(String), code: 'AMBIGUOUS_TARGET' });
    }
    expect(await headOf(bare)).toBe(head);
  });

  it('with workload: Deployment/<name>, changes that workload image and nothing else', async () => {
    const path = 'apps/boutique-prod/kubernetes-manifests.yaml';
    const res = await post('boutique-prod/frontend', `${BOUTIQUE}/frontend:v0.10.3`);
    expect(res.json).toMatchObject({ status: 'deployed', revision: 2 });
    expect(await git(['--git-dir', bare, 'diff', '--name-only', 'main~1', 'main'])).toBe(`${path}\n`);
    expect(await changedLines(bare, path)).toEqual([
      `-          image: ${BOUTIQUE}/frontend:v0.10.2`,
      `+          image: ${BOUTIQUE}/frontend:v0.10.3`,
    ]);
    const file = await showFile(bare, 'main', path);
    for (const service of ['emailservice', 'checkoutservice', 'paymentservice', 'loadgenerator']) {
      expect(file).toContain(`image: ${BOUTIQUE}/${service}:v0.10.2\n`);
    }
  });

  it('a digest-only deploy to Helm values with tag: null writes a valid reference', async () => {
    const path = 'apps/ops-prod/keel/values.yaml';
    const res = await post('ops-prod/keel', `keelhq/keel@sha256:${SHA}`);
    expect(res.json).toMatchObject({ status: 'deployed', revision: 2 });
    expect(await changedLines(bare, path)).toEqual(['-  tag: null', `+  tag: latest@sha256:${SHA}`]);
  });

  it('reads history as the deploy wrote it: the named workload, and a null tag as no tag', async () => {
    for (const [app, images] of [
      ['boutique-prod/frontend', [`${BOUTIQUE}/frontend:v0.10.3`, `${BOUTIQUE}/frontend:v0.10.2`]],
      ['ops-prod/keel', [`keelhq/keel:latest@sha256:${SHA}`, 'keelhq/keel']],
    ] as const) {
      const res = await fetch(`${bridge.url}/api/v1/apps/${app}/history`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      const body = (await res.json()) as { revisions: Array<{ image: string }> };
      expect(body.revisions.map((r) => r.image)).toEqual(images);
    }
  });

  it('reads kustomize, marker and Helm values back as history', async () => {
    for (const [app, image] of [
      ['shop-prod/web', 'registry.example.com/shop/api:1.5.0'],
      ['shop-prod/api', 'registry.example.com/shop/api:1.5.0'],
    ]) {
      const res = await fetch(`${bridge.url}/api/v1/apps/${app}/history`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      const body = (await res.json()) as { revisions: Array<{ image: string; current: boolean }> };
      expect(body.revisions[0]).toMatchObject({ image, current: true });
    }
  });
});
