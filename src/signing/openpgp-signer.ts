/**
 * OpenPGP signatures of commits, as `gpg --detach-sign --armor` makes them for git and
 * `gpg --verify` checks them, made by OpenPGP.js: it reads the key (passphrase-protected
 * too), checks its self-signatures, binding signatures, revocations and expiry (RFC 9580
 * §5.2.3, §10.1), and picks the signing (sub)key the way gpg does.
 */
import {
  createMessage,
  decryptKey,
  readPrivateKeys,
  readSignature,
  sign,
  verify,
  type PrivateKey,
  type Subkey,
} from 'openpgp';
import type { CommitSigner } from './commit-signer.js';
import { keyError } from './key-error.js';

/** GnuPG (2.2 and 2.4, what remotes and `git verify-commit` run) verifies v4 keys' signatures only. */
const GPG_KEY_VERSION = 4;
const PROBE = new TextEncoder().encode('kipper signing self-test');

/**
 * A signer for the armored secret key `text` (read from `path`, for errors), decrypted with
 * `passphrase` when it is protected; CONFIG_INVALID when gpg would not accept its signatures.
 */
export async function openpgpSigner(path: string, text: string, passphrase: string | undefined): Promise<CommitSigner> {
  const exportHint = 'gpg --armor --export-secret-keys <fingerprint>';
  const keys = await readPrivateKeys({ armoredKeys: text }).catch(() => {
    throw keyError(
      path,
      `is not a valid armored OpenPGP secret key (truncated or corrupt): export it again with ${exportHint}`,
    );
  });
  if (keys.length !== 1) throw keyError(path, `holds ${keys.length} keys: export exactly one: ${exportHint}`);
  let key = keys[0]!;
  if (key.keyPacket.version !== GPG_KEY_VERSION)
    throw keyError(
      path,
      `is a version ${key.keyPacket.version} key, whose signatures gpg does not verify: use a version 4 key, which gpg makes`,
    );
  await checkPrimaryKey(path, key);
  let signingKey = await chooseSigningKey(path, key);
  if (!signingKey.isDecrypted()) {
    key = await decrypt(path, key, passphrase);
    signingKey = await chooseSigningKey(path, key);
  }
  await selfTest(path, key);
  const fingerprint = signingKey.getFingerprint().toUpperCase();
  const subkey = signingKey !== key;
  return {
    format: 'openpgp',
    fingerprint,
    description: `OpenPGP ${fingerprint}${subkey ? ' (signing subkey)' : ''}`,
    // A detached signature of the binary document (signature type 0x00): what gpg makes for git.
    sign: async (payload) =>
      sign({ message: await createMessage({ binary: payload }), signingKeys: key, detached: true, format: 'armored' }),
  };
}

/** The primary key's own validity: a valid self-signature, not revoked, not expired (gpg refuses signatures of such keys). */
async function checkPrimaryKey(path: string, key: PrivateKey): Promise<void> {
  try {
    await key.verifyPrimaryKey();
  } catch (err) {
    const reason = messageOf(err);
    if (/revoked/i.test(reason))
      throw keyError(path, 'is revoked: make a new key and put its public key where the remote verifies commits');
    if (/expired/i.test(reason)) {
      const expiry = await key.getExpirationTime().catch(() => null);
      const day = expiry instanceof Date ? ` on ${expiry.toISOString().slice(0, 10)}` : '';
      throw keyError(
        path,
        `expired${day}: extend it (gpg --quick-set-expire <fingerprint> 1y), export it again, and publish the new public key`,
      );
    }
    throw keyError(
      path,
      `is not a valid key (${reason}): export it again with gpg --armor --export-secret-keys <fingerprint>`,
    );
  }
}

/** Like gpg: the newest valid signing subkey, else the primary key when it may sign (key flags, bindings, revocations, expiry). */
async function chooseSigningKey(path: string, key: PrivateKey): Promise<PrivateKey | Subkey> {
  return key.getSigningKey().catch((err: unknown) => {
    const reason = messageOf(err);
    // OpenPGP.js's defaults decide what is too weak (RSA under 2047 bits) or unsupported.
    if (/weak|not supported|unsupported|unknown/i.test(reason))
      throw keyError(
        path,
        `signs with an algorithm Kipper does not sign with (${reason}): use an ed25519 key (gpg --quick-gen-key '<name> <email>' ed25519 sign)`,
      );
    throw keyError(
      path,
      `holds no key that may sign data (${reason}): add a signing subkey (gpg --quick-add-key <fingerprint> ed25519 sign) and export it again`,
    );
  });
}

async function decrypt(path: string, key: PrivateKey, passphrase: string | undefined): Promise<PrivateKey> {
  if (passphrase === undefined) {
    throw keyError(
      path,
      'is protected by a passphrase: give it to the bridge in KIPPER_SIGNING_KEY_PASSPHRASE_FILE (or KIPPER_SIGNING_KEY_PASSPHRASE)',
    );
  }
  // Never the library's message: the passphrase must not reach a log, and "wrong passphrase" is what to fix.
  return decryptKey({ privateKey: key, passphrase }).catch(() => {
    throw keyError(
      path,
      "cannot be decrypted with the passphrase given (KIPPER_SIGNING_KEY_PASSPHRASE or its _FILE): check that it is the key's passphrase",
    );
  });
}

/** Signs a probe and verifies it with the public key, the way a remote will: a key that cannot sign stops the start, not a deploy. */
async function selfTest(path: string, key: PrivateKey): Promise<void> {
  try {
    const message = await createMessage({ binary: PROBE });
    const binarySignature = await sign({ message, signingKeys: key, detached: true, format: 'binary' });
    const signature = await readSignature({ binarySignature });
    // Against the public key packets: a secret that does not match them (a corrupt file) fails here.
    const { signatures } = await verify({ message, signature, verificationKeys: key.toPublic() });
    await signatures[0]!.verified;
  } catch (err) {
    throw keyError(
      path,
      `cannot make a signature that verifies (${messageOf(err)}): use an ed25519 key (gpg --quick-gen-key '<name> <email>' ed25519 sign)`,
    );
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
