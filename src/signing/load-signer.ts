/**
 * KIPPER_SIGNING_KEY: signs the commits the bridge writes, so that `git verify-commit`
 * passes on the remote. git would spawn `ssh-keygen -Y sign` or `gpg` for every commit;
 * the bridge signs in process instead (sshsig.ts, openpgp-signer.ts). loadSigner refuses
 * at start every key that cannot make a signature git accepts: the bridge never writes
 * unsigned commits in a signed setup.
 */
import { readFile } from 'node:fs/promises';
import { KipError } from '../errors.js';
import type { CommitSigner } from './commit-signer.js';
import { keyError } from './key-error.js';
import { OPENSSH_LABEL, readOpenSshKey } from './openssh-key.js';
import { sshSigner } from './sshsig.js';

/** Where the passphrase of a protected OpenPGP key comes from (KIPPER_SIGNING_KEY_PASSPHRASE, or its _FILE variant). */
export interface PassphraseSource {
  passphrase?: string | undefined;
  /** A file holding the passphrase; one trailing newline is not part of it. */
  passphraseFile?: string | undefined;
}

/** The armor label of an OpenPGP private key. */
const PGP_KEY_LABEL = 'PGP PRIVATE KEY BLOCK';

/** Key files Kipper does not sign with, recognised to say what to do instead. */
const PUBLIC_KEY =
  /-----BEGIN PGP PUBLIC KEY BLOCK-----|---- BEGIN SSH2 PUBLIC KEY ----|-----BEGIN (RSA )?PUBLIC KEY-----|^(ssh|ecdsa|sk)-\S+ AAAA/m;
const PEM_PRIVATE_KEY = /-----BEGIN (RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/;

/** Reads the key at `path`, proves it signs, and returns its signer; CONFIG_INVALID when it cannot. */
export async function loadSigner(path: string, source: PassphraseSource = {}): Promise<CommitSigner> {
  const text = await readKeyFile(path);
  if (text.includes(`-----BEGIN ${OPENSSH_LABEL}-----`)) return sshSigner(readOpenSshKey(path, text));
  if (text.includes(`-----BEGIN ${PGP_KEY_LABEL}-----`)) {
    // OpenPGP.js is loaded for an OpenPGP key only: 2.4 MB of source a bridge without one never holds.
    const { openpgpSigner } = await import('./openpgp-signer.js');
    return openpgpSigner(path, text, await passphraseOf(source));
  }
  if (PUBLIC_KEY.test(text)) {
    throw keyError(
      path,
      'is a public key; signing needs the private key: for SSH the file without .pub, for OpenPGP `gpg --armor --export-secret-keys <fingerprint>`',
    );
  }
  if (PEM_PRIVATE_KEY.test(text))
    throw keyError(
      path,
      "is a PEM private key; Kipper reads OpenSSH's own format: convert a copy with ssh-keygen -p -N '' -f <copy>",
    );
  throw keyError(
    path,
    `is neither an OpenSSH private key (-----BEGIN ${OPENSSH_LABEL}-----) nor an armored OpenPGP secret key (gpg --armor --export-secret-keys <fingerprint>)`,
  );
}

async function readKeyFile(path: string): Promise<string> {
  try {
    // latin1 maps every byte to one character: armor is ASCII, and nothing else gets mangled.
    return await readFile(path, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw keyError(path, 'no such file: mount the Secret that holds the key at this path');
    if (code === 'EISDIR') throw keyError(path, 'is a directory: point KIPPER_SIGNING_KEY at the key file inside it');
    throw keyError(path, `cannot be read (${code ?? 'unknown error'}): give the bridge's user read access to it`);
  }
}

async function passphraseOf(source: PassphraseSource): Promise<string | undefined> {
  if (source.passphraseFile === undefined) return source.passphrase;
  try {
    return (await readFile(source.passphraseFile, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_SIGNING_KEY_PASSPHRASE_FILE ${source.passphraseFile} cannot be read (${code}): mount the Secret that holds the passphrase there`,
      {
        path: source.passphraseFile,
      },
    );
  }
}
