import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { fsck, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #19 item 1: ssh:// and scp-like remotes with a deploy key, the host key checked
// against KIPPER_GIT_KNOWN_HOSTS only, and the write path's guarantees kept over SSH.

const apps = appIds(30);

function sshEnv(server: SshServer, url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    KIPPER_REPO_URL: url,
    KIPPER_GIT_SSH_KEY: server.clientKey,
    KIPPER_GIT_KNOWN_HOSTS: server.knownHosts,
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...extra,
  };
}

function deploy(bridge: BridgeProcess, app: string, tag: string) {
  const name = app.split('/')[1]!;
  return postWebhook(
    bridge.url,
    app,
    { image: `registry.example.com/${name}:${tag}` },
    { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
  );
}

/** Native git over the same sshd, with the client key: the third party. */
function nativeSshEnv(server: SshServer): Record<string, string> {
  const ssh = [
    'ssh',
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${server.knownHosts}`,
    '-o',
    'IdentitiesOnly=yes',
    '-i',
    server.clientKey,
  ];
  return { GIT_SSH_COMMAND: ssh.join(' ') };
}

/** Ref updates of main on the server so far (one per push that landed). */
async function refUpdates(bare: string): Promise<number> {
  return (await readFile(join(bare, 'logs', 'refs', 'heads', 'main'), 'utf8')).trim().split('\n').length;
}

describe('a config repo over ssh://', () => {
  let server: SshServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    server = await startSshServer();
    bare = await createConfigRepo(server.root, 'config.git', apps.length);
    // The server's reflog counts the pushes that landed.
    await git(['--git-dir', bare, 'config', 'core.logAllRefUpdates', 'always']);
    bridge = await startBridge(sshEnv(server, server.url('config.git'), { KIPPER_LOG_LEVEL: 'info' }));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('deploys: one commit with the trailers in the server’s repo, the edit and nothing else', async () => {
    const app = apps[0]!;
    const res = await deploy(bridge, app, 'ssh-1');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'deployed', app, image: 'registry.example.com/app-0000:ssh-1' });
    expect(await headOf(bare)).toBe(res.json.configCommit);
    const [last] = await logOf(bare);
    expect(last!.message).toContain(
      'Kipper-App: team-test/app-0000\nKipper-Image: registry.example.com/app-0000:ssh-1\n',
    );
    expect(last!.message).toContain('Kipper-Trigger: webhook');
    const file = await showFile(bare, 'main', 'apps/team-test/app-0000/deployment.yaml');
    expect(file).toContain('image: registry.example.com/app-0000:ssh-1 # set by kipper');
    expect(file).toContain('image: docker.io/envoyproxy/envoy:v1.30.1');
    await fsck(bare);
  });

  it('groups a burst of concurrent webhooks into few pushes, every deploy its own commit', async () => {
    const before = await refUpdates(bare);
    const connections = () => server.output().match(/Accepted publickey/g)?.length ?? 0;
    const connectionsBefore = connections();
    const answers = await Promise.all(apps.map((app, i) => deploy(bridge, app, `burst-${i}`)));
    expect(answers.map((a) => a.status)).toEqual(apps.map(() => 200));
    expect(answers.every((a) => a.json.status === 'deployed')).toBe(true);
    const pushes = (await refUpdates(bare)) - before;
    expect(pushes).toBeGreaterThanOrEqual(1);
    // Group commit: 30 deploys ride in a handful of pushes, not one each.
    expect(pushes).toBeLessThanOrEqual(apps.length / 3);
    // The pushes ride the bridge's one shared ssh connection: no new key exchange each.
    expect(connections() - connectionsBefore).toBe(0);
    const log = await logOf(bare, 'main', 100);
    for (const [i, app] of apps.entries()) {
      expect(
        log.filter((c) => c.message.includes(`Kipper-Image: registry.example.com/${app.split('/')[1]}:burst-${i}\n`)),
      ).toHaveLength(1);
    }
    await fsck(bare);
  });

  it('loses the compare-and-swap to a native git push over the same sshd, fetches, rebuilds and lands, nothing lost', async () => {
    // The bridge's push waits in pre-receive (the ref is not locked yet) until the third
    // party's push has moved the branch: the bridge's ref update then finds another old id.
    const gate = join(server.root, 'gate');
    const waiting = join(server.root, 'bridge-push-waiting');
    const hook = join(bare, 'hooks', 'pre-receive');
    await writeFile(
      hook,
      `#!/bin/sh
read old new ref
if [ "$(git log -1 --format=%an "$new")" = Kipper ] && [ ! -e '${gate}' ]; then
  touch '${waiting}'
  i=0; while [ ! -e '${gate}' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
fi
exit 0
`,
    );
    await chmod(hook, 0o755);
    try {
      const clone = await mkdtemp(join(tmpdir(), 'kip-ssh-third-party-'));
      const env = nativeSshEnv(server);
      await git(['clone', '--quiet', server.url('config.git'), clone], { env });
      const answer = deploy(bridge, apps[1]!, 'raced');
      await eventually('the bridge’s push waiting in pre-receive', () =>
        readFile(waiting).then(
          () => true,
          () => false,
        ),
      );
      await writeFile(join(clone, 'NOTES.md'), 'a human edit\n');
      await git(['-C', clone, 'add', 'NOTES.md']);
      await git(['-C', clone, 'commit', '--quiet', '-m', 'human note']);
      await git(['-C', clone, 'push', '--quiet', 'origin', 'HEAD:main'], { env });
      const human = (await git(['-C', clone, 'rev-parse', 'HEAD'])).trim();
      await writeFile(gate, '');
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.json.status).toBe('deployed');
      // On top of the human's commit, which is kept.
      const log = await logOf(bare);
      expect(log[0]!.oid).toBe(res.json.configCommit);
      expect(log[0]!.parents).toEqual([human]);
      expect(await showFile(bare, 'main', 'NOTES.md')).toBe('a human edit\n');
      const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
      expect(metrics).toMatch(/^kipper_push_attempts_total\{result="rejected",repo="default"\} [1-9]\d*$/m);
    } finally {
      await rm(hook, { force: true });
    }
  });

  it('answers 502 PUSH_DECLINED with the pre-receive hook’s lines, writing nothing', async () => {
    const hook = join(bare, 'hooks', 'pre-receive');
    await writeFile(hook, `#!/bin/sh\necho 'POLICY-REJECT: frozen for INC-7' >&2\nexit 1\n`);
    await chmod(hook, 0o755);
    try {
      const before = await headOf(bare);
      const res = await deploy(bridge, apps[2]!, 'declined');
      expect(res.status).toBe(502);
      expect(res.json.code).toBe('PUSH_DECLINED');
      expect(res.json.remote).toBe('POLICY-REJECT: frozen for INC-7');
      expect(String(res.json.error)).toContain('pre-receive hook declined');
      expect(await headOf(bare)).toBe(before);
    } finally {
      await rm(hook, { force: true });
    }
  });

  it('never puts the key or its path in its output', () => {
    const out = bridge.output();
    expect(out).not.toContain(server.clientKey);
    expect(out).not.toContain('PRIVATE KEY');
  });
});

describe('a deploy whose push over ssh outlives its deadline', () => {
  let server: SshServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    server = await startSshServer();
    bare = await createConfigRepo(server.root, 'config.git', 2);
    bridge = await startBridge(sshEnv(server, server.url('config.git'), { KIPPER_DEPLOY_TIMEOUT: '2' }));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('answers 503 at the deadline (the ssh push is cut off), and a retry never makes a second commit', async () => {
    const gate = join(server.root, 'gate');
    const hook = join(bare, 'hooks', 'pre-receive');
    await writeFile(
      hook,
      `#!/bin/sh\ni=0; while [ ! -e '${gate}' ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done\nexit 0\n`,
    );
    await chmod(hook, 0o755);
    const started = performance.now();
    const res = await deploy(bridge, apps[0]!, 'slow');
    expect(res.status).toBe(503);
    // The hook holds the push for 15 s: only the deadline answers this early.
    expect(performance.now() - started).toBeLessThan(8_000);
    await writeFile(gate, '');
    await rm(hook);
    // As CI retries a 503: the cut-off push may still be landing on the server (its hook
    // runs on after the gate opens), so a retry within the 2 s deadline may meet it busy.
    let retry = await deploy(bridge, apps[0]!, 'slow');
    for (let i = 0; i < 5 && retry.status === 503; i++) retry = await deploy(bridge, apps[0]!, 'slow');
    expect(retry.status).toBe(200);
    expect(['deployed', 'unchanged']).toContain(retry.json.status);
    const log = await logOf(bare);
    expect(log.filter((c) => c.message.includes('Kipper-Image: registry.example.com/app-0000:slow\n'))).toHaveLength(1);
  });
});

describe('a config repo at a scp-like user@host:path', () => {
  let server: SshServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    // scp-like URLs have no port: sshd on port 22 of a loopback address of its own.
    server = await startSshServer({
      host: `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}`,
      port: 22,
    });
    bare = await createConfigRepo(server.root, 'config.git', 3);
    bridge = await startBridge(sshEnv(server, server.scpUrl('config.git')));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('deploys with the host named bare in known_hosts', async () => {
    expect(server.scpUrl('config.git')).toMatch(/^[a-z_][a-z0-9_-]*@127\.\d+\.\d+\.\d+:\/.*config\.git$/);
    const res = await deploy(bridge, apps[0]!, 'scp-1');
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('deployed');
    expect(await headOf(bare)).toBe(res.json.configCommit);
  });
});

describe('SSH credentials that do not fit', () => {
  let server: SshServer;

  beforeAll(async () => {
    server = await startSshServer();
    await createConfigRepo(server.root, 'config.git', 1);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stops at startup (exit 1) when the host is not in known_hosts, naming the host and KIPPER_GIT_KNOWN_HOSTS', async () => {
    const other = join(server.root, 'other_known_hosts');
    // A known_hosts file for another host (and the same host on another port).
    const entry = (await readFile(server.knownHosts, 'utf8')).split(' ').slice(1).join(' ');
    await writeFile(other, `git.example.com ${entry}127.0.0.1 ${entry}`);
    const res = await runKip(
      ['serve'],
      { ...sshEnv(server, server.url('config.git'), { KIPPER_GIT_KNOWN_HOSTS: other }), KIPPER_PORT: '0' },
      { timeoutMs: 20_000 },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`[127.0.0.1]:${server.port}`);
    expect(res.stderr).toContain('KIPPER_GIT_KNOWN_HOSTS');
    expect(res.stdout).not.toMatch(/listening on/);
    // Nothing reached the server: ssh was never run.
    expect(server.output()).not.toMatch(/Accepted publickey|Connection from/);
  });

  it('refuses a host whose key differs from the one in known_hosts (exit 1, naming the host and the variable)', async () => {
    const wrong = join(server.root, 'wrong_known_hosts');
    // The host named with another key: ssh must refuse it, never replace it.
    const [type, key] = (await readFile(`${server.strangerKey}.pub`, 'utf8')).trim().split(/\s+/);
    await writeFile(wrong, `[127.0.0.1]:${server.port} ${type} ${key}\n`);
    const res = await runKip(
      ['serve'],
      { ...sshEnv(server, server.url('config.git'), { KIPPER_GIT_KNOWN_HOSTS: wrong }), KIPPER_PORT: '0' },
      { timeoutMs: 30_000 },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`the host key of [127.0.0.1]:${server.port} does not match KIPPER_GIT_KNOWN_HOSTS`);
    expect(await readFile(wrong, 'utf8')).toBe(`[127.0.0.1]:${server.port} ${type} ${key}\n`);
  });

  it('refuses an SSH URL without a key or known_hosts, and an invalid one, before anything runs', async () => {
    const noKey = await runKip(
      ['serve'],
      { KIPPER_REPO_URL: server.url('config.git'), KIPPER_PORT: '0' },
      { timeoutMs: 20_000 },
    );
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('KIPPER_GIT_SSH_KEY: required with an SSH KIPPER_REPO_URL');
    expect(noKey.stderr).toContain('KIPPER_GIT_KNOWN_HOSTS: required');
    const bad = await runKip(
      ['serve'],
      { ...sshEnv(server, 'ssh://-oProxyCommand=id/repo.git'), KIPPER_PORT: '0' },
      { timeoutMs: 20_000 },
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('KIPPER_REPO_URL: must be an http:// or https:// URL, ssh://');
    const notKey = await runKip(
      ['serve'],
      { ...sshEnv(server, server.url('config.git'), { KIPPER_GIT_SSH_KEY: server.knownHosts }), KIPPER_PORT: '0' },
      { timeoutMs: 20_000 },
    );
    expect(notKey.code).toBe(1);
    expect(notKey.stderr).toContain('KIPPER_GIT_SSH_KEY is not a private key file');
  });

  it('says the server refused the key, and shows no key material, with a key the server does not know', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kipper-data-'));
    const res = await runKip(
      ['serve'],
      {
        ...sshEnv(server, server.url('config.git'), { KIPPER_GIT_SSH_KEY: server.strangerKey }),
        KIPPER_PORT: '0',
        KIPPER_DATA_DIR: dataDir,
      },
      { timeoutMs: 30_000 },
    );
    const output = res.stdout + res.stderr;
    expect(output).toContain('refused the SSH key: check KIPPER_GIT_SSH_KEY');
    const key = await readFile(server.strangerKey, 'utf8');
    for (const line of key.split('\n').filter((l) => l.length > 20)) expect(output).not.toContain(line);
    expect(output).not.toContain(server.strangerKey);
    expect(res.code).toBe(1);
  });
});

// Issue #19 item 3: an entry of KIPPER_REPOS_FILE takes the same deploy key (`auth.ssh`).
describe('a repos-file entry over SSH', () => {
  let server: SshServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    server = await startSshServer();
    bare = await createConfigRepo(server.root, 'config.git', 1);
    const dir = await mkdtemp(join(tmpdir(), 'kip-ssh-repos-'));
    const reposFile = join(dir, 'repos.yaml');
    await writeFile(
      reposFile,
      `repos:\n  - name: infra\n    url: ${server.url('config.git')}\n    auth:\n      ssh: { key: ${server.clientKey}, knownHosts: ${server.knownHosts} }\n`,
    );
    bridge = await startBridge({
      KIPPER_REPOS_FILE: reposFile,
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('deploys over the entry’s SSH key, and names the repo', async () => {
    const res = await deploy(bridge, apps[0]!, 'repos-file');
    expect(res.status).toBe(200);
    expect(await headOf(bare)).toBe(res.json.configCommit);
    const list = JSON.parse(
      (await runKip(['app', 'list', '--json'], { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN }))
        .stdout,
    ) as {
      apps: Array<{ app: string; repo: string }>;
    };
    expect(list.apps.find((a) => a.app === apps[0])?.repo).toBe('infra');
  });
});
