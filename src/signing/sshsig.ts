/**
 * SSH signatures of commits, as `git -c gpg.format=ssh` makes them with `ssh-keygen -Y sign
 * -n git` and checks them with `ssh-keygen -Y verify`: openssh PROTOCOL.sshsig
 * (https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.sshsig), one step of the
 * spec per line below, with the spec's field names.
 */
import { createHash } from 'node:crypto';
import type { CommitSigner } from './commit-signer.js';
import type { OpenSshKey } from './openssh-key.js';
import { sshString, uint32 } from './ssh-wire.js';

/** `#define MAGIC_PREAMBLE "SSHSIG"`: opens both the signature blob and the signed data. */
const MAGIC_PREAMBLE = Buffer.from('SSHSIG', 'latin1');
/** `#define SIG_VERSION 0x01`. */
const SIG_VERSION = 0x01;
/** The namespace git signs and verifies with (gpg-interface.c: `ssh-keygen -Y sign -n git`). */
const NAMESPACE = 'git';
/** "sha256" or "sha512"; ssh-keygen's default, so ours matches its output byte for byte. */
const HASH_ALGORITHM = 'sha512';
/** The armor's base64 lines: 70 columns, as ssh-keygen writes them (sshbuf_dtob64). */
const COLUMNS = 70;

/** Signs with an OpenSSH key; the signature is what `ssh-keygen -Y sign -n git` writes. */
export function sshSigner(key: OpenSshKey): CommitSigner {
  return {
    format: 'ssh',
    fingerprint: key.fingerprint,
    description: `SSH ${key.label} ${key.fingerprint}`,
    sign: (payload) => Promise.resolve(sshsig(key, payload)),
  };
}

/** The armored SSHSIG of `message`. Synchronous: node:crypto signs Ed25519 in about 50 µs. */
export function sshsig(key: OpenSshKey, message: Buffer): string {
  const hashed = createHash(HASH_ALGORITHM).update(message).digest();
  // § Signed Data, of which the signature goes into the blob above
  const signedData = Buffer.concat([
    MAGIC_PREAMBLE, //             byte[6]  MAGIC_PREAMBLE
    sshString(NAMESPACE), //       string   namespace
    sshString(''), //              string   reserved
    sshString(HASH_ALGORITHM), //  string   hash_algorithm
    sshString(hashed), //          string   H(message)
  ]);
  // § Blob format
  const blob = Buffer.concat([
    MAGIC_PREAMBLE, //             byte[6]  MAGIC_PREAMBLE
    uint32(SIG_VERSION), //        uint32   SIG_VERSION
    sshString(key.publicBlob), //  string   publickey
    sshString(NAMESPACE), //       string   namespace
    sshString(''), //              string   reserved
    sshString(HASH_ALGORITHM), //  string   hash_algorithm
    sshString(key.signature(signedData)), // string signature: RFC 4253 §6.6, the algorithm name and its blob
  ]);
  // § Armored format: the blob in base64 between these two lines.
  const lines = blob.toString('base64').match(new RegExp(`.{1,${COLUMNS}}`, 'g'))!;
  return `-----BEGIN SSH SIGNATURE-----\n${lines.join('\n')}\n-----END SSH SIGNATURE-----\n`;
}
