import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, type BridgeProcess } from '../helpers/bridge-process.js';
import { git, headOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/formats/', import.meta.url));

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
  const post = (app: string, image: string) => postWebhook(bridge.url, app, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) });

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
    expect(await showFile(bare, 'main', 'apps/shop-prod/web/kustomization.yaml')).toContain('    # newTag is set by the first deploy\n');
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
    expect(lines[1]).toBe('+        tag: 1.5.0-build.20240214.0123abc   # the build CI published on 31 January, see the release notes in the wiki');
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

  it('reads kustomize, marker and Helm values back as history', async () => {
    for (const [app, image] of [
      ['shop-prod/web', 'registry.example.com/shop/api:1.5.0'],
      ['shop-prod/api', 'registry.example.com/shop/api:1.5.0'],
    ]) {
      const res = await fetch(`${bridge.url}/api/v1/apps/${app}/history`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      const body = (await res.json()) as { revisions: Array<{ image: string; current: boolean }> };
      expect(body.revisions[0]).toMatchObject({ image, current: true });
    }
  });
});
