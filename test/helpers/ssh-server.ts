/**
 * A real OpenSSH server for tests: `/usr/sbin/sshd -D -e` on a loopback address with its
 * own generated host key, letting in one generated client key, serving bare repos from a
 * temp dir through the server's own git-receive-pack / git-upload-pack. Installs
 * `openssh-server` with apt-get when sshd is missing (as test/setup/chromium.ts does for
 * Chromium), so `npm test` is all it takes.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
const INSTALL_SSHD = 'apt-get update -qq && apt-get install -y -qq openssh-server';

export interface SshServer {
  /** Directory holding the served bare repos. */
  readonly root: string;
  readonly host: string;
  readonly port: number;
  /** `ssh://user@host:port/<root>/<repo>` (an absolute path on the server). */
  url(repo: string): string;
  /** The scp-like `user@host:<root>/<repo>` (port 22 only: scp-like URLs have no port). */
  scpUrl(repo: string): string;
  /** The client's private key (authorised) and a known_hosts file naming this server. */
  readonly clientKey: string;
  readonly knownHosts: string;
  /** A private key the server does not know. */
  readonly strangerKey: string;
  /** The server's own log (sshd -e). */
  output(): string;
  close(): Promise<void>;
}

export interface SshServerOptions {
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default: a free one). */
  port?: number;
}

/** Installs openssh-server when sshd is missing; throws with the command to run when it cannot. */
export function ensureSshd(): void {
  if (existsSync(SSHD)) return;
  const root = process.getuid?.() === 0;
  const aptGet = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !aptGet)
    throw new Error(`The SSH tests need ${SSHD}: run \`${INSTALL_SSHD}\` as root, then npm test again.`);
  process.stdout.write(`Installing OpenSSH's server for the SSH tests (${INSTALL_SSHD})…\n`);
  const install = spawnSync('sh', ['-c', `${INSTALL_SSHD} >/dev/null`], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (install.status !== 0 || !existsSync(SSHD))
    throw new Error(`Installing openssh-server failed: run \`${INSTALL_SSHD}\` by hand.`);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Generates an ed25519 key pair without a passphrase at `path` (and `path.pub`). */
export async function generateKey(path: string, comment = 'kipper-test'): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

/** Starts sshd and resolves once it listens. */
export async function startSshServer(opts: SshServerOptions = {}): Promise<SshServer> {
  ensureSshd();
  // As root, sshd wants its privilege separation directory (the package's service makes it).
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'kip-sshd-'));
  const root = join(dir, 'repos');
  await mkdir(root);
  const host = opts.host ?? '127.0.0.1';
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const strangerKey = join(dir, 'stranger_ed25519');
  await Promise.all([generateKey(hostKey, 'host'), generateKey(clientKey), generateKey(strangerKey, 'stranger')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const user = userInfo().username;

  // A port taken between freePort and sshd's bind is tried again with another.
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort(host));
    const config = join(dir, 'sshd_config');
    await writeFile(
      config,
      [
        `ListenAddress ${host}:${port}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AllowUsers ${user}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'StrictModes no',
        // git's protocol v2 asks for it; without it, v0 (both work).
        'AcceptEnv GIT_PROTOCOL',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const started = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start in 10 s:\n${log}`)), 10_000);
      child.stderr!.on('data', () => {
        if (/Server listening on/.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        if (/Address already in use/.test(log) && attempt < 3 && opts.port === undefined) resolve(false);
        else reject(new Error(`sshd exited before listening:\n${log}`));
      });
    });
    if (!started) continue;
    const knownHosts = join(dir, 'known_hosts');
    const name = port === 22 ? host : `[${host}]:${port}`;
    const [type, key] = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/);
    await writeFile(knownHosts, `${name} ${type} ${key}\n`);
    return {
      root,
      host,
      port,
      url: (repo) => `ssh://${user}@${host}:${port}${join(root, repo)}`,
      scpUrl: (repo) => `${user}@${host}:${join(root, repo)}`,
      clientKey,
      knownHosts,
      strangerKey,
      output: () => log,
      close: () => stop(child, dir),
    };
  }
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
}
