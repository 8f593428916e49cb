/**
 * Reads an OpenSSH private key file (openssh PROTOCOL.key, what `ssh-keygen` writes) into
 * node:crypto keys. node reads PEM, DER and JWK but not this format, and no maintained npm
 * library reads it without pulling in a whole SSH client, so the few fields are read here.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { keyError } from './key-error.js';
import { SshReader, sshMpint, sshString, withoutLeadingZeros } from './ssh-wire.js';

export const OPENSSH_LABEL = 'OPENSSH PRIVATE KEY';
/** PROTOCOL.key: `byte[] AUTH_MAGIC`, "openssh-key-v1" and its NUL. */
const AUTH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
/** PROTOCOL.key: the `ciphername` and `kdfname` of a key without a passphrase. */
const NONE = 'none';

/** The digest node applies before signing; null for Ed25519, which signs the message itself. */
type Digest = 'sha256' | 'sha384' | 'sha512' | null;

/** One private key of an OpenSSH key file, ready to sign. */
export interface OpenSshKey {
  /** The `publickey` blob (RFC 4253 §6.6): what PROTOCOL.sshsig embeds and verifiers match. */
  readonly publicBlob: Buffer;
  /** `SHA256:<base64>`, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** As `ssh-keygen -l` prints it: ED25519, RSA, ECDSA. */
  readonly label: string;
  /** The signature format (RFC 4253 §6.6) of the `signature` it makes: `string` algorithm name, `string` blob. */
  signature(data: Buffer): Buffer;
}

/** One SSH key type: its fields in PROTOCOL.key and RFC 4253 §6.6, and its signature encoding. */
interface SshKeyType {
  readonly label: string;
  /** The signature algorithm name. */
  readonly algorithm: string;
  readonly digest: Digest;
  /** The public blob's fields after the key type name. */
  readPublic(blob: SshReader): JsonWebKey;
  /** The private key's fields after the key type name. */
  readPrivate(priv: SshReader): JsonWebKey;
  /** The signature blob, from node's signature (ECDSA as r || s). */
  encode(raw: Buffer): Buffer;
}

/** ssh-ed25519 (RFC 8709 §4, PROTOCOL.key): `string` public key; private: `string` public key, `string` seed || public key. */
const SSH_ED25519: SshKeyType = {
  label: 'ED25519',
  algorithm: 'ssh-ed25519',
  digest: null,
  readPublic: (blob) => ({ kty: 'OKP', crv: 'Ed25519', x: blob.string().toString('base64url') }),
  readPrivate: (priv) => {
    const x = priv.string();
    return {
      kty: 'OKP',
      crv: 'Ed25519',
      x: x.toString('base64url'),
      d: priv.string().subarray(0, 32).toString('base64url'),
    };
  },
  encode: (raw) => raw,
};

/** ssh-rsa (RFC 4253 §6.6: e, n; PROTOCOL.key private: n, e, d, iqmp, p, q), signing as rsa-sha2-512 (RFC 8332) like ssh-keygen -Y sign. */
const SSH_RSA: SshKeyType = {
  label: 'RSA',
  algorithm: 'rsa-sha2-512',
  digest: 'sha512',
  readPublic: (blob) => {
    const e = blob.string();
    return { kty: 'RSA', e: jwkInt(e), n: jwkInt(blob.string()) };
  },
  readPrivate: (priv) => {
    const [n, e, d, iqmp, p, q] = [
      priv.string(),
      priv.string(),
      priv.string(),
      priv.string(),
      priv.string(),
      priv.string(),
    ];
    return rsaPrivateJwk({ kty: 'RSA', n: jwkInt(n), e: jwkInt(e) }, { d, p, q, qi: iqmp });
  },
  encode: (raw) => raw,
};

/** ecdsa-sha2-* (RFC 5656 §3.1): `string` curve, `string` Q = 04 || x || y, private `mpint` d; signature `mpint` r, `mpint` s. */
function sshEcdsa(curve: string, crv: string, digest: Digest, size: number): SshKeyType {
  const point = (r: SshReader): JsonWebKey => {
    if (r.string().toString('latin1') !== curve) throw r.fail();
    const q = r.string();
    if (q[0] !== 0x04 || q.length !== 1 + 2 * size) throw r.fail(); // SEC 1 §2.3.3 uncompressed point
    return { kty: 'EC', crv, x: jwkFixed(q.subarray(1, 1 + size), size), y: jwkFixed(q.subarray(1 + size), size) };
  };
  return {
    label: 'ECDSA',
    algorithm: `ecdsa-sha2-${curve}`,
    digest,
    readPublic: point,
    readPrivate: (priv) => ({ ...point(priv), d: jwkFixed(priv.string(), size) }),
    encode: (raw) => Buffer.concat([sshMpint(raw.subarray(0, size)), sshMpint(raw.subarray(size))]),
  };
}

const SSH_KEY_TYPES = new Map<string, SshKeyType>([
  ['ssh-ed25519', SSH_ED25519],
  ['ssh-rsa', SSH_RSA],
  ['ecdsa-sha2-nistp256', sshEcdsa('nistp256', 'P-256', 'sha256', 32)],
  ['ecdsa-sha2-nistp384', sshEcdsa('nistp384', 'P-384', 'sha384', 48)],
  ['ecdsa-sha2-nistp521', sshEcdsa('nistp521', 'P-521', 'sha512', 66)],
]);

/** The one key of the OpenSSH private key file `text` (read from `path`, for errors); CONFIG_INVALID when it cannot sign. */
export function readOpenSshKey(path: string, text: string): OpenSshKey {
  const corrupt = () => keyError(path, 'is not a valid OpenSSH private key (truncated or corrupt): copy it again');
  const file = new SshReader(Buffer.from(armoredBody(text), 'base64'), corrupt);
  if (!file.bytes(AUTH_MAGIC.length).equals(AUTH_MAGIC)) throw corrupt();
  const ciphername = file.string().toString('latin1');
  const kdfname = file.string().toString('latin1');
  file.string(); // kdfoptions
  if (ciphername !== NONE || kdfname !== NONE) {
    // OpenSSH encrypts with bcrypt_pbkdf, which node:crypto lacks; KIPPER_SIGNING_KEY_PASSPHRASE is for OpenPGP keys.
    throw keyError(
      path,
      `is protected by a passphrase (${ciphername}, ${kdfname}); the bridge reads SSH keys without one: decrypt a copy for the Secret: ssh-keygen -p -N '' -f <copy of the key>`,
    );
  }
  const n = file.uint32();
  if (n !== 1) throw keyError(path, `holds ${n} keys: put exactly one key in the file`);
  const publickey1 = file.string();
  const priv = new SshReader(file.string(), corrupt); // "encrypted, padded list of private keys": in the clear with cipher none
  if (priv.uint32() !== priv.uint32()) throw corrupt(); // two equal checkints (they differ after a wrong decryption)
  const keytype = priv.string().toString('latin1');
  const type = SSH_KEY_TYPES.get(keytype);
  if (type === undefined)
    throw keyError(
      path,
      `is a ${keytype} key, which Kipper does not sign with: use ed25519 (ssh-keygen -t ed25519 -N '' -f <file>), RSA or ECDSA`,
    );
  const blob = new SshReader(publickey1, corrupt);
  if (blob.string().toString('latin1') !== keytype) throw corrupt();
  const { privateKey, publicKey } = keyPair(path, type.readPrivate(priv), type.readPublic(blob));
  // Verifiers check against publickey1, not the private section's copy: a mismatch must fail here, not on the remote.
  const probe = Buffer.from('kipper signing self-test');
  const raw = sign(type.digest, probe, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  if (!verify(type.digest, probe, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw))
    throw keyError(path, 'has a private key that does not match its public key: the file is corrupt; copy it again');
  return {
    publicBlob: publickey1,
    fingerprint: `SHA256:${createHash('sha256').update(publickey1).digest('base64').replace(/=+$/, '')}`,
    label: type.label,
    signature(data) {
      // ECDSA as fixed-size r || s, which encode() makes mpints of; RSA and Ed25519 ignore the option.
      const sig = sign(type.digest, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return Buffer.concat([sshString(type.algorithm), sshString(type.encode(sig))]);
    },
  };
}

function keyPair(
  path: string,
  privateJwk: JsonWebKey,
  publicJwk: JsonWebKey,
): { privateKey: KeyObject; publicKey: KeyObject } {
  try {
    return {
      privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }),
      publicKey: createPublicKey({ key: publicJwk, format: 'jwk' }),
    };
  } catch {
    throw keyError(path, 'holds key fields that do not form a valid key: the file is corrupt; copy it again');
  }
}

/** The base64 between `-----BEGIN OPENSSH PRIVATE KEY-----` and its END line. */
function armoredBody(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const begin = lines.indexOf(`-----BEGIN ${OPENSSH_LABEL}-----`);
  const end = lines.indexOf(`-----END ${OPENSSH_LABEL}-----`, begin);
  return begin < 0 || end < 0 ? '' : lines.slice(begin + 1, end).join('');
}

/** An unsigned big-endian integer as a JWK member (RFC 7518 §6: no leading zeros). */
function jwkInt(value: Buffer): string {
  return withoutLeadingZeros(value).toString('base64url');
}

/** A fixed-size JWK member (an EC coordinate or private scalar), left-padded to `size` bytes. */
function jwkFixed(value: Buffer, size: number): string {
  const v = withoutLeadingZeros(value);
  return Buffer.concat([Buffer.alloc(Math.max(0, size - v.length)), v]).toString('base64url');
}

/** An RSA private JWK (RFC 7518 §6.3.2) from the public one, d, the primes and qi = q⁻¹ mod p; dp and dq derived. */
function rsaPrivateJwk(publicJwk: JsonWebKey, f: { d: Buffer; p: Buffer; q: Buffer; qi: Buffer }): JsonWebKey {
  const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
  const dModPrimeMinusOne = (prime: Buffer) => {
    const hex = (big(f.d) % (big(prime) - 1n)).toString(16);
    return jwkInt(Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex'));
  };
  return {
    ...publicJwk,
    d: jwkInt(f.d),
    p: jwkInt(f.p),
    q: jwkInt(f.q),
    dp: dModPrimeMinusOne(f.p),
    dq: dModPrimeMinusOne(f.q),
    qi: jwkInt(f.qi),
  };
}
