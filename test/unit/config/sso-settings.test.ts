import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSsoSettings } from '../../../src/config/sso-settings.js';

describe('KIPPER_OIDC_* settings', () => {
  it('is off without an issuer, with the defaults when one is set', () => {
    expect(loadSsoSettings({})).toBeUndefined();
    expect(loadSsoSettings({ KIPPER_OIDC_ISSUER: 'https://id.example.com', KIPPER_OIDC_CLIENT_ID: 'kipper' })).toEqual({
      issuer: 'https://id.example.com',
      clientId: 'kipper',
      clientSecret: undefined,
      groupsClaim: 'groups',
      sessionCheckSeconds: 300,
    });
  });

  it('refuses what would not work, naming the variable and never the secret', async () => {
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [
        { KIPPER_OIDC_ISSUER: 'http://id.example.com', KIPPER_OIDC_CLIENT_ID: 'k' },
        /KIPPER_OIDC_ISSUER: must be the https URL/,
      ],
      [{ KIPPER_OIDC_ISSUER: 'https://id.example.com' }, /KIPPER_OIDC_CLIENT_ID: required/],
      [{ KIPPER_OIDC_CLIENT_ID: 'k' }, /without KIPPER_OIDC_ISSUER/],
      [
        { KIPPER_OIDC_ISSUER: 'https://id.example.com', KIPPER_OIDC_CLIENT_ID: 'k', KIPPER_OIDC_SESSION_CHECK: '0' },
        /KIPPER_OIDC_SESSION_CHECK/,
      ],
      [
        {
          KIPPER_OIDC_ISSUER: 'https://id.example.com',
          KIPPER_OIDC_CLIENT_ID: 'k',
          KIPPER_OIDC_CLIENT_SECRET_FILE: '/nonexistent/secret',
        },
        /cannot read \/nonexistent\/secret \(ENOENT\)/,
      ],
    ];
    for (const [env, message] of cases) expect(() => loadSsoSettings(env), JSON.stringify(env)).toThrow(message);
    const dir = await mkdtemp(join(tmpdir(), 'kip-sso-'));
    await writeFile(join(dir, 'secret'), 's3cr3t-value\n');
    expect(
      loadSsoSettings({
        KIPPER_OIDC_ISSUER: 'https://id.example.com',
        KIPPER_OIDC_CLIENT_ID: 'k',
        KIPPER_OIDC_CLIENT_SECRET_FILE: join(dir, 'secret'),
      })?.clientSecret,
    ).toBe('s3cr3t-value');
  });
});
