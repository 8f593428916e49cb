import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { fsck, git, logOf, showFile } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

/** A third party committing unrelated files with native git, rebasing on rejection. */
async function thirdPartyPushes(url: string, count: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-third-party-'));
  await git(['clone', '--quiet', url, dir]);
  await mkdir(join(dir, 'notes'), { recursive: true });
  const written: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = `notes/third-party-${i}.txt`;
    await writeFile(join(dir, file), `note ${i}\n`);
    await git(['-C', dir, 'add', file]);
    await git(['-C', dir, 'commit', '--quiet', '-m', `third party note ${i}`]);
    for (let attempt = 0; ; attempt++) {
      try {
        await git(['-C', dir, 'push', '--quiet', 'origin', 'HEAD:main']);
        break;
      } catch (err) {
        if (attempt > 50) throw err;
        await git(['-C', dir, 'pull', '--quiet', '--rebase', 'origin', 'main']);
      }
    }
    written.push(file);
  }
  return written;
}

// docs/design.md: git's ref update is the compare-and-swap that makes several bridges safe
// on one repo. Two bridges, 200 webhooks at once over 20 apps, and a human pushing.
describe('two bridges and a third party on one remote', () => {
  let server: GitServer;
  let bare: string;
  const bridges: BridgeProcess[] = [];

  beforeAll(async () => {
    server = await startGitServer();
    bare = await createConfigRepo(server.root, 'config.git', 20);
    for (let i = 0; i < 2; i++) {
      bridges.push(
        await startBridge({
          KIPPER_REPO_URL: server.url('config.git'),
          KIPPER_SECRET_KEY: TEST_SECRET_KEY,
          KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          KIPPER_LOG_LEVEL: 'warn',
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(bridges.map((b) => b.stop()));
    await server?.close();
  });

  it('every acknowledged deploy has exactly one commit, the newest wins, nothing is lost', async () => {
    const apps = appIds(20);
    const requests = Array.from({ length: 200 }, (_, i) => {
      const app = apps[i % 20]!;
      const name = app.split('/')[1]!;
      return {
        app,
        image: `registry.example.com/${name}:build-${String(i).padStart(3, '0')}`,
        bridge: bridges[i % 2]!,
      };
    });
    const third = thirdPartyPushes(server.url('config.git'), 5);
    const answers = await Promise.all(
      requests.map(async (r) => ({
        ...r,
        res: await postWebhook(
          r.bridge.url,
          r.app,
          { image: r.image },
          { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, r.app, 1) },
        ),
      })),
    );
    const notes = await third;

    for (const a of answers) expect(a.res.status, JSON.stringify(a.res.json)).toBe(200);
    const log = await logOf(bare, 'main', 10_000);
    const byImage = new Map<string, string[]>();
    for (const c of log) {
      const m = /^Kipper-Image: (.+)$/m.exec(c.message);
      if (m) byImage.set(m[1]!, [...(byImage.get(m[1]!) ?? []), c.oid]);
    }
    for (const a of answers) {
      expect(a.res.json.status).toBe('deployed');
      // exactly one commit, and it is the one the answer named
      expect(byImage.get(a.image)).toEqual([a.res.json.configCommit]);
    }
    // The file holds the image of the newest commit for that app (first-parent order).
    for (const app of apps) {
      const name = app.split('/')[1]!;
      const newest = log.find((c) => c.message.includes(`Kipper-App: ${app}\n`))!;
      const image = /^Kipper-Image: (.+)$/m.exec(newest.message)![1]!;
      const file = await showFile(bare, 'main', `apps/team-test/${name}/deployment.yaml`);
      expect(file).toContain(`image: ${image} # set by kipper`);
      expect(file).toContain('image: docker.io/envoyproxy/envoy:v1.30.1');
    }
    for (const note of notes) expect(await showFile(bare, 'main', note)).toMatch(/^note \d+\n$/);
    await fsck(bare);
  });
});
