import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/** A self-signed certificate for 127.0.0.1; its file is what a bridge gets as NODE_EXTRA_CA_CERTS. */
export interface LoopbackCertificate {
  key: string;
  cert: string;
  certFile: string;
}

/** Make a certificate for https://127.0.0.1 with the real `openssl`, valid for a day. */
export async function loopbackCertificate(): Promise<LoopbackCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-oidc-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=kipper-test-issuer',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

/** How a token is minted: by which key, and with which times and header. */
export interface MintOptions {
  /** The key's id (default: the newest published key). */
  kid?: string;
  /** Seconds from now (default 300); negative for an expired token. */
  expiresIn?: number;
  /** `iat` as seconds from now (default 0). */
  issuedAt?: number;
}

/** A local OpenID issuer over real HTTPS: discovery, JWKS, and ID tokens signed by its keys. */
export interface OidcIssuer {
  /** The issuer URL (`iss`), e.g. https://127.0.0.1:port/_services/token. */
  url: string;
  /** How many times the JWKS was fetched. */
  jwksRequests(): number;
  /** A new RS256 key; `publish: false` signs tokens the JWKS does not yet serve (a rotation in progress). */
  addKey(options?: { publish?: boolean }): Promise<string>;
  /** Serve the key in the JWKS from now on. */
  publish(kid: string): void;
  /** Stop serving the key. */
  retire(kid: string): void;
  /** An ID token with `iss` this issuer's and the claims given. */
  mint(claims: JWTPayload, options?: MintOptions): Promise<string>;
  /** The same claims with `alg: none` and no signature. */
  mintUnsigned(claims: JWTPayload): string;
  /** The same claims signed HS256 with a published key's public key as the HMAC secret. */
  mintWithPublicKeyAsSecret(claims: JWTPayload): Promise<string>;
  /** A fetch that trusts the issuer's certificate, for verifiers in this process. */
  fetch: typeof fetch;
  close(): Promise<void>;
}

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  published: boolean;
}

/** Start an issuer on 127.0.0.1 whose URL ends in `path` (e.g. `/_services/token`, GitHub Enterprise Server's shape). */
export async function startOidcIssuer(tls: LoopbackCertificate, path = ''): Promise<OidcIssuer> {
  const keys = new Map<string, Key>();
  let jwksRequests = 0;
  let url = '';
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === `${path}/.well-known/openid-configuration`) {
      send(200, {
        issuer: url,
        jwks_uri: `${url}/jwks`,
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['id_token'],
      });
    } else if (req.url === `${path}/jwks`) {
      jwksRequests++;
      send(200, { keys: [...keys.values()].filter((k) => k.published).map((k) => k.jwk) });
    } else {
      send(404, { error: 'not found' });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

  const newest = () => [...keys.entries()].filter(([, k]) => k.published).at(-1);
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const withTimes = (claims: JWTPayload, options: MintOptions = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    const iat = now + (options.issuedAt ?? 0);
    return { iss: url, iat, nbf: iat, exp: now + (options.expiresIn ?? 300), jti: randomUUID(), ...claims };
  };

  const issuer: OidcIssuer = {
    url,
    jwksRequests: () => jwksRequests,
    async addKey(options = {}) {
      const kid = randomUUID();
      const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
      keys.set(kid, {
        privateKey,
        jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
        published: options.publish ?? true,
      });
      return kid;
    },
    publish(kid) {
      keys.get(kid)!.published = true;
    },
    retire(kid) {
      keys.get(kid)!.published = false;
    },
    async mint(claims, options = {}) {
      const kid = options.kid ?? newest()![0];
      return new SignJWT(withTimes(claims, options))
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .sign(keys.get(kid)!.privateKey);
    },
    mintUnsigned(claims) {
      return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(withTimes(claims))}.`;
    },
    async mintWithPublicKeyAsSecret(claims) {
      const [kid, key] = newest()!;
      const { kty, n, e } = key.jwk;
      const pem = await exportSPKI((await importJWK({ kty, n, e }, 'RS256', { extractable: true })) as CryptoKey);
      return new SignJWT(withTimes(claims))
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(pem));
    },
    fetch: (input, init) => httpsFetch(String(input instanceof Request ? input.url : input), init, tls.cert),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return issuer;
}

/** GET over node's https with the test certificate trusted: the global fetch only trusts NODE_EXTRA_CA_CERTS read at start. */
function httpsFetch(url: string, init: RequestInit | undefined, ca: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init?.method ?? 'GET', ca, signal: init?.signal ?? undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500 })));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
