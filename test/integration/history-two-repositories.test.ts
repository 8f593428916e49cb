import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { postWebhook, runKip, startBridge } from '../helpers/bridge-process.js';
import { cloneRepo, commitAndPush, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const NAMESPACE = 'shop-test';
const MIGRATE = (tag: string) => `registry.example.com/tools/migrate:${tag}`;
const API = (tag: string) => `registry.example.com/api:${tag}`;
const WEB = (tag: string) => `registry.example.com/web:${tag}`;
const fileOf = (app: string) => `apps/${NAMESPACE}/${app}/deployment.yaml`;

/** The ordinary "migrate first" Deployment: an init container of another repository before the app's own. */
const migrateFirst = (app: string, image: string, migrate = MIGRATE('1.4.0')) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
  namespace: ${NAMESPACE}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ${migrate}   # schema first
          args: ["up"]
      containers:
        - name: ${app}
          image: ${image}
`;

/** A config repo of two such apps, written by a person (the seed commit). */
async function seedDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-two-repos-'));
  const files: Record<string, string> = {
    'kipper.yaml': `apps:
  - namespace: ${NAMESPACE}
    name: api
    files: [${fileOf('api')}]
  - namespace: ${NAMESPACE}
    name: web
    files: [${fileOf('web')}]
webhooks:
  ${NAMESPACE}/api: { generation: 1 }
`,
    [fileOf('api')]: migrateFirst('api', API('v0')),
    [fileOf('web')]: migrateFirst('web', WEB('v0')),
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

// Issue #18: a file that runs images of two repositories. History's value of a commit a
// person wrote is what the app deploys, never the file's first image, and a rollback to
// it restores the app's image and leaves the other repository's alone.
describe('history of a file that runs images of two repositories', () => {
  let rb: RemoteBridge;
  let clone: string;
  const env = () => ({ KIPPER_URL: rb.bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const kip = (...args: string[]) => runKip([...args, '--namespace', NAMESPACE], env());
  const history = async (app: string): Promise<HistoryAnswer['revisions']> => {
    const res = await kip('app', 'history', app, '--json');
    expect(res.code, res.stderr).toBe(0);
    return (JSON.parse(res.stdout) as HistoryAnswer).revisions;
  };
  const rows = (revisions: HistoryAnswer['revisions']) =>
    revisions.map((r) => [r.revision, r.image, r.images, r.trigger]);
  /** A person's commit of `app`'s file, edited by `edit`, pushed to the remote. */
  const humanEdit = async (app: string, edit: (text: string) => string, message: string) => {
    await git(['-C', clone, 'pull', '-q', '--ff-only', 'origin', 'main']);
    return commitAndPush(clone, fileOf(app), edit(await showFile(rb.bare, 'main', fileOf(app))), message);
  };

  beforeAll(async () => {
    rb = await startRemoteBridge(await seedDir());
    clone = await cloneRepo(rb.server.url('config.git'));
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('shows the seed as the image the app deploys, and rolls back to it leaving the init container byte for byte', async () => {
    const seed = await showFile(rb.bare, 'main', fileOf('api'));
    const deployed = await postWebhook(
      rb.bridge.url,
      `${NAMESPACE}/api`,
      { image: API('v1') },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, `${NAMESPACE}/api`, 1) },
    );
    expect(deployed.json).toMatchObject({ status: 'deployed', revision: 2 });

    expect(rows(await history('api'))).toEqual([
      [2, API('v1'), undefined, 'webhook'],
      [1, API('v0'), undefined, 'git'],
    ]);
    const table = (await kip('app', 'history', 'api')).stdout.trimEnd().split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toMatch(/^ 1 {2}registry\.example\.com\/api:v0 {2,}- +git +\S/);
    expect(table.join('\n')).not.toContain('migrate');

    const rolled = await kip('app', 'rollback', 'api', '--revision', '1', '--json');
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({
      status: 'rolled_back',
      rolledBackTo: 1,
      revision: 3,
      image: API('v0'),
    });
    // api back to v0, and nothing else changed: the file is the seed's, byte for byte.
    expect(await showFile(rb.bare, 'main', fileOf('api'))).toBe(seed);
    expect((await logOf(rb.bare))[0]!.message).toContain(`Kipper-Image: ${API('v0')}\n`);
  });

  it("takes a person's bump of the other repository's image for no revision of the app, and a rollback leaves it", async () => {
    const bump = await humanEdit('api', (text) => text.replace(MIGRATE('1.4.0'), MIGRATE('1.5.0')), 'migrate 1.5.0');
    const deployed = await postWebhook(
      rb.bridge.url,
      `${NAMESPACE}/api`,
      { image: API('v2') },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, `${NAMESPACE}/api`, 1) },
    );
    // The deploy was written on top of the bump (a write always reads the remote first), and
    // its number follows the rollback's: the bump is no revision of api.
    expect(deployed.json).toMatchObject({ status: 'deployed', revision: 4 });
    expect((await logOf(rb.bare))[0]!.parents).toEqual([bump]);
    const revisions = await history('api');
    expect(revisions.map((r) => r.configCommit)).not.toContain(bump);
    expect(rows(revisions)).toEqual([
      [4, API('v2'), undefined, 'webhook'],
      [3, API('v0'), undefined, 'rollback'],
      [2, API('v1'), undefined, 'webhook'],
      [1, API('v0'), undefined, 'git'],
    ]);

    const rolled = await kip('app', 'rollback', 'api', '--revision', '1', '--json');
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ rolledBackTo: 1, revision: 5, image: API('v0') });
    expect(await showFile(rb.bare, 'main', fileOf('api'))).toBe(migrateFirst('api', API('v0'), MIGRATE('1.5.0')));
  });

  it('shows every image before any deploy told which, and reads them as the app deploys once one does', async () => {
    // web: no deploy yet; a person bumps web (2), then migrate (3).
    await humanEdit('web', (text) => text.replace(WEB('v0'), WEB('v1')), 'web v1');
    await humanEdit('web', (text) => text.replace(MIGRATE('1.4.0'), MIGRATE('1.5.0')), 'migrate 1.5.0 for web');
    expect(rows(await history('web'))).toEqual([
      [3, WEB('v1'), [WEB('v1'), MIGRATE('1.5.0')], 'git'],
      [2, WEB('v1'), [WEB('v1'), MIGRATE('1.4.0')], 'git'],
      [1, WEB('v0'), [WEB('v0'), MIGRATE('1.4.0')], 'git'],
    ]);
    // Back to 1: web's and migrate's images both differ from what runs now, and no deploy
    // told which is web's: no single image to restore, refused naming them, nothing written.
    const head = await headOf(rb.bare);
    const both = await kip('app', 'rollback', 'web', '--revision', '1', '--json');
    expect(both.code).not.toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ code: 'NOTHING_TO_ROLL_BACK' });
    expect(both.stderr).toContain(WEB('v0'));
    expect(await headOf(rb.bare)).toBe(head);

    // A person puts migrate back; the rollback to 1 then restores web's image alone.
    await humanEdit('web', (text) => text.replace(MIGRATE('1.5.0'), MIGRATE('1.4.0')), 'migrate back to 1.4.0');
    const before = await showFile(rb.bare, 'main', fileOf('web'));
    const rolled = await kip('app', 'rollback', 'web', '--revision', '1', '--json');
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ rolledBackTo: 1, revision: 5, image: WEB('v0') });
    expect(await showFile(rb.bare, 'main', fileOf('web'))).toBe(before.replace(WEB('v1'), WEB('v0')));

    // The rollback told web's repository: every revision read before now holds web's image.
    expect(rows(await history('web'))).toEqual([
      [5, WEB('v0'), undefined, 'rollback'],
      [4, WEB('v1'), undefined, 'git'],
      [3, WEB('v1'), undefined, 'git'],
      [2, WEB('v1'), undefined, 'git'],
      [1, WEB('v0'), undefined, 'git'],
    ]);
  });

  it('keeps what it read across a restart', async () => {
    const before = { api: await history('api'), web: await history('web') };
    const head = await headOf(rb.bare);
    await rb.bridge.stop();
    rb.bridge = await startBridge({
      KIPPER_REPO_URL: rb.server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_DATA_DIR: rb.bridge.dataDir,
    });
    expect({ api: await history('api'), web: await history('web') }).toEqual(before);
    expect(await headOf(rb.bare)).toBe(head);
  });
});
