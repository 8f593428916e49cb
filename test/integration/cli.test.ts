import { mkdtemp, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KIP_BIN, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { headOf, logOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const COMMANDS = ['webhook', 'list', 'history', 'rollback', 'update', 'promote'];
const DOCS_FILE = 'apps/yourr-name-prod/docs/application.yaml';
const SHA = '89abcdef0123456789abcdef0123456789abcdef';

/** `kip … --json` that must fail: its exit code, error code and stderr. */
async function failure(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = await runKip([...args, '--json'], env);
  const body = JSON.parse(res.stdout) as { error: string; code: string };
  expect(res.stderr.trim().split('\n')).toHaveLength(1);
  return { exit: res.code, code: body.code, error: body.error, stderr: res.stderr };
}

// Issue #9, "The CLI": help, usage errors and where kip finds its token need no bridge.
describe('kip help and usage errors', () => {
  it.each(COMMANDS)('kip app %s --help prints its usage, flags and one example, exit 0', async (name) => {
    const res = await runKip(['app', name, '--help'], {});
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^usage: kip app ${name}\\b`));
    expect(lines).toContain('flags:');
    expect(lines.filter((l) => l.startsWith(`  kip app ${name} `))).toHaveLength(1);
    expect(lines[lines.length - 2]).toBe('example:');
    // The same text however it is asked for, with or without other arguments.
    for (const args of [
      ['help', name],
      ['help', 'app', name],
      ['app', 'help', name],
      ['app', name, 'api', '-h', '--namespace', 'x'],
    ]) {
      const again = await runKip(args, {});
      expect([again.code, again.stdout], args.join(' ')).toEqual([0, res.stdout]);
    }
  });

  it('names the flags of update and rollback in their help', async () => {
    expect((await runKip(['help', 'update'], {})).stdout).toMatch(/^ {2}--commit SHA {2,}\S/m);
    expect((await runKip(['help', 'update'], {})).stdout).toMatch(/^ {2}--image REF {2,}\S/m);
    expect((await runKip(['app', 'rollback', '--help'], {})).stdout).toMatch(/^ {2}--revision N {2,}\S/m);
  });

  it('kip app --help and kip help app list the app commands; kip --help the overall usage', async () => {
    const app = await runKip(['app', '--help'], {});
    expect(app.code).toBe(0);
    expect(app.stdout).toMatch(/^usage: kip app <command>/);
    for (const name of COMMANDS) expect(app.stdout).toMatch(new RegExp(`^ {2}${name}\\b`, 'm'));
    expect((await runKip(['help', 'app'], {})).stdout).toBe(app.stdout);

    const all = await runKip(['--help'], {});
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^usage:\n {2}kip serve /);
    expect(all.stdout).toContain('kip app update <app> --commit SHA');
    const serve = await runKip(['serve', '--help'], {});
    expect([serve.code, serve.stdout.split('\n')[0]]).toEqual([0, 'usage: kip serve']);
  });

  it('a webhook command without its action names enable, status and disable, exit 2', async () => {
    const res = await failure(['app', 'webhook', 'api', '--project', 'demo', '--environment', 'test']);
    expect([res.exit, res.code]).toEqual([2, 'USAGE']);
    expect(res.stderr).toMatch(/enable.*status.*disable/);
    const swapped = await failure(['app', 'webhook', 'api', 'enable', '--namespace', 'demo-test']);
    expect([swapped.exit, swapped.code]).toEqual([2, 'USAGE']);
    expect(swapped.stderr).toContain('kip app webhook enable api');
    const none = await failure(['app', 'webhook']);
    expect([none.exit, none.code]).toEqual([2, 'USAGE']);
    expect(none.stderr).toContain('enable|status|disable');
  });

  it('reports every usage error with code USAGE and exit 2, before looking for an admin token', async () => {
    const cases = [
      ['app', 'update', 'api', '--namespace', 'demo-test'],
      ['app', 'update', 'api', '--imgae', 'x', '--namespace', 'demo-test'],
      ['app', 'history', 'api', '--image'],
      ['app', 'history', 'api'],
      ['app', 'history'],
      ['app', 'rollback', 'api', '--revision', 'two', '--namespace', 'demo-test'],
      ['app', 'promote', 'api', '--project', 'demo'],
      ['app', 'nope'],
      ['app'],
      ['help', 'nope'],
      ['nope'],
    ];
    for (const args of cases) {
      // No KIPPER_ADMIN_TOKEN and no data dir: a token error would say ADMIN_UNAUTHORIZED.
      const res = await failure(args);
      expect([res.exit, res.code], args.join(' ')).toEqual([2, 'USAGE']);
    }
    // A typo gets a suggestion (issue #18); see cli-edges.test.ts.
    expect((await failure(['app', 'update', 'api', '--imgae', 'x'])).error).toBe(
      'unknown option --imgae; did you mean --image? (see `kip help update`)',
    );
    expect((await failure(['app', 'update', 'api', '--nope', 'x'])).error).toBe(
      'unknown option --nope; see `kip help update`',
    );
  });

  it('says where it looked for the admin token when there is none', async () => {
    const cwd = await realpath(await mkdtemp(join(tmpdir(), 'kip-cwd-')));
    const noDir = await runKip(['app', 'list', '--json'], {}, { cwd });
    expect(noDir.code).toBe(1);
    expect(JSON.parse(noDir.stdout).code).toBe('ADMIN_UNAUTHORIZED');
    expect(noDir.stderr).toContain(`${cwd}/.kipper/admin-token`);
    const missing = join(cwd, 'not-a-data-dir');
    const badDir = await runKip(['app', 'list'], { KIPPER_DATA_DIR: missing }, { cwd });
    expect(badDir.code).toBe(1);
    expect(badDir.stderr.trim().split('\n')).toHaveLength(1);
    expect(badDir.stderr).toContain(`${missing}/admin-token (from KIPPER_DATA_DIR) does not exist`);
  });
});

// `kip` installed with `npm install -g .` is a symlink to bin/kip.js, run from anywhere.
describe('kip run from outside the project', () => {
  let bridge: BridgeProcess;

  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  it('finds dist/ next to itself and the admin token in KIPPER_DATA_DIR, without KIPPER_ADMIN_TOKEN', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'kip-cwd-'));
    const link = join(cwd, 'kip');
    await symlink(KIP_BIN, link);
    for (const bin of [KIP_BIN, link]) {
      const res = await runKip(
        ['app', 'list'],
        { KIPPER_URL: bridge.url, KIPPER_DATA_DIR: bridge.dataDir },
        { cwd, bin },
      );
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^ APP +SOURCE +IMAGE +REVISION +WEBHOOK\n demo-test\/api +image /);
    }
  });
});

describe('kip app update --commit and kip app webhook status against a real remote', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const env = () => ({ KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(FIXTURE));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('deploys a git-source app from the CLI: building, then unchanged', async () => {
    const res = await runKip(
      ['app', 'update', 'docs', '--commit', SHA, '--project', 'yourr-name', '--environment', 'prod'],
      env(),
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`✔ Updated docs to commit ${SHA} (revision #2): building\n`);
    const [head] = await logOf(bare);
    expect(head!.message).toContain(
      'Kipper-App: yourr-name-prod/docs\n' + `Kipper-Source-Commit: ${SHA}\n` + 'Kipper-Trigger: manual\n',
    );
    expect(head!.message).not.toContain('Kipper-Image');
    expect(await showFile(bare, 'main', DOCS_FILE)).toContain(
      `targetRevision: ${SHA} # {"$kipper": "yourr-name-prod/docs:commit"}`,
    );

    const again = await runKip(['app', 'update', 'yourr-name-prod/docs', '--commit', SHA], env());
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`✔ docs already at commit ${SHA} (revision #2): unchanged\n`);
    expect(await headOf(bare)).toBe(head!.oid);

    const json = await runKip(['app', 'update', 'yourr-name-prod/docs', '--commit', SHA, '--json'], env());
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'unchanged',
      app: 'yourr-name-prod/docs',
      image: null,
      commit: SHA,
      revision: 2,
    });
  });

  it('records --commit as the source commit of an image deploy', async () => {
    const image = 'registry.example.com/api:abc123f';
    const res = await runKip(
      ['app', 'update', 'api', '--image', image, '--commit', 'abc123f', '--namespace', 'yourr-name-test'],
      env(),
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`✔ Updated api: ${image} (revision #2)\n`);
    const [head] = await logOf(bare);
    expect(head!.message).toContain(
      `Kipper-App: yourr-name-test/api\nKipper-Image: ${image}\nKipper-Source-Commit: abc123f\nKipper-Trigger: manual\n`,
    );
  });

  it('tells which flag an app takes when given the other one, writing nothing', async () => {
    const before = await headOf(bare);
    const image = await failure(
      ['app', 'update', 'yourr-name-prod/docs', '--image', 'registry.example.com/docs:1'],
      env(),
    );
    expect([image.exit, image.code]).toEqual([1, 'GIT_APP_IMAGE']);
    expect(image.stderr).toContain('--commit SHA');
    const commit = await failure(['app', 'update', 'yourr-name-test/api', '--commit', 'abc123f'], env());
    expect([commit.exit, commit.code]).toEqual([1, 'INVALID_IMAGE']);
    expect(commit.stderr).toContain('--image REF');
    expect(await headOf(bare)).toBe(before);
  });

  it('webhook status reports the state; enable and disable say what they did', async () => {
    const args = ['--project', 'yourr-name', '--environment', 'test'];
    const url = `${bridge.url}/api/v1/webhook/yourr-name-test/api`;
    const status = await runKip(['app', 'webhook', 'status', 'api', ...args], env());
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toBe(
      `Webhook for api: enabled\nWebhook URL: ${url}\nSecret token: ${tokenFor(TEST_SECRET_KEY, 'yourr-name-test/api', 1)}\n`,
    );

    const off = await runKip(['app', 'webhook', 'status', 'worker', ...args], env());
    expect([off.code, off.stdout]).toEqual([0, 'Webhook for worker: disabled\n']);

    const enabled = await runKip(['app', 'webhook', 'enable', 'worker', ...args], env());
    const token = tokenFor(TEST_SECRET_KEY, 'yourr-name-test/worker', 1);
    expect(enabled.stdout).toBe(
      `✔ Webhook enabled for worker\nWebhook URL: ${bridge.url}/api/v1/webhook/yourr-name-test/worker\nSecret token: ${token}\n`,
    );
    const disabled = await runKip(['app', 'webhook', 'disable', 'worker', ...args], env());
    expect(disabled.stdout).toBe('✔ Webhook disabled for worker\n');
  });

  it('keeps two spaces before COMMIT in the history of a long image', async () => {
    const long = `registry.example.com/docs:${'0123456789abcdef'.repeat(2)}01`;
    expect(long).toHaveLength(60);
    const res = await runKip(
      ['app', 'update', 'docs', '--image', long, '--commit', 'def456a', '--namespace', 'yourr-name-test'],
      env(),
    );
    expect(res.code, res.stderr).toBe(0);
    const table = (await runKip(['app', 'history', 'docs', '--namespace', 'yourr-name-test'], env())).stdout
      .trimEnd()
      .split('\n');
    // Kipper's own columns, then BY (who did it, issue #18).
    expect(table[0]).toMatch(new RegExp(`^ # {2}IMAGE${' '.repeat(long.length - 3)}COMMIT {3}TRIGGER {3}WHEN {2,}BY$`));
    expect(table[1]).toMatch(new RegExp(`^ 2 {2}${long} {2}def456a {2}manual {4}\\d+ sec ago \\(current\\) {2}\\S`));
    expect(table[2]).toMatch(
      /^ 1 {2}registry\.example\.com\/docs:2\.0\.0 {31}- {8}git {7}\d+ sec ago {2,}Third Party$/,
    );
  });
});
