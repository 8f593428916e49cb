import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { postWebhook, runKip, type BridgeProcess } from '../helpers/bridge-process.js';
import { eventually } from '../helpers/eventually.js';
import { cloneRepo, git } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #18, "CLI" and "Security findings": the sharp edges a new user and a hostile commit hit.

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../package.json', import.meta.url));
const API = 'yourr-name-test/api';
const API_FILE = 'apps/yourr-name-test/api/deployment.yaml';
const TEST_NS = ['--project', 'yourr-name', '--environment', 'test'];
const image = (tag: string) => `registry.example.com/api:${tag}`;
/** What a terminal acts on: C0 but the newline, DEL, C1. */
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
/** `ESC ] 0 ; … BEL` retitles the terminal; `ESC [ 31 m` turns the text red; 0x9b is a one-byte CSI. */
const HOSTILE = '\u001b]0;owned\u0007\u001b[31mINC-66 \u009b2J';

/** `kip … --json` that must fail: exit code, error code, message, and stderr (one line). */
async function failure(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = await runKip([...args, '--json'], env);
  const body = JSON.parse(res.stdout) as { error: string; code: string };
  expect(res.stderr.trim().split('\n')).toHaveLength(1);
  return { exit: res.code, code: body.code, error: body.error, stderr: res.stderr };
}

describe('kip --version, did you mean, flags a command does not take: no bridge needed', () => {
  it('kip --version (and -v) prints the package version, exit 0', async () => {
    const { version } = JSON.parse(await readFile(PACKAGE, 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const res = await runKip([flag], {});
      expect([res.code, res.stdout, res.stderr], flag).toEqual([0, `${version}\n`, '']);
    }
    expect((await runKip(['--help'], {})).stdout).toMatch(/^ {2}kip --version {2,}\S/m);
  });

  it('answers a typo of a command or a flag with "did you mean", USAGE and exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['app', 'histroy', 'api', ...TEST_NS], 'unknown command "histroy"; did you mean "history"?'],
      [['app', 'rolback'], 'unknown command "rolback"; did you mean "rollback"?'],
      [['ap', 'list'], 'unknown command "ap"; did you mean "app"?'],
      [['--verison'], 'unknown command "--verison"; did you mean "--version"?'],
      [['help', 'updte'], 'unknown command "updte"; did you mean "update"?'],
      [
        ['app', 'history', 'api', '--limt', '3', ...TEST_NS],
        'unknown option --limt; did you mean --limit? (see `kip help history`)',
      ],
      [
        ['app', 'update', 'api', '--imgae', 'x'],
        'unknown option --imgae; did you mean --image? (see `kip help update`)',
      ],
      // Nothing close: the list to choose from, as before.
      [
        ['app', 'nope'],
        'unknown command "app nope": kip app webhook|list|history|rollback|update|promote|lock|unlock|wait (see kip app --help)',
      ],
    ];
    for (const [args, error] of cases) {
      // No KIPPER_ADMIN_TOKEN and no data dir: a token error would say ADMIN_UNAUTHORIZED.
      const res = await failure(args);
      expect([res.exit, res.code, res.error], args.join(' ')).toEqual([2, 'USAGE', error]);
      expect(res.stderr).toBe(`Error: ${error}\n`);
    }
  });

  it('refuses any flag a command does not take, and numbers that are not positive whole numbers', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['app', 'history', 'api', '--revision', 'x', ...TEST_NS],
        'kip app history takes no --revision: it goes with kip app rollback|wait; see `kip help history`',
      ],
      [
        ['app', 'history', 'api', '--revision', '3', ...TEST_NS],
        'kip app history takes no --revision: it goes with kip app rollback|wait; see `kip help history`',
      ],
      [
        ['app', 'list', '--image', 'x'],
        'kip app list takes no --image: it goes with kip app update; see `kip help list`',
      ],
      [
        ['app', 'webhook', 'status', 'api', '--limit', '3', ...TEST_NS],
        'kip app webhook takes no --limit: it goes with kip app history; see `kip help webhook`',
      ],
      [
        ['app', 'promote', 'api', '--namespace', 'yourr-name-test', '--from', 'test', '--to', 'prod'],
        'kip app promote takes no --namespace: it goes with kip app webhook|list|history|rollback|wait|update|lock|unlock; see `kip help promote`',
      ],
      [
        ['app', 'history', 'api', '--limit', '0', ...TEST_NS],
        '--limit must be a positive whole number (how many revisions), got "0"',
      ],
      [
        ['app', 'history', 'api', '--limit', 'ten', ...TEST_NS],
        '--limit must be a positive whole number (how many revisions), got "ten"',
      ],
      [
        ['app', 'history', 'api', '--limit=-1', ...TEST_NS],
        '--limit must be a positive whole number (how many revisions), got "-1"',
      ],
      [
        ['app', 'history', 'api', '--limit', '2.5', ...TEST_NS],
        '--limit must be a positive whole number (how many revisions), got "2.5"',
      ],
      [
        ['app', 'rollback', 'api', '--revision', '1e3', ...TEST_NS],
        '--revision must be a revision number from `kip app history`, got "1e3"',
      ],
      [
        ['app', 'rollback', 'api', '--revision', '99999999999999999999', ...TEST_NS],
        '--revision must be a revision number from `kip app history`, got "99999999999999999999"',
      ],
      [
        ['app', 'wait', 'api', '--revision', '0', ...TEST_NS],
        '--revision must be a revision number from `kip app history`, got "0"',
      ],
    ];
    for (const [args, error] of cases) {
      const res = await failure(args);
      expect([res.exit, res.code, res.error], args.join(' ')).toEqual([2, 'USAGE', error]);
    }
  });

  it('refuses ns/app with --project/--environment or --namespace that name another namespace, naming both', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['app', 'history', 'yourr-name-test/api', '--project', 'yourr-name', '--environment', 'prod'],
        'yourr-name-test/api and --project yourr-name --environment prod name different namespaces (yourr-name-test, yourr-name-prod): give the namespace once',
      ],
      [
        ['app', 'rollback', 'yourr-name-test/api', '-n', 'yourr-name-prod'],
        'yourr-name-test/api and --namespace yourr-name-prod name different namespaces (yourr-name-test, yourr-name-prod): give the namespace once',
      ],
      [
        ['app', 'history', 'yourr-name-test/api', '-e', 'prod'],
        'yourr-name-test/api and --environment prod name different namespaces: give the namespace once',
      ],
      [
        ['app', 'history', 'api', '--namespace', 'yourr-name-test', '-p', 'yourr-name', '-e', 'prod'],
        '--namespace yourr-name-test and --project yourr-name --environment prod name different namespaces: give one of them',
      ],
      [
        ['app', 'list', '--namespace', 'yourr-name-test', '-p', 'other', '-e', 'test'],
        '--namespace yourr-name-test and --project other --environment test name different namespaces: give one of them',
      ],
      [
        ['app', 'history', 'yourr-name-test/api/x'],
        'name the app as app or namespace/app, got "yourr-name-test/api/x"',
      ],
    ];
    for (const [args, error] of cases) {
      const res = await failure(args);
      expect([res.exit, res.code, res.error], args.join(' ')).toEqual([2, 'USAGE', error]);
    }
  });

  it('prints control characters in what it echoes back as \\u escapes, never raw', async () => {
    const res = await runKip(['app', `x${HOSTILE}`], {});
    expect(res.code).toBe(2);
    expect(res.stderr).not.toMatch(CONTROL);
    expect(res.stderr).toBe(
      'Error: unknown command "app x\\u001b]0;owned\\u0007\\u001b[31mINC-66 \\u009b2J": kip app webhook|list|history|rollback|update|promote|lock|unlock|wait (see kip app --help)\n',
    );
  });
});

describe('kip app history against a real remote: --limit, BY, rollback to #N, hostile commits', () => {
  let server: GitServer;
  let bridge: BridgeProcess;
  const env = () => ({ KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const history = async (): Promise<HistoryAnswer> => {
    const res = await fetch(`${bridge.url}/api/v1/apps/${API}/history`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as HistoryAnswer;
  };
  const table = async (...args: string[]) => {
    const res = await runKip(['app', 'history', 'api', ...TEST_NS, ...args], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    return res.stdout.trimEnd().split('\n');
  };

  beforeAll(async () => {
    ({ server, bridge } = await startRemoteBridge(FIXTURE));
    for (const tag of ['a1', 'a2', 'a3', 'a4']) {
      const res = await postWebhook(
        bridge.url,
        API,
        { image: image(tag) },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) },
      );
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('--limit N shows the newest N revisions, in the table and in --json; without it, all of them', async () => {
    expect(await table()).toHaveLength(6);
    const two = await table('--limit', '2');
    expect(two).toHaveLength(3);
    expect(two.slice(1).map((l) => l.slice(0, 36))).toEqual([
      ` 5  ${image('a4').padEnd(32)}`,
      ` 4  ${image('a3').padEnd(32)}`,
    ]);
    expect(await table('--limit', '99')).toHaveLength(6);
    const json = await runKip(['app', 'history', 'api', ...TEST_NS, '--limit', '2', '--json'], env());
    const answer = JSON.parse(json.stdout) as HistoryAnswer;
    const full = await history();
    expect(answer).toEqual({ ...full, revisions: full.revisions.slice(0, 2) });
  });

  it('says who did each revision under BY, after WHEN: the actor, else the name of the author', async () => {
    const lines = await table();
    const by = lines[0]!.indexOf('BY');
    // Kipper's own columns where they were, BY after WHEN.
    expect(lines[0]).toMatch(/^ # {2}IMAGE {30}COMMIT {3}TRIGGER {3}WHEN {2,}BY$/);
    const revisions = (await history()).revisions;
    const expected = revisions.map((r) => r.actor ?? /^(.*?)\s*<[^>]*>$/.exec(r.author)?.[1] ?? r.author);
    expect(lines.slice(1).map((l) => l.slice(by))).toEqual(expected);
    // The seed: written by a person (the fixture's author), not by the bridge.
    expect(lines.at(-1)!.slice(by)).toBe('Third Party');
    expect(lines.at(-1)).toMatch(/^ 1 {2}registry\.example\.com\/api:seed {6}- {8}git {7}\d+ sec ago {2,}Third Party$/);
  });

  it('names the target of a rollback: "rollback to #2", as the console does', async () => {
    const res = await runKip(['app', 'rollback', 'api', '--revision', '2', ...TEST_NS], env());
    expect([res.code, res.stderr, res.stdout]).toEqual([0, '', `✔ Rolled back api to revision #2 (${image('a1')})\n`]);
    const lines = await table();
    expect(lines[0]).toMatch(/^ # {2}IMAGE {30}COMMIT {3}TRIGGER {9}WHEN {2,}BY$/);
    expect(lines[1]).toMatch(
      /^ 6 {2}registry\.example\.com\/api:a1 {8}- {8}rollback to #2 {2}\d+ sec ago \(current\) {2,}\S/,
    );
    expect(lines[2]).toMatch(/^ 5 {2}registry\.example\.com\/api:a4 {8}- {8}webhook {9}\d+ sec ago \(undone\) {2,}\S/);
    expect((await history()).revisions[0]).toMatchObject({ revision: 6, trigger: 'rollback', rolledBackTo: 2 });
  });

  it("escapes a human commit's ESC sequences in its reason and author: history --wide cannot rewrite the terminal", async () => {
    // Pushed around the bridge by a person, as anyone with push access to the config repo can.
    const clone = await cloneRepo(server.url('config.git'));
    const file = join(clone, API_FILE);
    await writeFile(file, (await readFile(file, 'utf8')).replace(/image: \S+/, `image: ${image('evil1')}`));
    const author = { GIT_AUTHOR_NAME: `Mal${HOSTILE}lory`, GIT_AUTHOR_EMAIL: 'mallory@example.com' };
    await git(['commit', '--quiet', '-am', `update api\n\nKipper-App: ${API}\nKipper-Reason: ${HOSTILE}`], {
      cwd: clone,
      env: author,
    });
    await git(['push', '--quiet', 'origin', 'HEAD:main'], { cwd: clone });
    const seen = await eventually('the bridge to see the pushed commit', async () => {
      const h = await history();
      return h.revisions[0]?.image === image('evil1') && h;
    });
    // The API's JSON carries the text as it is; only what kip prints is escaped.
    expect(seen.revisions[0]).toMatchObject({ reason: HOSTILE, trigger: 'git' });

    const res = await runKip(['app', 'history', 'api', '--wide', ...TEST_NS], env());
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(res.stdout).not.toMatch(CONTROL);
    const lines = res.stdout.trimEnd().split('\n');
    const escaped = '\\u001b]0;owned\\u0007\\u001b[31mINC-66 \\u009b2J';
    expect(lines[1]).toMatch(/^ 7 {2}registry\.example\.com\/api:evil1 {5}- {8}git {13}\d+ sec ago \(current\) {2,}\S/);
    expect(lines[1]!.endsWith(`  Mal${escaped}lory  ${escaped}`)).toBe(true);
    // Escaped before the columns were measured: REASON starts where its title does.
    expect(lines[1]!.indexOf(escaped, lines[0]!.indexOf('BY') + 10)).toBe(lines[0]!.indexOf('REASON'));

    // --json: the same JSON value, every control character a \u escape (C1 too, which JSON.stringify leaves raw).
    const json = await runKip(['app', 'history', 'api', '--json', ...TEST_NS], env());
    expect(json.stdout).not.toMatch(CONTROL);
    expect(JSON.parse(json.stdout)).toEqual(await history());
  });

  it('takes ns/app with --project/--environment or --namespace that agree', async () => {
    for (const args of [
      ['yourr-name-test/api', ...TEST_NS],
      ['yourr-name-test/api', '--namespace', 'yourr-name-test'],
      ['api', '--namespace', 'yourr-name-test', ...TEST_NS],
    ]) {
      const res = await runKip(['app', 'history', ...args, '--limit', '1'], env());
      expect([res.code, res.stderr], args.join(' ')).toEqual([0, '']);
      expect(res.stdout.split('\n')[1], args.join(' ')).toMatch(/^ 7 {2}registry\.example\.com\/api:evil1 /);
    }
  });
});
