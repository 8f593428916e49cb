import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { postWebhook, runKip, type BridgeProcess } from '../helpers/bridge-process.js';
import { git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const API = 'yourr-name-test/api';
const API_FILE = 'apps/yourr-name-test/api/deployment.yaml';
const TEST_NS = ['--project', 'yourr-name', '--environment', 'test'];
const USER = 'ana@example.com';
const REASON = 'INC-42: bad migration';
/** The history table's header: Kipper's own, byte for byte, then BY (who did it, issue #18). */
const HEADER = /^ # {2}IMAGE {30}COMMIT {3}TRIGGER {3}WHEN {2,}BY$/;

/** `kip … --json` that must fail: its exit code, error code and message, and stderr (one line). */
async function failure(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = await runKip([...args, '--json'], env);
  const body = JSON.parse(res.stdout) as { error: string; code: string };
  expect(res.stderr.trim().split('\n')).toHaveLength(1);
  return { exit: res.code, code: body.code, error: body.error, stderr: res.stderr };
}

/** The number of commits on the bare repo's main. */
async function commitCount(bare: string): Promise<number> {
  return Number((await git(['--git-dir', bare, 'rev-list', '--count', 'main'])).trim());
}

/** The files a commit of the bare repo changed, sorted. */
async function changedFiles(bare: string, commit: string): Promise<string[]> {
  const out = await git(['--git-dir', bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', commit]);
  return out.trim().split('\n').sort();
}

/** kipper.yaml's `locks:` at the remote's head. */
async function remoteLocks(
  bare: string,
): Promise<Record<string, { reason: string; by: string; at: string }> | undefined> {
  return (
    parse(await showFile(bare, 'main', 'kipper.yaml')) as {
      locks?: Record<string, { reason: string; by: string; at: string }>;
    }
  ).locks;
}

// Relative times tick while a test runs: "9 sec ago" may read "10 sec ago" a moment later.
const sameTime = (line: string) => line.replace(/\d+ (sec|min) ago/g, 'N ago');

// Issue "Locks and reasons": help and usage errors need no bridge, and come before any token.
describe('kip help and usage errors for locks and reasons', () => {
  it.each(['lock', 'unlock'])('kip app %s --help prints its usage, flags and one example, exit 0', async (name) => {
    const res = await runKip(['app', name, '--help'], {});
    expect([res.code, res.stderr]).toEqual([0, '']);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^usage: kip app ${name} <app> (--reason TEXT|\\[--reason TEXT\\]) \\[--project P`),
    );
    expect(lines).toContain('flags:');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}--reason TEXT {2,}\S/)]));
    expect(lines.slice(-2)).toEqual([
      'example:',
      `  kip app ${name} api --reason "${name === 'lock' ? REASON : 'INC-42 fixed'}" --project demo --environment test`,
    ]);
    for (const args of [
      ['help', name],
      ['help', 'app', name],
      ['app', 'help', name],
    ]) {
      const again = await runKip(args, {});
      expect([again.code, again.stdout], args.join(' ')).toEqual([0, res.stdout]);
    }
  });

  it('names --reason, --lock and --wide in the help of the commands that take them, and in the command lists', async () => {
    const help = async (name: string) => (await runKip(['help', name], {})).stdout;
    for (const name of ['rollback', 'update', 'promote'])
      expect(await help(name)).toMatch(/^ {2}--reason TEXT {2,}\S/m);
    expect(await help('rollback')).toMatch(/^ {2}--lock {2,}.*needs --reason/m);
    expect(await help('rollback')).toMatch(
      /^ {2}kip app rollback api --lock --reason "INC-42: bad migration" --project demo --environment test$/m,
    );
    expect(await help('history')).toMatch(/^ {2}--wide {2,}.*REASON/m);
    const all = (await runKip(['--help'], {})).stdout;
    expect(all).toMatch(/^ {2}kip app lock <app> --reason TEXT {2,}\S/m);
    expect(all).toMatch(/^ {2}kip app unlock <app> {2,}\S/m);
    const app = (await runKip(['app', '--help'], {})).stdout;
    expect(app).toMatch(/^ {2}lock <app> --reason TEXT {2,}\S/m);
    expect(app).toMatch(/^ {2}unlock <app> {2,}\S/m);
  });

  it('refuses a lock without a reason, --lock without --reason, and the new flags where they mean nothing: USAGE, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['app', 'lock', 'api', ...TEST_NS],
        'say why the app is locked: kip app lock api --reason "INC-42: bad migration"',
      ],
      [
        ['app', 'lock', 'api', '--reason', ' ', ...TEST_NS],
        '--reason needs a text: say why, e.g. --reason "INC-42: bad migration"',
      ],
      [
        ['app', 'lock', 'api', '--reason'],
        '--reason needs a value (one starting with - as --reason=VALUE); see `kip help lock`',
      ],
      [
        ['app', 'rollback', 'api', '--lock', ...TEST_NS],
        '--lock needs --reason TEXT: say why, e.g. kip app rollback api --lock --reason "INC-42: bad migration"',
      ],
      [
        ['app', 'update', 'api', '--image', 'registry.example.com/api:1', '--lock', ...TEST_NS],
        'kip app update takes no --lock: it goes with kip app rollback; see `kip help update`',
      ],
      [
        ['app', 'history', 'api', '--reason', 'why', ...TEST_NS],
        'kip app history takes no --reason: it goes with kip app rollback|update|promote|lock|unlock; see `kip help history`',
      ],
      [['app', 'list', '--wide'], 'kip app list takes no --wide: it goes with kip app history; see `kip help list`'],
      // The table of who takes what is the help's: a flag added to one command is refused by the others.
      [
        ['app', 'rollback', 'api', '--timeout', '5m', ...TEST_NS],
        'kip app rollback takes no --timeout: it goes with kip app wait; see `kip help rollback`',
      ],
      [
        ['app', 'lock', '--reason', REASON],
        'name the app, e.g. `kip app history api --project yourr-name --environment test`',
      ],
    ];
    for (const [args, error] of cases) {
      // No KIPPER_ADMIN_TOKEN and no data dir: a token error would say ADMIN_UNAUTHORIZED.
      const res = await failure(args);
      expect([res.exit, res.code, res.error], args.join(' ')).toEqual([2, 'USAGE', error]);
      expect(res.stderr).toBe(`Error: ${error}\n`);
    }
  });
});

describe('kip app lock, unlock, rollback --lock and --reason against a real remote', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    KIPPER_URL: bridge.url,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KIPPER_USER: USER,
    ...extra,
  });
  const ciDeploy = (image: string) =>
    postWebhook(bridge.url, API, { image }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) });
  const adminGet = async (path: string) => {
    const res = await fetch(`${bridge.url}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as unknown;
  };

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(FIXTURE));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('kip app lock commits the lock to kipper.yaml locks: and prints one line; again, it says so and writes nothing', async () => {
    const before = await commitCount(bare);
    const res = await runKip(['app', 'lock', 'api', '--reason', REASON, ...TEST_NS], env());
    expect([res.code, res.stderr, res.stdout]).toEqual([0, '', `✔ Locked api: ${REASON}\n`]);
    expect(await commitCount(bare)).toBe(before + 1);
    const head = await headOf(bare);
    expect(await changedFiles(bare, head)).toEqual(['kipper.yaml']);
    expect(await remoteLocks(bare)).toEqual({
      [API]: { reason: REASON, by: USER, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    });
    expect((await logOf(bare, 'main', 1))[0]!.message).toContain(`\nKipper-Reason: ${REASON}\n`);

    const again = await runKip(['app', 'lock', `${API}`, '--reason', REASON], env());
    expect([again.code, again.stdout]).toEqual([0, `✔ api is already locked: ${REASON}\n`]);
    expect(await headOf(bare)).toBe(head);
  });

  it("a locked app's webhook answers 423 APP_LOCKED with the lock, and the remote head stays", async () => {
    const head = await headOf(bare);
    const res = await ciDeploy('registry.example.com/api:ci1');
    expect(res.status).toBe(423);
    expect(res.json).toMatchObject({ code: 'APP_LOCKED', lock: { reason: REASON, by: USER } });
    expect(await headOf(bare)).toBe(head);
  });

  it('kip app list adds a LOCKED column with the reason; --json is the API JSON', async () => {
    const res = await runKip(['app', 'list', '--namespace', 'yourr-name-test'], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(res.stdout).toBe(
      [
        ' APP                     SOURCE  IMAGE                            REVISION  WEBHOOK   LOCKED',
        ` yourr-name-test/api     image   registry.example.com/api:seed    1         enabled   ${REASON}`,
        ' yourr-name-test/worker  image   -                                -         disabled  -',
        ' yourr-name-test/docs    image   registry.example.com/docs:2.0.0  1         disabled  -',
        '',
      ].join('\n'),
    );
    const json = await runKip(['app', 'list', '--json'], env());
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await adminGet('/api/v1/apps'));
    expect(json.stdout).toBe(`${JSON.stringify(JSON.parse(json.stdout), null, 2)}\n`);
  });

  it('kip app history says who locked the app, when and why, on one line before the table', async () => {
    const res = await runKip(['app', 'history', 'api', ...TEST_NS], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Locked by ${USER.replace('.', '\\.')} \\d+ sec ago: ${REASON}$`));
    expect(lines[1]).toMatch(HEADER);
    expect(lines[2]).toMatch(
      /^ 1 {2}registry\.example\.com\/api:seed {6}- {8}git {7}\d+ sec ago \(current\) {2}Third Party$/,
    );
    expect(lines).toHaveLength(3);
    const json = JSON.parse((await runKip(['app', 'history', 'api', '--json', ...TEST_NS], env())).stdout) as {
      lock: unknown;
    };
    expect(json.lock).toEqual({ reason: REASON, by: USER, at: expect.any(String) });
  });

  it('kip app unlock gives kipper.yaml back byte for byte and the webhook deploys again; a second unlock writes nothing', async () => {
    const res = await runKip(['app', 'unlock', 'api', '--reason', 'INC-42 fixed', ...TEST_NS], env());
    expect([res.code, res.stderr, res.stdout]).toEqual([0, '', '✔ Unlocked api\n']);
    expect(await showFile(bare, 'main', 'kipper.yaml')).toBe(await readFile(join(FIXTURE, 'kipper.yaml'), 'utf8'));
    expect((await logOf(bare, 'main', 1))[0]!.message).toContain('\nKipper-Reason: INC-42 fixed\n');

    const head = await headOf(bare);
    const again = await runKip(['app', 'unlock', 'api', ...TEST_NS], env());
    expect([again.code, again.stdout]).toEqual([0, '✔ api is not locked\n']);
    expect(await headOf(bare)).toBe(head);

    // No more LOCKED column: the table of before locks, byte for byte.
    const list = await runKip(['app', 'list', '--namespace', 'yourr-name-test'], env());
    expect(list.stdout.split('\n')[0]).toBe(
      ' APP                     SOURCE  IMAGE                            REVISION  WEBHOOK',
    );

    const deploy = await ciDeploy('registry.example.com/api:ci1');
    expect([deploy.status, deploy.json.status, deploy.json.revision]).toEqual([200, 'deployed', 2]);
    expect(await headOf(bare)).toBe(deploy.json.configCommit);
  });

  it('kip app lock --json prints the API answer: the lock and its commit, then configCommit null when nothing changed', async () => {
    const res = await runKip(
      ['app', 'lock', 'worker', '--reason', 'INC-50', '--json', '--namespace', 'yourr-name-prod'],
      env(),
    );
    expect([res.code, res.stderr]).toEqual([0, '']);
    const body = JSON.parse(res.stdout) as unknown;
    expect(res.stdout).toBe(`${JSON.stringify(body, null, 2)}\n`);
    expect(body).toEqual({
      app: 'yourr-name-prod/worker',
      locked: true,
      lock: { reason: 'INC-50', by: USER, at: expect.any(String) },
      configCommit: await headOf(bare),
    });
    const again = JSON.parse(
      (await runKip(['app', 'lock', 'yourr-name-prod/worker', '--reason', 'INC-50', '--json'], env())).stdout,
    ) as unknown;
    expect(again).toMatchObject({ locked: true, configCommit: null });
    const unlock = JSON.parse(
      (await runKip(['app', 'unlock', 'yourr-name-prod/worker', '--json'], env())).stdout,
    ) as unknown;
    expect(unlock).toEqual({
      app: 'yourr-name-prod/worker',
      locked: false,
      lock: null,
      configCommit: await headOf(bare),
    });
  });

  it('names the git user, else the OS user, as who locked, when KIPPER_USER is not set', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'kip-cwd-'));
    const gitconfig = join(cwd, 'gitconfig');
    await writeFile(gitconfig, '[user]\n\temail = git.user@example.com\n');
    const lockBy = async (gitEnv: NodeJS.ProcessEnv) => {
      const res = await runKip(
        ['app', 'lock', 'yourr-name-prod/worker', '--reason', 'who', '--json'],
        env({ KIPPER_USER: undefined, GIT_CONFIG_NOSYSTEM: '1', ...gitEnv }),
        { cwd },
      );
      expect(res.code, res.stderr).toBe(0);
      await runKip(['app', 'unlock', 'yourr-name-prod/worker'], env(), { cwd });
      return (JSON.parse(res.stdout) as { lock: { by: string } }).lock.by;
    };
    expect(await lockBy({ GIT_CONFIG_GLOBAL: gitconfig })).toBe('git.user@example.com');
    expect(await lockBy({ GIT_CONFIG_GLOBAL: '/dev/null' })).toBe(userInfo().username);
  });

  it('refuses a reason of two lines (the bridge says why, exit 1) and writes nothing', async () => {
    const head = await headOf(bare);
    const res = await failure(['app', 'lock', 'api', '--reason', 'one\ntwo', ...TEST_NS], env());
    expect([res.exit, res.code]).toEqual([1, 'INVALID_BODY']);
    expect(res.stderr).toMatch(/^Error: reason: must be one line/);
    expect(await headOf(bare)).toBe(head);
  });

  it('kip app rollback --lock --reason rolls back and locks in ONE commit, the reason in its body and a Kipper-Reason trailer', async () => {
    const reason = 'INC-43: ci1 crashes on start';
    const before = await commitCount(bare);
    const res = await runKip(['app', 'rollback', 'api', '--lock', '--reason', reason, ...TEST_NS], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(res.stdout).toBe(
      `✔ Rolled back api to revision #1 (registry.example.com/api:seed)\n✔ Locked api: ${reason}\n`,
    );
    expect(await commitCount(bare)).toBe(before + 1);
    const [head] = await logOf(bare, 'main', 1);
    expect(await changedFiles(bare, head!.oid)).toEqual([API_FILE, 'kipper.yaml']);
    expect(await showFile(bare, 'main', API_FILE)).toContain(
      'image: registry.example.com/api:seed # deployed by kipper',
    );
    expect(await remoteLocks(bare)).toEqual({ [API]: { reason, by: USER, at: expect.any(String) } });
    const paragraphs = head!.message.trimEnd().split('\n\n');
    expect(paragraphs[0]).toBe(`deploy ${API}: registry.example.com/api:seed`);
    expect(paragraphs[1]).toBe(reason);
    expect(paragraphs.at(-1)!.split('\n')).toEqual(
      expect.arrayContaining(['Kipper-Trigger: rollback', `Kipper-Reason: ${reason}`]),
    );

    const blocked = await ciDeploy('registry.example.com/api:ci2');
    expect([blocked.status, blocked.json.code]).toEqual([423, 'APP_LOCKED']);
    expect(await headOf(bare)).toBe(head!.oid);
    expect((await runKip(['app', 'unlock', 'api', ...TEST_NS], env())).stdout).toBe('✔ Unlocked api\n');
  });

  it('rollback --reason without --lock only explains: one commit with the reason, no lock', async () => {
    const res = await runKip(
      ['app', 'rollback', 'api', '--revision', '2', '--reason', 'INC-43 fixed', ...TEST_NS],
      env(),
    );
    expect([res.code, res.stderr, res.stdout]).toEqual([
      0,
      '',
      '✔ Rolled back api to revision #2 (registry.example.com/api:ci1)\n',
    ]);
    expect((await logOf(bare, 'main', 1))[0]!.message).toContain('\nKipper-Reason: INC-43 fixed\n');
    expect(await remoteLocks(bare)).toBeUndefined();
  });

  it('update --reason and promote --reason show in history --wide under REASON, last, and as "reason" in --json', async () => {
    const image = 'registry.example.com/api:hotfix1';
    const update = await runKip(
      ['app', 'update', 'api', '--image', image, '--reason', 'INC-44: hotfix', ...TEST_NS],
      env(),
    );
    expect([update.code, update.stderr, update.stdout]).toEqual([0, '', `✔ Updated api: ${image} (revision #5)\n`]);
    const promote = await runKip(
      [
        'app',
        'promote',
        'api',
        '--project',
        'yourr-name',
        '--from',
        'test',
        '--to',
        'prod',
        '--reason',
        'INC-44: ship it',
      ],
      env(),
    );
    expect([promote.code, promote.stderr, promote.stdout]).toEqual([
      0,
      '',
      `✔ Promoted api from test to prod (${image}, revision #2)\n`,
    ]);

    const wide = (await runKip(['app', 'history', 'api', '--wide', ...TEST_NS], env())).stdout.trimEnd().split('\n');
    const at = wide[0]!.indexOf('REASON');
    // TRIGGER is as wide as `rollback to #2` (issue #18: a rollback names its target).
    expect(wide[0]).toMatch(/^ # {2}IMAGE {30}COMMIT {3}TRIGGER {9}WHEN {2,}BY {2,}REASON$/);
    // Every row's reason starts under REASON, two spaces or more after WHEN.
    expect(wide.slice(1).map((l) => [l.slice(at), l.slice(at - 2, at)])).toEqual([
      ['INC-44: hotfix', '  '],
      ['INC-43 fixed', '  '],
      ['INC-43: ci1 crashes on start', '  '],
      ['-', '  '],
      ['-', '  '],
    ]);
    expect(wide[1]).toMatch(
      /^ 5 {2}registry\.example\.com\/api:hotfix1 {3}- {8}manual {10}\d+ sec ago \(current\) {2,}\S.* {2,}INC-44: hotfix$/,
    );
    expect(wide[2]).toMatch(
      /^ 4 {2}registry\.example\.com\/api:ci1 {7}- {8}rollback to #2 {2}\d+ sec ago {2,}\S.* {2,}INC-43 fixed$/,
    );
    expect(wide[3]).toMatch(
      /^ 3 {2}registry\.example\.com\/api:seed {6}- {8}rollback to #1 {2}\d+ sec ago \(undone\) {2,}\S/,
    );
    // Without --wide: the same table without the column, byte for byte as before reasons.
    const narrow = (await runKip(['app', 'history', 'api', ...TEST_NS], env())).stdout.trimEnd().split('\n');
    expect(narrow[0]).toMatch(/^ # {2}IMAGE {30}COMMIT {3}TRIGGER {9}WHEN {2,}BY$/);
    expect(narrow.map(sameTime)).toEqual(wide.map((l) => sameTime(l.slice(0, at).trimEnd())));

    const test = JSON.parse((await runKip(['app', 'history', 'api', '--json', ...TEST_NS], env())).stdout) as {
      revisions: Array<{ reason: string | null }>;
      lock: unknown;
    };
    expect(test.revisions.map((r) => r.reason)).toEqual([
      'INC-44: hotfix',
      'INC-43 fixed',
      'INC-43: ci1 crashes on start',
      null,
      null,
    ]);
    expect(test.lock).toBeNull();
    const prod = JSON.parse((await runKip(['app', 'history', 'yourr-name-prod/api', '--json'], env())).stdout) as {
      revisions: Array<{ reason: string | null; trigger: string }>;
    };
    expect(prod.revisions[0]).toMatchObject({ reason: 'INC-44: ship it', trigger: 'promotion' });
    const prodWide = (await runKip(['app', 'history', 'yourr-name-prod/api', '--wide'], env())).stdout
      .trimEnd()
      .split('\n');
    expect(prodWide[1]).toMatch(/ {2}INC-44: ship it$/);
    expect(prodWide[2]).toMatch(/ago {2,}Third Party {2,}-$/);
  });
});
