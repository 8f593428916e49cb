import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loopbackCertificate } from './oidc-issuer.js';

const CHILD = fileURLToPath(new URL('./oidc-provider-child.mjs', import.meta.url));

/** Who the development login knows: a login name's email and groups (others get `<name>@example.com`, no groups). */
export type OpUsers = Record<string, { email?: string; name?: string; groups?: string[] }>;

/** A real OpenID Provider (`oidc-provider`) over https on a loopback port, in a child process. */
export interface OpenIdProvider {
  issuer: string;
  clientId: string;
  /** Its certificate: NODE_EXTRA_CA_CERTS for bridges and kip. */
  certFile: string;
  output(): string;
  close(): Promise<void>;
}

/**
 * Start the provider: client `kipper` (public, PKCE, device flow, refresh tokens, redirect
 * `http://127.0.0.1:<any port>/auth/callback`), development login, claims email and groups.
 */
export async function startOpenIdProvider(users: OpUsers = {}): Promise<OpenIdProvider> {
  const tls = await loopbackCertificate();
  const { writeFile, mkdtemp } = await import('node:fs/promises');
  const { join, dirname } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'kip-op-'));
  const keyFile = join(dir, 'key.pem');
  await writeFile(keyFile, tls.key, { mode: 0o600 });
  const child: ChildProcess = spawn(process.execPath, [CHILD], {
    cwd: dirname(CHILD),
    env: {
      ...process.env,
      OP_USERS: JSON.stringify(users),
      OP_TLS_KEY: keyFile,
      OP_TLS_CERT: tls.certFile,
      OP_CLIENT_ID: 'kipper',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the OpenID Provider did not start in 20 s:\n${out}`)), 20_000);
    child.stdout!.on('data', () => {
      const m = /listening (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    exited
      .then(() => {
        clearTimeout(timer);
        reject(new Error(`the OpenID Provider exited before listening:\n${out}`));
      })
      .catch(reject);
  });
  return {
    issuer,
    clientId: 'kipper',
    certFile: tls.certFile,
    output: () => out,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
