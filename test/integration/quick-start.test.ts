import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, postWebhook, runKip, type BridgeProcess } from '../helpers/bridge-process.js';
import { fsck, git, headOf, logOf } from '../helpers/git-cli.js';

// The README's quick start, as a user runs it: `kip serve` on a fresh data dir (the
// embedded default), then the printed curl.
describe('quick start on the embedded default', () => {
  let bridge: BridgeProcess;
  let gitdir: string;

  beforeAll(async () => {
    bridge = await startBridge();
    gitdir = join(bridge.dataDir, 'config.git');
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  it('prints the listening URL, the example webhook URL and token, and a ready curl', () => {
    const out = bridge.output();
    expect(out).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain(`Webhook URL: ${bridge.url}/api/v1/webhook/demo-test/api`);
    expect(out).toMatch(/Secret token: [0-9a-f]{64}\n/);
    expect(out).toContain('curl -X POST');
  });

  it('deploys the posted image as one commit with trailers, changing only the image scalar', async () => {
    const token = /Secret token: ([0-9a-f]{64})/.exec(bridge.output())![1]!;
    const before = await headOf(gitdir);
    const res = await postWebhook(
      bridge.url,
      'demo-test/api',
      { image: 'registry.example.com/api:abc123f', commit: 'abc123f' },
      { 'X-Kipper-Token': token },
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'deployed',
      app: 'demo-test/api',
      image: 'registry.example.com/api:abc123f',
      commit: 'abc123f',
      revision: 2,
    });
    const head = await headOf(gitdir);
    expect(res.json.configCommit).toBe(head);
    const [latest] = await logOf(gitdir);
    expect(latest!.parents).toEqual([before]);
    expect(latest!.message).toBe(
      'deploy demo-test/api: registry.example.com/api:abc123f\n\n' +
        'Kipper-App: demo-test/api\n' +
        'Kipper-Image: registry.example.com/api:abc123f\n' +
        'Kipper-Source-Commit: abc123f\n' +
        'Kipper-Trigger: webhook\n' +
        'Kipper-Actor: webhook:demo-test/api\n',
    );
    const diff = await git(['--git-dir', gitdir, 'diff', '--unified=0', before, head]);
    const changed = diff.split('\n').filter((l) => /^[-+][^-+]/.test(l));
    expect(changed).toEqual([
      '-          image: registry.example.com/api:0.1.0       # set by webhook deploys',
      '+          image: registry.example.com/api:abc123f       # set by webhook deploys',
    ]);
    await fsck(gitdir);
  });

  it('answers unchanged without a commit when the image is already current', async () => {
    const token = /Secret token: ([0-9a-f]{64})/.exec(bridge.output())![1]!;
    const before = await headOf(gitdir);
    const res = await postWebhook(
      bridge.url,
      'demo-test/api',
      { image: 'registry.example.com/api:abc123f', commit: 'abc123f' },
      { 'X-Kipper-Token': token },
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'unchanged', revision: 2, configCommit: before });
    expect(await headOf(gitdir)).toBe(before);
  });

  it('kip app webhook enable/status/disable manage the token through the admin API', async () => {
    const env = { KIPPER_URL: bridge.url, KIPPER_DATA_DIR: bridge.dataDir };
    const oldToken = /Secret token: ([0-9a-f]{64})/.exec(bridge.output())![1]!;
    const args = ['--project', 'demo', '--environment', 'test'];

    const enabled = await runKip(['app', 'webhook', 'enable', 'api', ...args], env);
    expect(enabled.stderr).toBe('');
    expect(enabled.code).toBe(0);
    const lines = enabled.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('✔ Webhook enabled for api');
    expect(lines[1]).toBe(`Webhook URL: ${bridge.url}/api/v1/webhook/demo-test/api`);
    const newToken = /^Secret token: ([0-9a-f]{64})$/.exec(lines[2]!)![1]!;
    expect(newToken).not.toBe(oldToken);

    const status = await runKip(['app', 'webhook', 'status', 'api', ...args, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      enabled: true,
      url: `${bridge.url}/api/v1/webhook/demo-test/api`,
      token: newToken,
    });

    // Regenerating stops the old token; the new one deploys.
    const image = { image: 'registry.example.com/api:def456a', commit: 'def456a' };
    expect((await postWebhook(bridge.url, 'demo-test/api', image, { 'X-Kipper-Token': oldToken })).status).toBe(401);
    expect((await postWebhook(bridge.url, 'demo-test/api', image, { 'X-Kipper-Token': newToken })).json.status).toBe(
      'deployed',
    );

    const disabled = await runKip(['app', 'webhook', 'disable', 'api', ...args], env);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout.trim()).toBe('✔ Webhook disabled for api');
    const head = await headOf(gitdir);
    const refused = await postWebhook(
      bridge.url,
      'demo-test/api',
      { image: 'registry.example.com/api:0a0a0a0' },
      { 'X-Kipper-Token': newToken },
    );
    expect(refused.status).toBe(401);
    expect(await headOf(gitdir)).toBe(head);

    // Enabling again after a disable never brings back a token handed out before.
    const again = await runKip(['app', 'webhook', 'enable', 'api', ...args, '--json'], env);
    const third = JSON.parse(again.stdout).token as string;
    expect([oldToken, newToken]).not.toContain(third);
    for (const stale of [oldToken, newToken]) {
      expect(
        (
          await postWebhook(
            bridge.url,
            'demo-test/api',
            { image: 'registry.example.com/api:0b0b0b0' },
            { 'X-Kipper-Token': stale },
          )
        ).status,
      ).toBe(401);
    }
  });

  it('kip fails with one clear line and a non-zero exit for an unknown app or a bad admin token', async () => {
    const unknown = await runKip(['app', 'webhook', 'status', 'nope', '--namespace', 'demo-test'], {
      KIPPER_URL: bridge.url,
      KIPPER_DATA_DIR: bridge.dataDir,
    });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('demo-test/nope');

    const badToken = await runKip(['app', 'list'], {
      KIPPER_URL: bridge.url,
      KIPPER_ADMIN_TOKEN: 'wrong-token-wrong-token',
    });
    expect(badToken.code).not.toBe(0);
    expect(badToken.stderr).toMatch(/admin token/);
  });
});
