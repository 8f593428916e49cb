/**
 * Commit signing against the real tools, no mocks: keys made by ssh-keygen and gpg,
 * commits made by git, and `git verify-commit` as the judge (issue: KIPPER_SIGNING_KEY).
 * Where git's own signature is deterministic (ed25519, RSA PKCS#1 v1.5 over SSH) the
 * whole signed object must equal what `git commit-tree -S` writes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readPrivateKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKipError, type KipError } from '../../../src/errors.js';
import { insertSignature } from '../../../src/repo/git-objects.js';
import type { CommitSigner } from '../../../src/signing/commit-signer.js';
import { loadSigner } from '../../../src/signing/load-signer.js';
import { GIT_TEST_ENV } from '../../helpers/git-cli.js';

const EMAIL = 'kipper@test.invalid';
/** Fixed identity and dates: git's commit and ours have the same payload, byte for byte. */
const IDENTITY = {
  GIT_AUTHOR_NAME: 'Kipper',
  GIT_AUTHOR_EMAIL: EMAIL,
  GIT_COMMITTER_NAME: 'Kipper',
  GIT_COMMITTER_EMAIL: EMAIL,
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
};
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const MESSAGE =
  'deploy team/api: registry.example.com/api:abc123f\n\nKipper-App: team/api\nKipper-Image: registry.example.com/api:abc123f\nKipper-Trigger: webhook';
const HAS_GPG = spawnSync('gpg', ['--version']).status === 0;
const TIMED_SIGNATURES = 200;

interface Result {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a tool with an argument array (no shell) and the fixed git identity; never rejects. */
function run(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      [...args],
      { env: { ...process.env, ...GIT_TEST_ENV, ...IDENTITY, ...env }, encoding: 'buffer' },
      (err, stdout, stderr) => {
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
          stdout,
          stderr: stderr.toString('utf8'),
        });
      },
    );
  });
}

async function ok(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Buffer> {
  const result = await run(cmd, args, env);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

let root: string;
let gitDir: string;
/** The payload of a bridge-like deploy commit (with a parent), made by git. */
let payload: Buffer;
let parent: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kip-sign-'));
  gitDir = join(root, 'repo.git');
  await ok('git', ['init', '--quiet', '--bare', gitDir]);
  parent = (await ok('git', ['--git-dir', gitDir, 'commit-tree', EMPTY_TREE, '-m', 'seed'])).toString().trim();
  const unsigned = (await ok('git', ['--git-dir', gitDir, 'commit-tree', EMPTY_TREE, '-p', parent, '-m', MESSAGE]))
    .toString()
    .trim();
  payload = await ok('git', ['--git-dir', gitDir, 'cat-file', 'commit', unsigned]);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a commit object as is (git checks its format) and returns its id. */
async function writeCommit(object: Buffer): Promise<string> {
  const file = join(root, 'object');
  await writeFile(file, object);
  return (await ok('git', ['--git-dir', gitDir, 'hash-object', '-t', 'commit', '-w', file])).toString().trim();
}

/** What git writes for the same commit with `commit-tree -S`. */
async function signedByGit(config: readonly string[], env: Record<string, string> = {}): Promise<Buffer> {
  const oid = (
    await ok('git', ['--git-dir', gitDir, ...config, 'commit-tree', '-S', EMPTY_TREE, '-p', parent, '-m', MESSAGE], env)
  )
    .toString()
    .trim();
  return ok('git', ['--git-dir', gitDir, 'cat-file', 'commit', oid]);
}

/** The object with each run of base64 lines of its signature (and gpg's `=` checksum line) as one placeholder. */
function shape(object: Buffer): string {
  return object.toString('utf8').replace(/(^ =?[A-Za-z0-9+/]+=*\n)+/gm, ' <base64>\n');
}

async function printCost(signer: CommitSigner): Promise<void> {
  await signer.sign(payload); // warm-up: the first call compiles and caches
  const start = performance.now();
  for (let i = 0; i < TIMED_SIGNATURES; i++) await signer.sign(payload);
  const perSignature = (performance.now() - start) / TIMED_SIGNATURES;
  console.log(
    `sign() ${signer.description}: ${(perSignature * 1000).toFixed(0)} µs per signature (${TIMED_SIGNATURES} signatures)`,
  );
}

/** The CONFIG_INVALID error loadSigner refuses `path` with; checks it names the path and none of `secret`'s bytes. */
async function refusal(path: string, secret: string): Promise<KipError> {
  const err = await loadSigner(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKipError(err, 'CONFIG_INVALID')) throw new Error(`expected CONFIG_INVALID, got ${String(err)}`);
  expect(err.message).toContain(path);
  const told = err.message + JSON.stringify(err.data);
  for (const chunk of secret.match(/[A-Za-z0-9+/]{12}/g) ?? []) expect(told).not.toContain(chunk);
  return err;
}

describe('insertSignature', () => {
  const commit = 'tree t\nparent p\nauthor a\ncommitter c\n\nsubject\n\nbody\n';

  it('puts the gpgsig header at the end of the header, continuation lines after one space, empty lines as " "', () => {
    const signed = insertSignature(commit, '-----BEGIN X-----\n\nAAAA\n-----END X-----\n');
    expect(signed.toString()).toBe(
      'tree t\nparent p\nauthor a\ncommitter c\ngpgsig -----BEGIN X-----\n \n AAAA\n -----END X-----\n\nsubject\n\nbody\n',
    );
  });

  it('reads the same with or without the final newline of the signature, from a string or a Buffer', () => {
    const expected = insertSignature(commit, 'A\nB\n');
    expect(insertSignature(commit, 'A\nB')).toEqual(expected);
    expect(insertSignature(Buffer.from(commit), 'A\nB\n')).toEqual(expected);
  });

  it('goes after every header, like git (an encoding header stays before it)', () => {
    const withEncoding = commit.replace('committer c\n', 'committer c\nencoding ISO-8859-1\n');
    expect(insertSignature(withEncoding, 'S\n').toString()).toContain(
      'committer c\nencoding ISO-8859-1\ngpgsig S\n\nsubject',
    );
  });
});

const SSH_KEYS = [
  { name: 'ed25519', args: ['-t', 'ed25519'], label: 'ED25519', deterministic: true },
  { name: 'RSA 2048', args: ['-t', 'rsa', '-b', '2048'], label: 'RSA', deterministic: true },
  { name: 'ECDSA P-256', args: ['-t', 'ecdsa', '-b', '256'], label: 'ECDSA', deterministic: false },
  { name: 'ECDSA P-384', args: ['-t', 'ecdsa', '-b', '384'], label: 'ECDSA', deterministic: false },
  { name: 'ECDSA P-521', args: ['-t', 'ecdsa', '-b', '521'], label: 'ECDSA', deterministic: false },
];

describe('SSH keys (git -c gpg.format=ssh)', () => {
  let dir: string;
  let allowedSigners: string;
  const keyOf = (name: string) => join(dir, name.replace(/\W+/g, '-'));

  beforeAll(async () => {
    dir = join(root, 'ssh');
    await mkdir(dir);
    const lines: string[] = [];
    for (const key of SSH_KEYS) {
      await ok('ssh-keygen', ['-q', ...key.args, '-N', '', '-C', EMAIL, '-f', keyOf(key.name)]);
      lines.push(`${EMAIL} ${(await readFile(`${keyOf(key.name)}.pub`, 'utf8')).trim()}`);
    }
    allowedSigners = join(dir, 'allowed_signers');
    await writeFile(allowedSigners, `${lines.join('\n')}\n`);
  });

  const verifyCommit = (oid: string) =>
    run('git', ['--git-dir', gitDir, '-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`, 'verify-commit', oid]);

  for (const key of SSH_KEYS) {
    it(`signs commits that git verify-commit accepts (${key.name})`, async () => {
      const signer = await loadSigner(keyOf(key.name));
      const fingerprint = (await ok('ssh-keygen', ['-l', '-f', `${keyOf(key.name)}.pub`])).toString().split(' ')[1];
      expect(signer).toMatchObject({ format: 'ssh', fingerprint, description: `SSH ${key.label} ${fingerprint}` });

      const signature = await signer.sign(payload);
      expect(signature).toMatch(
        /^-----BEGIN SSH SIGNATURE-----\n([A-Za-z0-9+/]{70}\n)*[A-Za-z0-9+/=]{1,70}\n-----END SSH SIGNATURE-----\n$/,
      );
      const verified = await verifyCommit(await writeCommit(insertSignature(payload, signature)));
      expect(verified.stderr).toContain(`Good "git" signature for ${EMAIL}`);
      expect(verified.code).toBe(0);
      await printCost(signer);
    });

    it(`writes the object git commit-tree -S writes (${key.name}: ${key.deterministic ? 'byte for byte' : 'same layout, randomised signature'})`, async () => {
      const signer = await loadSigner(keyOf(key.name));
      const ours = insertSignature(payload, await signer.sign(payload));
      const gits = await signedByGit(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyOf(key.name)}`]);
      if (key.deterministic) expect(ours.toString('utf8')).toBe(gits.toString('utf8'));
      else expect(shape(ours)).toBe(shape(gits));
    });
  }

  it('signs nothing but the payload: a changed commit fails git verify-commit', async () => {
    const signer = await loadSigner(keyOf('ed25519'));
    const signed = insertSignature(payload, await signer.sign(payload)).toString('utf8');
    expect((await verifyCommit(await writeCommit(Buffer.from(signed)))).code).toBe(0);
    const tampered = signed.replace('api:abc123f\n\nKipper-App', 'api:abc123e\n\nKipper-App');
    expect(tampered).not.toBe(signed);
    expect((await verifyCommit(await writeCommit(Buffer.from(tampered)))).code).not.toBe(0);
  });

  it('refuses a passphrase-protected key, without its bytes in the error', async () => {
    const path = join(dir, 'protected');
    await ok('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', path]);
    const err = await refusal(path, await readFile(path, 'utf8'));
    expect(err.message).toMatch(/passphrase/);
  });

  it('refuses a public key', async () => {
    const path = `${keyOf('ed25519')}.pub`;
    await refusal(path, await readFile(path, 'utf8'));
  });

  it('refuses a PEM key, which ssh-keygen -p converts', async () => {
    const path = join(dir, 'pem');
    await ok('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', path]);
    await refusal(path, await readFile(path, 'utf8'));
  });

  it('refuses a missing file and a directory', async () => {
    await refusal(join(dir, 'no-such-key'), '');
    await refusal(dir, '');
  });

  it('refuses a key whose private half does not match its public half (the self-test at load)', async () => {
    // Splice key B's public key into key A's public blob: the private key still signs, but
    // verifiers would check against B.
    const [a, b] = [join(dir, 'half-a'), join(dir, 'half-b')];
    for (const path of [a, b]) await ok('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
    const publicKey = async (path: string) =>
      Buffer.from((await readFile(`${path}.pub`, 'utf8')).split(' ')[1]!, 'base64').subarray(-32);
    const text = await readFile(a, 'utf8');
    const body = Buffer.from(text.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = body.indexOf(await publicKey(a));
    (await publicKey(b)).copy(body, at);
    const spliced = join(dir, 'spliced');
    const base64 = body.toString('base64').replace(/.{70}/g, '$&\n');
    await writeFile(spliced, `-----BEGIN OPENSSH PRIVATE KEY-----\n${base64}\n-----END OPENSSH PRIVATE KEY-----\n`);
    await refusal(spliced, text);
  });
});

describe(HAS_GPG ? 'OpenPGP keys (gpg)' : 'OpenPGP keys: SKIPPED, gpg is not installed (apt-get install gnupg)', () => {
  /** Where the keys are made; git commit-tree -S signs here. */
  let signingHome: string;
  /** The remote's view: only the public keys, imported. */
  let verifyingHome: string;
  const keys = new Map<string, { path: string; fingerprint: string }>();

  const gpg = (home: string, args: readonly string[]) =>
    ok('gpg', ['--batch', '--pinentry-mode', 'loopback', ...args], { GNUPGHOME: home });

  /** Makes a key with `gpg --quick-gen-key`, exports its secret armored, and returns its fingerprint and file. */
  async function makeKey(
    name: string,
    algo: string,
    usage: string,
    opts: { passphrase?: string; expire?: string; faketime?: string } = {},
  ) {
    const passphrase = ['--passphrase', opts.passphrase ?? ''];
    const faketime = opts.faketime === undefined ? [] : ['--faked-system-time', opts.faketime];
    const status = await gpg(signingHome, [
      ...passphrase,
      ...faketime,
      '--status-fd',
      '1',
      '--quick-gen-key',
      `Kipper ${name} <${EMAIL}>`,
      algo,
      usage,
      opts.expire ?? 'never',
    ]);
    const fingerprint = /KEY_CREATED [BP] ([0-9A-F]{40})/.exec(status.toString())![1]!;
    const path = join(root, 'openpgp', `${name}.asc`);
    await writeFile(path, await gpg(signingHome, [...passphrase, '--armor', '--export-secret-keys', fingerprint]));
    keys.set(name, { path, fingerprint });
    return { path, fingerprint };
  }

  const verifyCommit = (oid: string) =>
    run('git', ['--git-dir', gitDir, 'verify-commit', '--raw', oid], { GNUPGHOME: verifyingHome });

  beforeAll(async () => {
    signingHome = join(root, 'gnupg-sign');
    verifyingHome = join(root, 'gnupg-verify');
    await mkdir(signingHome, { mode: 0o700 });
    await mkdir(verifyingHome, { mode: 0o700 });
    await mkdir(join(root, 'openpgp'));
    await makeKey('ed25519', 'ed25519', 'sign');
    await makeKey('rsa2048', 'rsa2048', 'sign');
    await makeKey('nistp256', 'nistp256', 'sign');
    // A primary key that only certifies, and a signing subkey: exported the way an offline
    // primary is, with --export-secret-subkeys (the primary's secret is a gnu-dummy stub).
    const { fingerprint } = await makeKey('subkey', 'ed25519', 'cert');
    await gpg(signingHome, ['--passphrase', '', '--quick-add-key', fingerprint, 'ed25519', 'sign', 'never']);
    await writeFile(
      keys.get('subkey')!.path,
      await gpg(signingHome, ['--passphrase', '', '--armor', '--export-secret-subkeys', fingerprint]),
    );
    await writeFile(join(root, 'openpgp', 'public.asc'), await gpg(signingHome, ['--armor', '--export']));
    await gpg(verifyingHome, ['--import', join(root, 'openpgp', 'public.asc')]);
  }, 120_000);

  afterAll(async () => {
    for (const home of [signingHome, verifyingHome]) await run('gpgconf', ['--kill', 'all'], { GNUPGHOME: home });
  });

  for (const name of ['ed25519', 'rsa2048', 'nistp256']) {
    it.skipIf(!HAS_GPG)(`signs commits that git verify-commit accepts (${name})`, async () => {
      const { path, fingerprint } = keys.get(name)!;
      const signer = await loadSigner(path);
      expect(signer).toMatchObject({ format: 'openpgp', fingerprint, description: `OpenPGP ${fingerprint}` });

      const signature = await signer.sign(payload);
      expect(signature).toMatch(
        // OpenPGP.js writes 60 base64 columns (gpg 64; RFC 9580 §6.2 allows up to 76).
        /^-----BEGIN PGP SIGNATURE-----\n\n([A-Za-z0-9+/]{60}\n)*[A-Za-z0-9+/=]{1,60}\n=[A-Za-z0-9+/]{4}\n-----END PGP SIGNATURE-----\n$/,
      );
      const verified = await verifyCommit(await writeCommit(insertSignature(payload, signature)));
      expect(verified.stderr).toContain(`[GNUPG:] VALIDSIG ${fingerprint}`);
      expect(verified.code).toBe(0);
      await printCost(signer);
    });

    it.skipIf(!HAS_GPG)(`writes the object layout git commit-tree -S writes (${name})`, async () => {
      const { path, fingerprint } = keys.get(name)!;
      const ours = insertSignature(payload, await (await loadSigner(path)).sign(payload));
      const gits = await signedByGit(['-c', `user.signingkey=${fingerprint}`], { GNUPGHOME: signingHome });
      expect(shape(ours)).toBe(shape(gits));
    });
  }

  it.skipIf(!HAS_GPG)('signs with the signing subkey when the primary key only certifies, as gpg does', async () => {
    const primary = keys.get('subkey')!.fingerprint;
    const signer = await loadSigner(keys.get('subkey')!.path);
    expect(signer.fingerprint).not.toBe(primary);
    const verified = await verifyCommit(await writeCommit(insertSignature(payload, await signer.sign(payload))));
    // VALIDSIG <signing key> … <primary key>
    expect(verified.stderr).toMatch(new RegExp(`VALIDSIG ${signer.fingerprint} .* ${primary}\\n`));
    expect(verified.code).toBe(0);
  });

  it.skipIf(!HAS_GPG)('signs nothing but the payload: a changed commit fails git verify-commit', async () => {
    const signer = await loadSigner(keys.get('ed25519')!.path);
    const signed = insertSignature(payload, await signer.sign(payload)).toString('utf8');
    const tampered = signed.replace('Kipper-Trigger: webhook', 'Kipper-Trigger: manual');
    expect(tampered).not.toBe(signed);
    const verified = await verifyCommit(await writeCommit(Buffer.from(tampered)));
    expect(verified.stderr).toContain('[GNUPG:] BADSIG');
    expect(verified.code).not.toBe(0);
  });

  it.skipIf(!HAS_GPG)(
    'refuses a passphrase-protected key without its passphrase, without its bytes in the error',
    async () => {
      const { path } = await makeKey('protected', 'ed25519', 'sign', { passphrase: 'secret' });
      const err = await refusal(path, await readFile(path, 'utf8'));
      expect(err.message).toMatch(/passphrase.*KIPPER_SIGNING_KEY_PASSPHRASE_FILE/);
    },
  );

  it.skipIf(!HAS_GPG)(
    'signs with a passphrase-protected key given its passphrase, from the variable or a file',
    async () => {
      const passphrase = 'correcthorsebatterystaple';
      const { path, fingerprint } = await makeKey('protected-known', 'ed25519', 'sign', { passphrase });
      const publicKey = join(root, 'openpgp', 'protected-known.pub');
      await writeFile(publicKey, await gpg(signingHome, ['--armor', '--export', fingerprint]));
      await gpg(verifyingHome, ['--import', publicKey]);
      const file = join(root, 'openpgp', 'passphrase');
      await writeFile(file, `${passphrase}\n`); // as `echo` and most Secret tooling write it
      for (const source of [{ passphrase }, { passphraseFile: file }]) {
        const signer = await loadSigner(path, source);
        const verified = await verifyCommit(await writeCommit(insertSignature(payload, await signer.sign(payload))));
        expect(verified.stderr).toContain(`[GNUPG:] VALIDSIG ${fingerprint}`);
        expect(verified.code).toBe(0);
      }
    },
  );

  it.skipIf(!HAS_GPG)(
    'refuses a wrong passphrase and an unreadable passphrase file, naming neither the key nor the passphrase',
    async () => {
      const { path } = await makeKey('protected-wrong', 'ed25519', 'sign', { passphrase: 'therightpassphrase' });
      const key = await readFile(path, 'utf8');
      const wrong = await loadSigner(path, { passphrase: 'notthepassphrase' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!isKipError(wrong, 'CONFIG_INVALID')) throw new Error(`expected CONFIG_INVALID, got ${String(wrong)}`);
      expect(wrong.message).toMatch(/cannot be decrypted with the passphrase/);
      for (const secret of [key, 'therightpassphrase notthepassphrase']) {
        for (const chunk of secret.match(/[A-Za-z0-9+/]{12}/g) ?? [])
          expect(wrong.message + JSON.stringify(wrong.data)).not.toContain(chunk);
      }
      const missing = join(root, 'openpgp', 'no-such-passphrase');
      await expect(loadSigner(path, { passphraseFile: missing })).rejects.toThrow(
        /KIPPER_SIGNING_KEY_PASSPHRASE_FILE .*no-such-passphrase cannot be read \(ENOENT\)/,
      );
    },
  );

  it.skipIf(!HAS_GPG)('refuses a key too weak to sign with (RSA 1024), saying why', async () => {
    const { path } = await makeKey('rsa1024', 'rsa1024', 'sign');
    expect((await refusal(path, await readFile(path, 'utf8'))).message).toMatch(/too weak.*ed25519/);
  });

  it.skipIf(!HAS_GPG)('refuses a public key', async () => {
    const path = join(root, 'openpgp', 'public.asc');
    await refusal(path, await readFile(path, 'utf8'));
  });

  it.skipIf(!HAS_GPG)(
    'refuses a key whose self-signature does not verify (a changed preference): the key is not what its owner signed',
    async () => {
      const { path } = keys.get('ed25519')!;
      const armored = await readFile(path, 'utf8');
      // The self-signature's hashed bytes, found with OpenPGP.js, changed in the file: its last
      // hashed subpacket (gpg's keyserver preferences) gets one more bit.
      const [signed] = (await readPrivateKey({ armoredKey: armored })).users[0]!.selfCertifications;
      const binary = Buffer.from(armored.split(/\n\n/)[1]!.split(/\n=/)[0]!.replace(/\s/g, ''), 'base64');
      const start = binary.indexOf(Buffer.from(signed!.signatureData!));
      expect(start).toBeGreaterThan(0);
      const at = start + signed!.signatureData!.length - 1;
      binary.writeUInt8(binary[at]! ^ 0x01, at);
      const changed = join(root, 'openpgp', 'changed-self-signature.asc');
      const base64 = binary.toString('base64').replace(/.{64}/g, '$&\n');
      await writeFile(
        changed,
        `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${base64.replace(/\n$/, '')}\n-----END PGP PRIVATE KEY BLOCK-----\n`,
      );
      expect((await refusal(changed, armored)).message).toMatch(/self-signature/);
    },
  );

  it.skipIf(!HAS_GPG)('refuses an expired key and a revoked key: gpg would not accept their signatures', async () => {
    const expired = await makeKey('expired', 'ed25519', 'sign', { faketime: '20200101T000000', expire: '1d' });
    expect((await refusal(expired.path, await readFile(expired.path, 'utf8'))).message).toMatch(
      /expired on 2020-01-02/,
    );

    const revoked = await makeKey('revoked', 'ed25519', 'sign');
    // gpg keeps a revocation certificate for each new key, defused by a leading ':'.
    const revocsDir = join(signingHome, 'openpgp-revocs.d');
    const certificate = (await readFile(join(revocsDir, `${revoked.fingerprint}.rev`), 'utf8')).replace(
      /^:-----BEGIN/m,
      '-----BEGIN',
    );
    await writeFile(join(revocsDir, 'import.rev'), certificate);
    await gpg(signingHome, ['--import', join(revocsDir, 'import.rev')]);
    await writeFile(
      revoked.path,
      await gpg(signingHome, ['--passphrase', '', '--armor', '--export-secret-keys', revoked.fingerprint]),
    );
    expect((await refusal(revoked.path, await readFile(revoked.path, 'utf8'))).message).toMatch(/revoked/);
  });
});
