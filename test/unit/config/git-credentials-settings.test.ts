import { describe, expect, it } from 'vitest';
import { loadSettings, providerOfUrl } from '../../../src/config/settings.js';
import type { KipError } from '../../../src/errors.js';

// Issue #19: the remote's credentials from the environment, at most one kind.
const REPO = { KIPPER_REPO_URL: 'https://github.com/acme/config.git' };

function problem(env: NodeJS.ProcessEnv): string {
  try {
    loadSettings(env);
  } catch (err) {
    expect((err as KipError).code).toBe('CONFIG_INVALID');
    return (err as KipError).message;
  }
  throw new Error('loadSettings accepted it');
}

describe('git credentials settings', () => {
  it('reads a GitHub App: id, key path, optional installation, API URL without a trailing slash', () => {
    const s = loadSettings({
      ...REPO,
      KIPPER_GITHUB_APP_ID: '123',
      KIPPER_GITHUB_APP_PRIVATE_KEY: '/secrets/app.pem',
      KIPPER_GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
    });
    expect(s.githubApp).toEqual({ appId: '123', privateKeyPath: '/secrets/app.pem', installationId: undefined });
    expect(s.githubApiUrl).toBe('https://ghe.example.com/api/v3');
    expect(
      loadSettings({
        ...REPO,
        KIPPER_GITHUB_APP_ID: '1',
        KIPPER_GITHUB_APP_PRIVATE_KEY: '/k',
        KIPPER_GITHUB_APP_INSTALLATION_ID: '42',
      }).githubApp?.installationId,
    ).toBe(42);
    expect(loadSettings(REPO).githubApiUrl).toBe('https://api.github.com');
  });

  it('refuses two kinds of credentials, or half an App, naming the variables', () => {
    expect(problem({ ...REPO, KIPPER_GIT_TOKEN: 't', KIPPER_GIT_TOKEN_FILE: '/f' })).toContain(
      'set either KIPPER_GIT_TOKEN or KIPPER_GIT_TOKEN_FILE, not both',
    );
    expect(
      problem({ ...REPO, KIPPER_GITHUB_APP_ID: '1', KIPPER_GITHUB_APP_PRIVATE_KEY: '/k', KIPPER_GIT_TOKEN_FILE: '/f' }),
    ).toContain('a GitHub App replaces KIPPER_GIT_TOKEN_FILE');
    expect(problem({ ...REPO, KIPPER_GITHUB_APP_ID: '1' })).toContain('KIPPER_GITHUB_APP_PRIVATE_KEY: required');
    expect(problem({ ...REPO, KIPPER_GITHUB_APP_PRIVATE_KEY: '/k' })).toContain('KIPPER_GITHUB_APP_ID: required');
    expect(problem({ ...REPO, KIPPER_GITHUB_APP_ID: 'my-app', KIPPER_GITHUB_APP_PRIVATE_KEY: '/k' })).toContain(
      "KIPPER_GITHUB_APP_ID: must be the App's numeric id",
    );
    expect(problem({ KIPPER_GITHUB_APP_ID: '1', KIPPER_GITHUB_APP_PRIVATE_KEY: '/k' })).toContain(
      'needs KIPPER_REPO_URL',
    );
    expect(problem({ ...REPO, KIPPER_GIT_PROVIDER: 'bitbucket' })).toContain(
      'KIPPER_GIT_PROVIDER: must be one of github, gitlab, generic',
    );
  });

  it('takes the provider from the repo host unless KIPPER_GIT_PROVIDER says', () => {
    expect(providerOfUrl('https://github.com/acme/config.git')).toBe('github');
    expect(providerOfUrl('https://x-access-token:t@github.com/acme/config.git')).toBe('github');
    expect(providerOfUrl('https://gitlab.com/acme/platform/config.git')).toBe('gitlab');
    expect(providerOfUrl('ssh://git@github.com:22/acme/config.git')).toBe('github');
    expect(providerOfUrl('git@gitlab.com:acme/config.git')).toBe('gitlab');
    expect(providerOfUrl('https://git.example.com/acme/config.git')).toBe('generic');
    expect(providerOfUrl('https://github.com.evil.example/acme/config.git')).toBe('generic');
    expect(providerOfUrl(undefined)).toBe('generic');
    expect(
      loadSettings({ KIPPER_REPO_URL: 'https://git.example.com/a/b.git', KIPPER_GIT_PROVIDER: 'gitlab' }).gitProvider,
    ).toBe('gitlab');
  });
});
