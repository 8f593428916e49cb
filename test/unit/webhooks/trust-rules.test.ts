import { describe, expect, it } from 'vitest';
import { parseKipperFile, type TrustRule } from '../../../src/config/kipper-file.js';
import { isKipError } from '../../../src/errors.js';
import { ciRunUrl } from '../../../src/webhooks/ci-run-url.js';
import { globMatch, matchTrust } from '../../../src/webhooks/match-trust.js';

const GITHUB = 'https://token.actions.githubusercontent.com';
const APPS = 'apps:\n  - { namespace: shop-test, name: api, files: [a.yaml] }\n';

function issuesOf(yaml: string): string[] {
  try {
    parseKipperFile(yaml);
  } catch (err) {
    if (isKipError(err, 'CONFIG_INVALID')) return err.data.issues as string[];
    throw err;
  }
  return [];
}

describe('kipper.yaml trust:', () => {
  it('parses rules, claim values as strings and the audience left to KIPPER_PUBLIC_URL', () => {
    const config = parseKipperFile(`${APPS}trust:
  - issuer: ${GITHUB}
    audience: kipper
    claims: { repository: acme/api, ref: "refs/heads/*" }
    apps: [shop-test/api, shop-prod/api]
  - issuer: https://gitlab.example.com
    claims: { project_id: 42 }
    apps: [shop-test/api]
`);
    expect(config.trust).toEqual<TrustRule[]>([
      {
        issuer: GITHUB,
        audience: 'kipper',
        claims: { repository: 'acme/api', ref: 'refs/heads/*' },
        apps: ['shop-test/api'],
      },
      {
        issuer: 'https://gitlab.example.com',
        audience: undefined,
        claims: { project_id: '42' },
        apps: ['shop-test/api'],
      },
    ]);
    expect(parseKipperFile(APPS).trust).toEqual([]);
  });

  it("keeps only the file's own apps in a rule: one config repo never trusts tokens for another's", () => {
    const config = parseKipperFile(`${APPS}trust:
  - { issuer: ${GITHUB}, claims: { repository: acme/api }, apps: [shop-test/api, other-repo/api] }
`);
    expect(config.trust[0]!.apps).toEqual(['shop-test/api']);
  });

  it('names every bad field as path: message', () => {
    const issues = issuesOf(`${APPS}trust:
  - issuer: http://gitlab.example.com
    claims: { project_path: acme/api }
    apps: [shop-test/api]
  - issuer: ${GITHUB}
    claims: { repository: "*" }
    apps: [shop-test/api]
  - issuer: ${GITHUB}
    claims: { repository: acme/api }
    apps: [api]
  - issuer: ${GITHUB}
    claims: { repository: acme/api }
    apps: []
    subject: x
`);
    expect(issues).toHaveLength(5);
    expect(issues[0]).toMatch(/^kipper\.yaml: trust\[0\]\.issuer: must be the https URL/);
    expect(issues[1]).toMatch(/^kipper\.yaml: trust\[1\]\.claims: list at least one claim that is not only \*/);
    expect(issues[2]).toMatch(/^kipper\.yaml: trust\[2\]\.apps\[0\]: must be <namespace>\/<app>/);
    expect(issues.slice(3).join('\n')).toMatch(/trust\[3\]\.apps: list the apps/);
    expect(issues.slice(3).join('\n')).toMatch(/trust\[3\]: .*subject/);
  });
});

describe('globMatch', () => {
  it.each([
    ['acme/api', 'acme/api', true],
    ['acme/api', 'acme/api2', false],
    ['acme/*', 'acme/api', true],
    ['acme/*', 'acme/', true],
    ['acme/*', 'acmeX/api', false],
    ['refs/heads/*', 'refs/heads/feature/x', true],
    ['refs/tags/v*', 'refs/heads/v1', false],
    ['*/api', 'acme/api', true],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXbYbZ', false],
    ['a.b', 'aXb', false],
    ['**', '', true],
  ])('%s against %s: %s', (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it('takes no exponential time on a hostile pattern', () => {
    const started = performance.now();
    expect(globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('matchTrust', () => {
  const rules: TrustRule[] = [
    {
      issuer: GITHUB,
      audience: 'kipper',
      claims: { repository: 'acme/api', ref: 'refs/heads/main' },
      apps: ['shop-test/api'],
    },
    {
      issuer: GITHUB,
      audience: undefined,
      claims: { repository: 'acme/*', ref: 'refs/tags/v*' },
      apps: ['shop-prod/api'],
    },
  ];
  const claims = { iss: GITHUB, aud: 'kipper', repository: 'acme/api', ref: 'refs/heads/main' };

  it('matches when issuer, audience, every claim and the app match', () => {
    expect(matchTrust(rules, claims, 'shop-test/api', undefined)).toEqual({ ok: true, rule: rules[0] });
    expect(matchTrust(rules, { ...claims, aud: ['other', 'kipper'] }, 'shop-test/api', undefined).ok).toBe(true);
    const tag = { iss: GITHUB, aud: 'https://kipper.example.com', repository: 'acme/web', ref: 'refs/tags/v1.2' };
    expect(matchTrust(rules, tag, 'shop-prod/api', 'https://kipper.example.com')).toEqual({ ok: true, rule: rules[1] });
  });

  it('names the furthest check any rule reached', () => {
    expect(matchTrust(rules, { ...claims, iss: 'https://gitlab.com' }, 'shop-test/api', undefined)).toEqual({
      ok: false,
      failed: 'issuer',
    });
    expect(matchTrust(rules, { ...claims, aud: 'other' }, 'shop-test/api', undefined)).toEqual({
      ok: false,
      failed: 'audience',
    });
    expect(matchTrust(rules, { ...claims, ref: 'refs/heads/dev' }, 'shop-test/api', undefined)).toEqual({
      ok: false,
      failed: 'claims',
    });
    expect(matchTrust(rules, claims, 'shop-prod/api', undefined)).toEqual({ ok: false, failed: 'app' });
  });

  it('never matches a rule without an audience when KIPPER_PUBLIC_URL is unset', () => {
    const tag = { iss: GITHUB, aud: 'kipper', repository: 'acme/web', ref: 'refs/tags/v1' };
    expect(matchTrust([rules[1]!], tag, 'shop-prod/api', undefined)).toEqual({ ok: false, failed: 'audience' });
  });

  it('compares claim values as strings and never matches an object or a missing claim', () => {
    const rule: TrustRule = { issuer: GITHUB, audience: 'kipper', claims: { project_id: '42' }, apps: ['a/b'] };
    expect(matchTrust([rule], { iss: GITHUB, aud: 'kipper', project_id: 42 }, 'a/b', undefined).ok).toBe(true);
    expect(matchTrust([rule], { iss: GITHUB, aud: 'kipper', project_id: ['42'] }, 'a/b', undefined).ok).toBe(false);
    expect(matchTrust([rule], { iss: GITHUB, aud: 'kipper' }, 'a/b', undefined).ok).toBe(false);
  });
});

describe('ciRunUrl', () => {
  it('builds GitHub run URLs for github.com, GHE.com and GitHub Enterprise Server', () => {
    const run = { repository: 'acme/api', run_id: '123' };
    expect(ciRunUrl({ ...run, iss: GITHUB })).toBe('https://github.com/acme/api/actions/runs/123');
    expect(ciRunUrl({ ...run, iss: `${GITHUB}/acme-enterprise` })).toBe('https://github.com/acme/api/actions/runs/123');
    expect(ciRunUrl({ ...run, iss: 'https://token.actions.octo.ghe.com' })).toBe(
      'https://octo.ghe.com/acme/api/actions/runs/123',
    );
    expect(ciRunUrl({ ...run, iss: 'https://ghes.example.com/_services/token' })).toBe(
      'https://ghes.example.com/acme/api/actions/runs/123',
    );
  });

  it('builds GitLab pipeline URLs from the issuer', () => {
    const claims = { iss: 'https://gitlab.example.com', project_path: 'group/sub/project', pipeline_id: '77' };
    expect(ciRunUrl(claims)).toBe('https://gitlab.example.com/group/sub/project/-/pipelines/77');
  });

  it('gives none for other tokens, or values that would not make a one-line URL', () => {
    expect(ciRunUrl({ iss: 'https://issuer.example.com', sub: 'x' })).toBeUndefined();
    expect(ciRunUrl({ iss: GITHUB, repository: 'acme/api\nKipper-Actor: admin', run_id: '1' })).toBeUndefined();
    expect(ciRunUrl({ iss: GITHUB, repository: 'acme/api', run_id: '1 2' })).toBeUndefined();
  });
});
