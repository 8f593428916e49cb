import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { git, GIT_TEST_ENV } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const run = promisify(execFile);
const HAS_GPG = spawnSync('gpg', ['--version']).status === 0;
const EMAIL = 'kipper@localhost'; // the bridge's default committer: the principal its SSH key is allowed for
const APP = 'team-test/app-0000';

/** `git verify-commit` of every commit in `range` of a bare repo; resolves with the commits verified. */
async function verifyAll(
  bare: string,
  range: string,
  config: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<string[]> {
  const oids = (await git(['--git-dir', bare, 'rev-list', range])).split('\n').filter(Boolean);
  for (const oid of oids) {
    await run('git', ['--git-dir', bare, ...config, 'verify-commit', oid], {
      env: { ...process.env, ...GIT_TEST_ENV, ...env },
    });
  }
  return oids;
}

/** Every kind of commit the bridge writes: a deploy, a lock, a rollback with a reason, a webhook token, an unlock. */
async function writeEveryKind(rb: RemoteBridge): Promise<void> {
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${rb.bridge.url}/api/v1/apps/${APP}/${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const res = await fetch(`${rb.bridge.url}/api/v1/webhook/${APP}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kipper-token': tokenFor(TEST_SECRET_KEY, APP, 1) },
    body: JSON.stringify({ image: 'registry.example.com/app-0000:signed' }),
  });
  expect(res.status).toBe(200);
  for (const [method, path, body] of [
    ['POST', 'lock', { reason: 'signed lock' }],
    ['POST', 'rollback', { reason: 'signed rollback' }],
    ['POST', 'webhook', undefined],
    ['DELETE', 'lock', undefined],
  ] as const) {
    expect((await admin(method, path, body)).status, `${method} ${path}`).toBe(200);
  }
}

// Issue #13: KIPPER_SIGNING_KEY signs every commit the bridge writes; native git verifies them.
describe('signed commits', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kip-signing-'));
  });

  describe('with an SSH key', () => {
    let rb: RemoteBridge;
    let allowedSigners: string;
    beforeAll(async () => {
      const key = join(dir, 'id_ed25519');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', EMAIL, '-f', key]);
      allowedSigners = join(dir, 'allowed_signers');
      await writeFile(allowedSigners, `${EMAIL} ${(await run('cat', [`${key}.pub`])).stdout}`);
      rb = await startRemoteBridge(2, { KIPPER_SIGNING_KEY: key, KIPPER_LOG_LEVEL: 'debug' });
    });
    afterAll(async () => {
      await rb?.bridge.stop();
      await rb?.server.close();
    });

    it('every commit verifies with git verify-commit (gpg.format=ssh), and a changed one does not', async () => {
      const seed = (await git(['--git-dir', rb.bare, 'rev-parse', 'main'])).trim();
      await writeEveryKind(rb);
      const config = ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`];
      const verified = await verifyAll(rb.bare, `${seed}..main`, config);
      expect(verified.length).toBeGreaterThanOrEqual(5);
      const raw = await git(['--git-dir', rb.bare, 'cat-file', 'commit', 'main']);
      expect(raw).toMatch(/\ngpgsig -----BEGIN SSH SIGNATURE-----\n [A-Za-z0-9+/=]+\n/);
      // A commit whose message was changed keeps the signature, which no longer matches.
      const tampered = spawnSync('git', ['--git-dir', rb.bare, 'hash-object', '-t', 'commit', '-w', '--stdin'], {
        input: `${raw}tampered\n`,
      });
      const oid = tampered.stdout.toString().trim();
      expect(oid).toMatch(/^[0-9a-f]{40}$/);
      const check = spawnSync('git', ['--git-dir', rb.bare, ...config, 'verify-commit', oid]);
      expect(check.status).not.toBe(0);
      // The private key never shows in the log.
      expect(rb.bridge.output()).toContain('signing commits');
      expect(rb.bridge.output()).not.toContain('PRIVATE KEY');
    });
  });

  describe(
    HAS_GPG ? 'with an OpenPGP key' : 'with an OpenPGP key: SKIPPED, gpg is not installed (apt-get install gnupg)',
    () => {
      let rb: RemoteBridge;
      let home: string;
      beforeAll(async () => {
        if (!HAS_GPG) return;
        home = join(dir, 'gnupg');
        await run('mkdir', ['-m', '700', home]);
        // A passphrase-protected key, its passphrase in a mounted file (issue #22).
        const passphrase = 'a passphrase from a Secret';
        const passphraseFile = join(dir, 'signing-passphrase');
        await writeFile(passphraseFile, `${passphrase}\n`);
        const gpg = (args: string[]) =>
          run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', passphrase, ...args], {
            env: { ...process.env, GNUPGHOME: home },
          });
        await gpg(['--quick-gen-key', `Kipper <${EMAIL}>`, 'ed25519', 'sign', 'never']);
        const key = join(dir, 'signing.asc');
        await writeFile(key, (await gpg(['--armor', '--export-secret-keys', EMAIL])).stdout);
        rb = await startRemoteBridge(2, {
          KIPPER_SIGNING_KEY: key,
          KIPPER_SIGNING_KEY_PASSPHRASE_FILE: passphraseFile,
        });
      });
      afterAll(async () => {
        await rb?.bridge.stop();
        await rb?.server.close();
        if (home) spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
      });

      it.skipIf(!HAS_GPG)(
        'every commit verifies with git verify-commit (gpg), signed with a passphrase-protected key',
        async () => {
          const seed = (await git(['--git-dir', rb.bare, 'rev-parse', 'main'])).trim();
          await writeEveryKind(rb);
          const verified = await verifyAll(rb.bare, `${seed}..main`, [], { GNUPGHOME: home });
          expect(verified.length).toBeGreaterThanOrEqual(5);
          expect(await git(['--git-dir', rb.bare, 'cat-file', 'commit', 'main'])).toContain(
            '\ngpgsig -----BEGIN PGP SIGNATURE-----\n',
          );
        },
      );
    },
  );

  it('signs the embedded repo from its first commit', async () => {
    const key = join(dir, 'embedded_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const signers = join(dir, 'embedded_signers');
    await writeFile(signers, `${EMAIL} ${(await run('cat', [`${key}.pub`])).stdout}`);
    const bridge: BridgeProcess = await startBridge({ KIPPER_SIGNING_KEY: key, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    try {
      const gitdir = join(bridge.dataDir, 'config.git');
      const verified = await verifyAll(gitdir, 'main', [
        '-c',
        'gpg.format=ssh',
        '-c',
        `gpg.ssh.allowedSignersFile=${signers}`,
      ]);
      expect(verified).toHaveLength(1);
    } finally {
      await bridge.stop();
    }
  });

  it('a key that cannot sign stops the bridge at start, saying why, without the key', async () => {
    const key = join(dir, 'protected_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', key]);
    await expect(startBridge({ KIPPER_SIGNING_KEY: key })).rejects.toThrow(
      /exited with [1-9][\s\S]*KIPPER_SIGNING_KEY[\s\S]*passphrase/,
    );
    await expect(startBridge({ KIPPER_SIGNING_KEY: join(dir, 'missing') })).rejects.toThrow(
      /exited with [1-9][\s\S]*KIPPER_SIGNING_KEY/,
    );
  });

  it('refuses a passphrase twice or without a key, without printing it', async () => {
    const passphrase = 'never-printed-passphrase';
    const file = join(dir, 'some-passphrase');
    await writeFile(file, passphrase);
    const both = startBridge({
      KIPPER_SIGNING_KEY: file,
      KIPPER_SIGNING_KEY_PASSPHRASE: passphrase,
      KIPPER_SIGNING_KEY_PASSPHRASE_FILE: file,
    });
    await expect(both).rejects.toThrow(
      /exited with [1-9][\s\S]*KIPPER_SIGNING_KEY_PASSPHRASE and KIPPER_SIGNING_KEY_PASSPHRASE_FILE are both set/,
    );
    await expect(both).rejects.not.toThrow(passphrase);
    const alone = startBridge({ KIPPER_SIGNING_KEY_PASSPHRASE: passphrase });
    await expect(alone).rejects.toThrow(/exited with [1-9][\s\S]*passphrase is set without KIPPER_SIGNING_KEY/);
    await expect(alone).rejects.not.toThrow(passphrase);
  });

  it.skipIf(!HAS_GPG)('a revoked OpenPGP key stops the bridge at start, saying so', async () => {
    const home = join(dir, 'gnupg-revoked');
    await run('mkdir', ['-m', '700', home]);
    const env = { env: { ...process.env, GNUPGHOME: home } };
    const gpg = (args: string[]) =>
      run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], env);
    try {
      const created = await gpg([
        '--status-fd',
        '1',
        '--quick-gen-key',
        `Revoked <${EMAIL}>`,
        'ed25519',
        'sign',
        'never',
      ]);
      const fingerprint = /KEY_CREATED [BP] ([0-9A-F]{40})/.exec(created.stdout)![1]!;
      // gpg keeps a revocation certificate for each new key, defused by a leading ':'.
      const certificate = join(home, 'openpgp-revocs.d', `${fingerprint}.rev`);
      await writeFile(certificate, (await run('cat', [certificate])).stdout.replace(/^:-----BEGIN/m, '-----BEGIN'));
      await gpg(['--import', certificate]);
      const key = join(dir, 'revoked.asc');
      await writeFile(key, (await gpg(['--armor', '--export-secret-keys', fingerprint])).stdout);
      await expect(startBridge({ KIPPER_SIGNING_KEY: key })).rejects.toThrow(
        /exited with [1-9][\s\S]*KIPPER_SIGNING_KEY [^\n]*revoked\.asc is revoked/,
      );
    } finally {
      spawnSync('gpgconf', ['--kill', 'all'], env);
    }
  });
});
