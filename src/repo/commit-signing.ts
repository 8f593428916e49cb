/**
 * Signs the commits the bridge writes (KIPPER_SIGNING_KEY), so that `git verify-commit`
 * passes on the remote. git would spawn `ssh-keygen -Y sign` or `gpg` for every commit; a
 * deploy's p50 has to stay within 5 ms of unsigned, so the same signatures are built here
 * with node:crypto:
 * - SSH: an SSHSIG (openssh PROTOCOL.sshsig, namespace "git") from an OpenSSH private key
 *   (PROTOCOL.key), what `git -c gpg.format=ssh` makes and checks with `ssh-keygen -Y verify`;
 * - OpenPGP: a v4 detached signature of a binary document (RFC 4880 §5.2) from an armored
 *   v4 secret key, what `gpg --detach-sign --armor` makes and `gpg --verify` checks.
 * loadSigner refuses at start every key that cannot make a signature git accepts: the
 * bridge never writes unsigned commits in a signed setup.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KipError } from '../errors.js';

/** Signs commit payloads with one key. */
export interface CommitSigner {
  readonly format: 'ssh' | 'openpgp';
  /** `SHA256:<base64>` as `ssh-keygen -l` prints it, or the 40-hex v4 fingerprint of the OpenPGP (sub)key that signs. */
  readonly fingerprint: string;
  /** For humans and logs: "SSH ED25519 SHA256:…" or "OpenPGP <40-hex fingerprint>". */
  readonly description: string;
  /**
   * The armored signature of `payload`: the commit object without a gpgsig header, exactly
   * the bytes git signs. It ends with a newline, as ssh-keygen and gpg write it.
   */
  sign(payload: Buffer): string;
}

/**
 * `payload` with `signature` as its gpgsig header, byte for byte as git writes it (commit.c
 * add_header_signature): at the end of the header, before the blank line; the first line
 * after `gpgsig `, every further line after one space (an empty line becomes " ").
 */
export function insertSignature(payload: Buffer | string, signature: string): Buffer {
  const commit = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const endOfHeader = commit.indexOf('\n\n');
  const at = endOfHeader < 0 ? commit.length : endOfHeader + 1;
  const header = `gpgsig ${signature.replace(/\n$/, '').split('\n').join('\n ')}\n`;
  return Buffer.concat([commit.subarray(0, at), Buffer.from(header, 'utf8'), commit.subarray(at)]);
}

/** Reads the key at `path`, proves it signs, and returns its signer; CONFIG_INVALID when it cannot. */
export async function loadSigner(path: string): Promise<CommitSigner> {
  const text = await readKeyFile(path);
  if (text.includes(`-----BEGIN ${OPENSSH_LABEL}-----`)) return sshSigner(path, text);
  if (text.includes(`-----BEGIN ${PGP_KEY_LABEL}-----`)) return openpgpSigner(path, text);
  if (PUBLIC_KEY.test(text)) {
    throw keyError(
      path,
      'is a public key; signing needs the private key: for SSH the file without .pub, for OpenPGP `gpg --armor --export-secret-keys <fingerprint>`',
    );
  }
  if (PEM_PRIVATE_KEY.test(text))
    throw keyError(path, "is a PEM private key; Kipper reads OpenSSH's own format: convert a copy with ssh-keygen -p -N '' -f <copy>");
  throw keyError(
    path,
    `is neither an OpenSSH private key (-----BEGIN ${OPENSSH_LABEL}-----) nor an armored OpenPGP secret key (gpg --armor --export-secret-keys <fingerprint>)`,
  );
}

/** Key files Kipper does not sign with, recognised to say what to do instead. */
const PUBLIC_KEY = /-----BEGIN PGP PUBLIC KEY BLOCK-----|---- BEGIN SSH2 PUBLIC KEY ----|-----BEGIN (RSA )?PUBLIC KEY-----|^(ssh|ecdsa|sk)-\S+ AAAA/m;
const PEM_PRIVATE_KEY = /-----BEGIN (RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/;

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

/** Every failure names the file and how to fix it, never the key's bytes. */
function keyError(path: string, problem: string): KipError {
  return new KipError('CONFIG_INVALID', `KIPPER_SIGNING_KEY ${path} ${problem}`, { path });
}

// --- Keys and primitives shared by both formats -------------------------------------------

/** A node:crypto key pair. The public half comes from the key file's public part: what verifiers check against. */
interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The digest node applies before signing; null for Ed25519, which signs the message itself. */
  readonly digest: 'sha256' | 'sha384' | 'sha512' | null;
}

/** Builds the key pair and signs and verifies a probe with it, so that a broken key fails at start. */
function signingKey(path: string, privateJwk: JsonWebKey, publicJwk: JsonWebKey, digest: SigningKey['digest']): SigningKey {
  let key: SigningKey;
  try {
    key = { privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }), publicKey: createPublicKey({ key: publicJwk, format: 'jwk' }), digest };
  } catch {
    throw keyError(path, 'holds key fields that do not form a valid key: the file is corrupt; export or copy it again');
  }
  const probe = Buffer.from('kipper signing self-test');
  const ok = verify(digest, probe, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, rawSign(key, probe));
  if (!ok) throw keyError(path, 'has a private key that does not match its public key: the file is corrupt; export or copy it again');
  return key;
}

function rawSign(key: SigningKey, data: Buffer): Buffer {
  // ECDSA as fixed-size r || s, which both formats re-encode; RSA and Ed25519 ignore the option.
  return sign(key.digest, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
}

/** Big-endian bytes in and out, bounds-checked; `corrupt` makes the error for a short buffer. */
class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    private readonly corrupt: () => KipError,
  ) {}

  /** The error for a malformed field. */
  fail(): KipError {
    return this.corrupt();
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw this.corrupt();
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }

  byte(): number {
    return this.bytes(1)[0]!;
  }

  uint16(): number {
    return this.bytes(2).readUInt16BE(0);
  }

  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }

  /** RFC 4251 §5 `string` (and `mpint`, read as its bytes): uint32 length, then the bytes. */
  string(): Buffer {
    return this.bytes(this.uint32());
  }

  /** RFC 4880 §3.2 MPI: a 2-byte bit count, then the bytes. */
  mpi(): Buffer {
    return this.bytes((this.uint16() + 7) >> 3);
  }
}

function uint16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function withoutLeadingZeros(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  return value.subarray(i);
}

/** An unsigned big-endian integer as a JWK member (RFC 7518 §6: no leading zeros). */
function jwkInt(value: Buffer): string {
  return withoutLeadingZeros(value).toString('base64url');
}

/** A fixed-size JWK member (an EC coordinate or private scalar, an Ed25519 seed), left-padded to `size` bytes. */
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
  return { ...publicJwk, d: jwkInt(f.d), p: jwkInt(f.p), q: jwkInt(f.q), dp: dModPrimeMinusOne(f.p), dq: dModPrimeMinusOne(f.q), qi: jwkInt(f.qi) };
}

/** The base64 body between `-----BEGIN <label>-----` and `-----END <label>-----`, one entry per line. */
function armoredLines(text: string, label: string): string[] | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const begin = lines.indexOf(`-----BEGIN ${label}-----`);
  const end = lines.indexOf(`-----END ${label}-----`, begin);
  return begin < 0 || end < 0 ? undefined : lines.slice(begin + 1, end);
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join('\n');
}

// --- SSH: openssh PROTOCOL.key (the key file) and PROTOCOL.sshsig (the signature) ----------

const OPENSSH_LABEL = 'OPENSSH PRIVATE KEY';
/** PROTOCOL.key: the decoded file starts with this, NUL included. */
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
/** PROTOCOL.key: the cipher and kdf names of a key without a passphrase. */
const OPENSSH_NONE = 'none';
/** PROTOCOL.sshsig: the preamble of both the signature blob and the signed data. */
const SSHSIG_MAGIC = Buffer.from('SSHSIG', 'latin1');
const SSHSIG_VERSION = 1;
/** The namespace git signs and verifies with (gpg-interface.c: `ssh-keygen -Y sign -n git`). */
const SSHSIG_NAMESPACE = 'git';
/** PROTOCOL.sshsig: the message hash; sha512 is ssh-keygen's default. */
const SSHSIG_HASH = 'sha512';
/** PROTOCOL.sshsig armor: base64 in lines of 70 columns, as ssh-keygen writes it. */
const SSHSIG_COLUMNS = 70;

/** One SSH key type: its key fields (PROTOCOL.key, RFC 4253 §6.6) and its signature encoding. */
interface SshKeyType {
  /** As `ssh-keygen -l` prints it. */
  readonly label: string;
  /** The signature algorithm name in the signature blob. */
  readonly algorithm: string;
  readonly digest: SigningKey['digest'];
  /** Reads the public blob's fields after the key type name. */
  readPublic(blob: Reader): JsonWebKey;
  /** Reads the private key's fields after the key type name. */
  readPrivate(priv: Reader): JsonWebKey;
  /** The signature data of the signature blob, from node's signature. */
  encode(raw: Buffer): Buffer;
}

/** ssh-ed25519 (RFC 8709): public key, then seed || public key. */
const SSH_ED25519: SshKeyType = {
  label: 'ED25519',
  algorithm: 'ssh-ed25519',
  digest: null,
  readPublic: (blob) => ({ kty: 'OKP', crv: 'Ed25519', x: blob.string().toString('base64url') }),
  readPrivate: (priv) => {
    const x = priv.string();
    return { kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url'), d: priv.string().subarray(0, 32).toString('base64url') };
  },
  encode: (raw) => raw,
};

/** ssh-rsa keys, signing as rsa-sha2-512 (RFC 8332) like ssh-keygen -Y sign. */
const SSH_RSA: SshKeyType = {
  label: 'RSA',
  algorithm: 'rsa-sha2-512',
  digest: 'sha512',
  readPublic: (blob) => {
    const e = blob.string();
    return { kty: 'RSA', e: jwkInt(e), n: jwkInt(blob.string()) };
  },
  readPrivate: (priv) => {
    const [n, e, d, qi, p, q] = [priv.string(), priv.string(), priv.string(), priv.string(), priv.string(), priv.string()];
    return rsaPrivateJwk({ kty: 'RSA', n: jwkInt(n), e: jwkInt(e) }, { d, p, q, qi });
  },
  encode: (raw) => raw,
};

/** ecdsa-sha2-* (RFC 5656 §3.1): curve name, point 04 || x || y, then the scalar; signed as mpint r, mpint s. */
function sshEcdsa(curve: string, crv: string, digest: SigningKey['digest'], size: number): SshKeyType {
  const point = (r: Reader): JsonWebKey => {
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

/** RFC 4251 §5 string. */
function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** RFC 4251 §5 mpint of an unsigned value: no leading zeros, but a 0 byte before a high bit. */
function sshMpint(value: Buffer): Buffer {
  const v = withoutLeadingZeros(value);
  return sshString(v.length > 0 && v[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function sshSigner(path: string, text: string): CommitSigner {
  const corrupt = () => keyError(path, 'is not a valid OpenSSH private key (truncated or corrupt): copy it again');
  const file = new Reader(Buffer.from(armoredLines(text, OPENSSH_LABEL)?.join('') ?? '', 'base64'), corrupt);
  if (!file.bytes(OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) throw corrupt();
  const cipher = file.string().toString('latin1');
  const kdf = file.string().toString('latin1');
  file.string(); // kdf options
  if (cipher !== OPENSSH_NONE || kdf !== OPENSSH_NONE) {
    throw keyError(
      path,
      `is protected by a passphrase (${cipher}, ${kdf}) the bridge cannot type: decrypt it for the Secret: ssh-keygen -p -N '' -f <copy of the key>`,
    );
  }
  const count = file.uint32();
  if (count !== 1) throw keyError(path, `holds ${count} keys: put exactly one key in the file`);
  const publicBlob = file.string();
  const priv = new Reader(file.string(), corrupt);
  // PROTOCOL.key: two equal check-ints open the private section (they differ after a wrong decryption).
  if (priv.uint32() !== priv.uint32()) throw corrupt();
  const typeName = priv.string().toString('latin1');
  const type = SSH_KEY_TYPES.get(typeName);
  if (type === undefined)
    throw keyError(path, `is a ${typeName} key, which Kipper does not sign with: use ed25519 (ssh-keygen -t ed25519 -N '' -f <file>), RSA or ECDSA`);
  const blob = new Reader(publicBlob, corrupt);
  if (blob.string().toString('latin1') !== typeName) throw corrupt();
  const key = signingKey(path, type.readPrivate(priv), type.readPublic(blob), type.digest);

  const fingerprint = `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
  const header = [SSHSIG_MAGIC, sshString(SSHSIG_NAMESPACE), sshString(''), sshString(SSHSIG_HASH)];
  return {
    format: 'ssh',
    fingerprint,
    description: `SSH ${type.label} ${fingerprint}`,
    sign(payload) {
      const signedData = Buffer.concat([...header, sshString(createHash(SSHSIG_HASH).update(payload).digest())]);
      const signature = Buffer.concat([sshString(type.algorithm), sshString(type.encode(rawSign(key, signedData)))]);
      const blob = Buffer.concat([
        SSHSIG_MAGIC,
        uint32(SSHSIG_VERSION),
        sshString(publicBlob),
        sshString(SSHSIG_NAMESPACE),
        sshString(''), // reserved
        sshString(SSHSIG_HASH),
        sshString(signature),
      ]);
      return `-----BEGIN SSH SIGNATURE-----\n${wrap(blob.toString('base64'), SSHSIG_COLUMNS)}\n-----END SSH SIGNATURE-----\n`;
    },
  };
}

// --- OpenPGP: RFC 4880 (v4 keys and signatures, which RFC 9580 keeps) ---------------------

const PGP_KEY_LABEL = 'PGP PRIVATE KEY BLOCK';
/** RFC 4880 §4.3 packet tags. */
const TAG_SIGNATURE = 2;
const TAG_SECRET_KEY = 5;
const TAG_SECRET_SUBKEY = 7;
/** RFC 4880 §5.5.2 and §5.2.3: the key and signature version made here. */
const V4 = 4;
/** RFC 4880 §5.2.1 signature types. */
const SIG_BINARY_DOCUMENT = 0x00;
const SIG_KEY_REVOCATION = 0x20;
const SIG_SUBKEY_REVOCATION = 0x28;
/** RFC 4880 §5.2.3.1 subpacket types; issuer fingerprint from RFC 9580 §5.2.3.35. */
const SUB_CREATION_TIME = 2;
const SUB_KEY_EXPIRATION = 9;
const SUB_ISSUER_KEY_ID = 16;
const SUB_KEY_FLAGS = 27;
const SUB_ISSUER_FINGERPRINT = 33;
/** RFC 4880 §5.2.3.21: the key flag "may be used to sign data". */
const FLAG_SIGN_DATA = 0x02;
/** RFC 4880 §9.4: SHA512. */
const HASH_SHA512 = 10;
/** RFC 4880 §5.5.3: S2K usage 0 stores the secret in the clear; 254 and 255 put a cipher and an S2K specifier next. */
const S2K_USAGE_NONE = 0;
const S2K_USAGE_SPECIFIED = [254, 255];
/** GnuPG's S2K type "gnu-dummy": the secret is not in the file (gpg --export-secret-subkeys, or a smartcard). */
const S2K_GNU_DUMMY = 101;
/** RFC 4880 §6.1 armor checksum. */
const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;
/** RFC 4880 §6.3: gpg writes 64 base64 columns. */
const PGP_ARMOR_COLUMNS = 64;

/** One public-key algorithm: its key fields (RFC 4880 §5.5.2, §5.5.3) and its signature MPIs (§5.2.2). */
interface PgpAlgorithm {
  readonly digest: SigningKey['digest'];
  /** The public fields as a JWK; undefined for a curve Kipper does not sign with. */
  readPublic(r: Reader): JsonWebKey | undefined;
  readPrivate(r: Reader, publicJwk: JsonWebKey): JsonWebKey;
  /** The MPIs of a signature over `signed`, whose SHA-512 is `hash`. */
  signatureMpis(key: SigningKey, signed: Buffer, hash: Buffer): Buffer;
}

/** RSA (§5.5.2: n, e; §5.5.3: d, p, q, u = p⁻¹ mod q): PKCS#1 v1.5 of the hashed data (§5.2.2). */
const PGP_RSA: PgpAlgorithm = {
  digest: 'sha512',
  readPublic: (r) => {
    const n = r.mpi();
    return { kty: 'RSA', n: jwkInt(n), e: jwkInt(r.mpi()) };
  },
  readPrivate: (r, pub) => {
    const [d, p, q, u] = [r.mpi(), r.mpi(), r.mpi(), r.mpi()];
    // OpenPGP's u is p⁻¹ mod q: with the primes swapped it is JWK's qi = q⁻¹ mod p.
    return rsaPrivateJwk(pub, { d, p: q, q: p, qi: u });
  },
  signatureMpis: (key, signed) => pgpMpi(rawSign(key, signed)),
};

/** RFC 9580 §9.2: the curve OID of Ed25519 for EdDSALegacy, 1.3.6.1.4.1.11591.15.1, without the DER tag and length. */
const ED25519_LEGACY_OID = Buffer.from('2b06010401da470f01', 'hex');
/** RFC 9580 §5.5.5.5: an EdDSALegacy point is 0x40 || the 32-byte public key. */
const EDDSA_POINT_PREFIX = 0x40;

/** EdDSALegacy over Ed25519 (RFC 9580 §5.5.5.5, §5.2.3.3): signs the hash itself; the signature is MPI r, MPI s. */
const PGP_EDDSA_LEGACY: PgpAlgorithm = {
  digest: null,
  readPublic: (r) => {
    if (!r.bytes(r.byte()).equals(ED25519_LEGACY_OID)) return undefined;
    const point = r.mpi();
    if (point.length !== 33 || point[0] !== EDDSA_POINT_PREFIX) throw r.fail();
    return { kty: 'OKP', crv: 'Ed25519', x: point.subarray(1).toString('base64url') };
  },
  readPrivate: (r, pub) => ({ ...pub, d: jwkFixed(r.mpi(), 32) }),
  signatureMpis: (key, _signed, hash) => {
    const rs = rawSign(key, hash);
    return Buffer.concat([pgpMpi(rs.subarray(0, 32)), pgpMpi(rs.subarray(32))]);
  },
};

/** RFC 4880 §9.1 (22: RFC 9580 §9.1) public-key algorithm ids. */
const PGP_ALGORITHMS = new Map<number, PgpAlgorithm>([
  [1, PGP_RSA], // RSA (Encrypt or Sign)
  [3, PGP_RSA], // RSA Sign-Only
  [22, PGP_EDDSA_LEGACY],
]);

/** Names for errors: signing algorithms (RFC 9580 §9.1) gpg makes keys for that Kipper does not sign with. */
const PGP_UNSUPPORTED_NAMES = new Map([
  [17, 'DSA'],
  [19, 'ECDSA'],
  [22, 'EdDSALegacy over a curve other than Ed25519'],
  [27, 'Ed25519 (RFC 9580)'],
  [28, 'Ed448'],
]);

/** RFC 4880 §3.2 MPI. */
function pgpMpi(value: Buffer): Buffer {
  const v = withoutLeadingZeros(value);
  const bits = v.length === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
  return Buffer.concat([uint16(bits), v]);
}

/** A key packet of the file with what its self-signatures say about it. */
interface PgpKey {
  readonly primary: boolean;
  readonly body: Buffer;
  readonly created: number;
  readonly algorithm: number;
  /** Key flags of the newest self-signature; undefined when none carries any. */
  flags?: number;
  /** Seconds after `created`; undefined or 0: never. */
  expiresAfter?: number;
  revoked: boolean;
}

function crc24(data: Buffer): number {
  let crc = CRC24_INIT;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
  }
  return crc & 0xffffff;
}

/** RFC 4880 §6.2: armor headers up to a blank line, base64, then an optional `=` + CRC24 line. */
function dearmor(path: string, text: string, corrupt: () => KipError): Buffer {
  const lines = armoredLines(text, PGP_KEY_LABEL);
  const blank = lines?.indexOf('') ?? -1;
  if (lines === undefined || blank < 0) throw corrupt();
  const body = lines.slice(blank + 1);
  const checksum = body.at(-1)?.startsWith('=') ? Buffer.from(body.pop()!.slice(1), 'base64') : undefined;
  const data = Buffer.from(body.join(''), 'base64');
  if (checksum !== undefined && (checksum.length !== 3 || checksum.readUIntBE(0, 3) !== crc24(data))) {
    throw keyError(path, 'fails its armor checksum: the file was changed or cut short; export it again');
  }
  return data;
}

/** RFC 4880 §4.2: old-format (§4.2.1) and new-format (§4.2.2) packet headers. */
function readPackets(data: Buffer, corrupt: () => KipError): Array<{ tag: number; body: Buffer }> {
  const r = new Reader(data, corrupt);
  const packets: Array<{ tag: number; body: Buffer }> = [];
  while (!r.done) {
    const header = r.byte();
    if ((header & 0x80) === 0) throw corrupt();
    let tag: number;
    let length: number;
    if (header & 0x40) {
      tag = header & 0x3f;
      const first = r.byte();
      if (first < 192) length = first;
      else if (first < 224) length = ((first - 192) << 8) + r.byte() + 192;
      else if (first === 255) length = r.uint32();
      else throw corrupt(); // partial body lengths stream data; keys never use them
    } else {
      tag = (header >> 2) & 0x0f;
      const lengthType = header & 0x03;
      length = lengthType === 0 ? r.byte() : lengthType === 1 ? r.uint16() : lengthType === 2 ? r.uint32() : r.buf.length - r.pos;
    }
    packets.push({ tag, body: r.bytes(length) });
  }
  return packets;
}

/** RFC 4880 §5.2.3.1 subpackets, by type (the critical bit dropped). */
function readSubpackets(data: Buffer, corrupt: () => KipError): Map<number, Buffer> {
  const r = new Reader(data, corrupt);
  const out = new Map<number, Buffer>();
  while (!r.done) {
    const first = r.byte();
    const length = first < 192 ? first : first < 255 ? ((first - 192) << 8) + r.byte() + 192 : r.uint32();
    const body = r.bytes(length);
    if (length === 0) throw corrupt();
    out.set(body[0]! & 0x7f, body.subarray(1));
  }
  return out;
}

/** The primary key and subkeys, with the flags, expiry and revocation their signatures give them. */
function readKeys(path: string, packets: Array<{ tag: number; body: Buffer }>, corrupt: () => KipError): PgpKey[] {
  const keys: PgpKey[] = [];
  for (const { tag, body } of packets) {
    if (tag === TAG_SECRET_KEY || tag === TAG_SECRET_SUBKEY) {
      if (tag === TAG_SECRET_KEY && keys.length > 0)
        throw keyError(path, 'holds several keys: export exactly one: gpg --armor --export-secret-keys <fingerprint>');
      const r = new Reader(body, corrupt);
      const version = r.byte();
      if (version !== V4) throw keyError(path, `is a version ${version} key; Kipper signs with version 4 keys, which gpg makes`);
      keys.push({ primary: tag === TAG_SECRET_KEY, body, created: r.uint32(), algorithm: r.byte(), revoked: false });
      continue;
    }
    const key = keys.at(-1);
    if (tag !== TAG_SIGNATURE || key === undefined || body[0] !== V4) continue;
    const r = new Reader(body, corrupt);
    const type = r.bytes(4)[1];
    if (type === (key.primary ? SIG_KEY_REVOCATION : SIG_SUBKEY_REVOCATION)) key.revoked = true;
    // Only self-signatures carry key flags (RFC 4880 §5.2.3.21), which tells them from
    // certifications by others. gpg writes them oldest first: the last one counts.
    const subpackets = readSubpackets(r.bytes(r.uint16()), corrupt);
    const flags = subpackets.get(SUB_KEY_FLAGS);
    if (flags !== undefined) {
      const expiration = subpackets.get(SUB_KEY_EXPIRATION);
      key.flags = flags[0] ?? 0;
      key.expiresAfter = expiration && new Reader(expiration, corrupt).uint32();
    }
  }
  if (keys[0]?.primary !== true) throw corrupt();
  return keys;
}

function expiry(key: PgpKey): number | undefined {
  return key.expiresAfter ? key.created + key.expiresAfter : undefined;
}

function isValid(key: PgpKey, now: number): boolean {
  return !key.revoked && (expiry(key) ?? Infinity) > now;
}

/** A key pair that can sign, its algorithm, and the v4 fingerprint of its key packet (RFC 4880 §12.2). */
interface PgpSigningKey {
  readonly key: SigningKey;
  readonly algorithmId: number;
  readonly algorithm: PgpAlgorithm;
  readonly fingerprint: Buffer;
  readonly subkey: boolean;
}

/** Like gpg: the newest valid signing subkey whose secret is in the file, else the primary key. */
function chooseSigningKey(path: string, keys: PgpKey[], now: number): PgpSigningKey {
  const primary = keys[0]!;
  if (primary.revoked) throw keyError(path, 'is revoked: make a new key and put its public key where the remote verifies commits');
  const expired = expiry(primary);
  if (expired !== undefined && expired <= now) {
    const day = new Date(expired * 1000).toISOString().slice(0, 10);
    throw keyError(path, `expired on ${day}: extend it (gpg --quick-set-expire <fingerprint> 1y), export it again, and publish the new public key`);
  }
  const canSign = (k: PgpKey) => (k.flags === undefined ? k.primary : (k.flags & FLAG_SIGN_DATA) !== 0) && isValid(k, now);
  const subkeys = keys.filter((k) => !k.primary && canSign(k)).sort((a, b) => b.created - a.created);
  for (const candidate of [...subkeys, ...(canSign(primary) ? [primary] : [])]) {
    const chosen = readSecretKey(path, candidate);
    if (chosen !== undefined) return chosen;
  }
  throw keyError(path, 'holds no secret key that may sign data: add one (gpg --quick-add-key <fingerprint> ed25519 sign) and export it again');
}

/** The key pair of a key packet (RFC 4880 §5.5.3), or undefined when its secret is not in the file. */
function readSecretKey(path: string, key: PgpKey): PgpSigningKey | undefined {
  const corrupt = () => keyError(path, 'holds a corrupt secret key: export it again with gpg --armor --export-secret-keys <fingerprint>');
  const algorithm = PGP_ALGORITHMS.get(key.algorithm);
  const name = PGP_UNSUPPORTED_NAMES.get(key.algorithm) ?? `algorithm ${key.algorithm}`;
  const unsupported = () =>
    keyError(path, `signs with ${name}, which Kipper does not sign with: use an ed25519 or RSA key (gpg --quick-gen-key '<name> <email>' ed25519 sign)`);
  if (algorithm === undefined) throw unsupported();
  const r = new Reader(key.body, corrupt);
  r.bytes(6); // version, creation time, algorithm: read by readKeys
  const publicJwk = algorithm.readPublic(r);
  if (publicJwk === undefined) throw unsupported();
  const publicPart = key.body.subarray(0, r.pos);

  const usage = r.byte();
  if (S2K_USAGE_SPECIFIED.includes(usage)) {
    r.byte(); // cipher
    if (r.byte() === S2K_GNU_DUMMY) return undefined;
  }
  if (usage !== S2K_USAGE_NONE) {
    throw keyError(
      path,
      'is protected by a passphrase the bridge cannot type: remove it in a scratch GNUPGHOME (gpg --passwd <fingerprint>, empty passphrase), then gpg --armor --export-secret-keys of that key without a passphrase',
    );
  }
  const secretStart = r.pos;
  const privateJwk = algorithm.readPrivate(r, publicJwk);
  // §5.5.3: with S2K usage 0 the secret MPIs end with the sum of their bytes, mod 65536.
  const sum = key.body.subarray(secretStart, r.pos).reduce((a, b) => (a + b) & 0xffff, 0);
  if (r.uint16() !== sum) throw corrupt();
  return {
    key: signingKey(path, privateJwk, publicJwk, algorithm.digest),
    algorithmId: key.algorithm,
    algorithm,
    fingerprint: createHash('sha1')
      .update(Buffer.from([0x99]))
      .update(uint16(publicPart.length))
      .update(publicPart)
      .digest(),
    subkey: !key.primary,
  };
}

function subpacket(type: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([data.length + 1, type]), data]);
}

/** RFC 4880 §4.2.2 new-format packet header. */
function newFormatPacket(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length =
    n < 192 ? Buffer.from([n]) : n < 8384 ? Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]) : Buffer.concat([Buffer.from([255]), uint32(n)]);
  return Buffer.concat([Buffer.from([0xc0 | tag]), length, body]);
}

function openpgpSigner(path: string, text: string): CommitSigner {
  const corrupt = () =>
    keyError(path, 'is not a valid armored OpenPGP secret key (truncated or corrupt): export it again with gpg --armor --export-secret-keys <fingerprint>');
  const keys = readKeys(path, readPackets(dearmor(path, text, corrupt), corrupt), corrupt);
  const { key, algorithmId, algorithm, fingerprint, subkey } = chooseSigningKey(path, keys, Math.floor(Date.now() / 1000));
  const hex = fingerprint.toString('hex').toUpperCase();
  const issuerFingerprint = subpacket(SUB_ISSUER_FINGERPRINT, Buffer.concat([Buffer.from([V4]), fingerprint]));
  // §12.2: the key ID is the low 64 bits of a v4 fingerprint.
  const unhashed = subpacket(SUB_ISSUER_KEY_ID, fingerprint.subarray(12));
  return {
    format: 'openpgp',
    fingerprint: hex,
    description: `OpenPGP ${hex}${subkey ? ' (signing subkey)' : ''}`,
    sign(payload) {
      // §5.2.3: the hashed part of a v4 signature; §5.2.4: what the hash covers.
      const hashedSubpackets = Buffer.concat([issuerFingerprint, subpacket(SUB_CREATION_TIME, uint32(Math.floor(Date.now() / 1000)))]);
      const hashed = Buffer.concat([Buffer.from([V4, SIG_BINARY_DOCUMENT, algorithmId, HASH_SHA512]), uint16(hashedSubpackets.length), hashedSubpackets]);
      const signed = Buffer.concat([payload, hashed, Buffer.from([V4, 0xff]), uint32(hashed.length)]);
      const hash = createHash('sha512').update(signed).digest();
      const body = Buffer.concat([hashed, uint16(unhashed.length), unhashed, hash.subarray(0, 2), algorithm.signatureMpis(key, signed, hash)]);
      const packet = newFormatPacket(TAG_SIGNATURE, body);
      const crc = Buffer.alloc(3);
      crc.writeUIntBE(crc24(packet), 0, 3);
      return `-----BEGIN PGP SIGNATURE-----\n\n${wrap(packet.toString('base64'), PGP_ARMOR_COLUMNS)}\n=${crc.toString('base64')}\n-----END PGP SIGNATURE-----\n`;
    },
  };
}
