import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrustRule } from '../../../src/config/kipper-file.js';
import { OidcVerifier } from '../../../src/webhooks/oidc-verifier.js';
import { eventually } from '../../helpers/eventually.js';
import { loopbackCertificate, startOidcIssuer, type OidcIssuer } from '../../helpers/oidc-issuer.js';

// The verifier against a real issuer over HTTPS (test/integration/oidc-ci.test.ts runs it
// inside a bridge); here with a short refetch cooldown, so that a rotation completes in a test.
const APP = 'shop-test/api';
// Long enough for the refusals below on a busy machine, short enough to wait out.
const COOLDOWN_MS = 2_000;

describe('OidcVerifier', () => {
  let issuer: OidcIssuer;
  let rules: TrustRule[];
  const claims = { sub: 'repo:acme/api:ref:refs/heads/main', aud: 'kipper', repository: 'acme/api' };

  beforeAll(async () => {
    issuer = await startOidcIssuer(await loopbackCertificate());
    await issuer.addKey();
    rules = [{ issuer: issuer.url, audience: 'kipper', claims: { repository: 'acme/api' }, apps: [APP] }];
  });
  afterAll(() => issuer?.close());

  it('accepts a key after rotation once the JWKS serves it, fetching again at most once per cooldown', async () => {
    const verifier = new OidcVerifier({ refetchCooldownMs: COOLDOWN_MS, fetch: issuer.fetch });
    const old = await issuer.mint(claims);
    const rotated = await issuer.addKey({ publish: false });
    const token = await issuer.mint(claims, { kid: rotated });
    // The key set is fetched after this moment: the cooldown runs from then.
    const firstFetch = Date.now();
    expect(await verifier.verify(old, APP, rules, undefined)).toEqual({
      ok: true,
      identity: { subject: claims.sub, run: undefined },
    });
    const fetched = issuer.jwksRequests();
    // Unknown kid within the cooldown: refused, and the JWKS is not fetched again.
    for (let i = 0; i < 5; i++)
      expect(await verifier.verify(token, APP, rules, undefined)).toMatchObject({ ok: false, check: 'kid' });
    expect(issuer.jwksRequests()).toBe(fetched);
    issuer.publish(rotated);
    // Once the cooldown has passed, the unknown kid fetches the keys again: one fetch, and the new key verifies.
    const ok = await eventually(
      'the rotated key verifies',
      async () => ((await verifier.verify(token, APP, rules, undefined)).ok ? Date.now() : false),
      {
        intervalMs: 100,
        timeoutMs: COOLDOWN_MS + 5_000,
      },
    );
    expect(ok - firstFetch).toBeGreaterThanOrEqual(COOLDOWN_MS);
    expect(issuer.jwksRequests()).toBe(fetched + 1);
  });

  it('refuses a token issued in the future beyond the skew, even without nbf', async () => {
    const verifier = new OidcVerifier({ fetch: issuer.fetch });
    const future = await issuer.mint({ ...claims, nbf: undefined }, { issuedAt: 120, expiresIn: 600 });
    expect(await verifier.verify(future, APP, rules, undefined)).toMatchObject({ ok: false, check: 'expiry' });
    const skewed = await issuer.mint({ ...claims, nbf: undefined }, { issuedAt: 30, expiresIn: 600 });
    expect((await verifier.verify(skewed, APP, rules, undefined)).ok).toBe(true);
  });

  it('refuses a token without sub, and one whose issuer discovery names another issuer', async () => {
    const verifier = new OidcVerifier({ fetch: issuer.fetch });
    expect(
      await verifier.verify(await issuer.mint({ ...claims, sub: undefined }), APP, rules, undefined),
    ).toMatchObject({ ok: false, check: 'subject' });
    // A rule for the same server under another path: its discovery document (404) cannot be used.
    const elsewhere = `${issuer.url}/elsewhere`;
    const token = await issuer.mint({ ...claims, iss: elsewhere });
    const result = await verifier.verify(token, APP, [{ ...rules[0]!, issuer: elsewhere }], undefined);
    expect(result).toMatchObject({ ok: false, check: 'discovery' });
  });
});
