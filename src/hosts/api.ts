import type { GitProvider } from '../config/settings.js';
import { KipError } from '../errors.js';
import { GithubPlatform } from './github/github-platform.js';
import { GitlabPlatform } from './gitlab/gitlab-platform.js';
import type { Platform } from './types.js';

/** Where the config repo lives and how to reach its host's API. */
export interface PlatformInput {
  provider: GitProvider;
  /** The repo's clone URL (no credentials): its path names owner/repo or the GitLab project. */
  repoUrl: string;
  githubApiUrl: string;
  /** Default `https://<repo host>/api/v4`. */
  gitlabApiUrl: string | undefined;
  token: () => Promise<string>;
}

/** The host's pull/merge request API for the config repo; null for a `generic` host (no pull-request mode). */
export function platformFor(input: PlatformInput): Platform | null {
  if (input.provider === 'generic') return null;
  const url = new URL(input.repoUrl);
  const path = decodeURIComponent(url.pathname)
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '');
  if (input.provider === 'github') {
    const parts = path.split('/');
    const [owner, repo] = parts.slice(-2);
    if (!owner || !repo)
      throw new KipError('CONFIG_INVALID', `${input.repoUrl}: the URL's path must end in <owner>/<repo> for GitHub`);
    return new GithubPlatform({ apiUrl: input.githubApiUrl, owner, repo, token: input.token });
  }
  return new GitlabPlatform({
    apiUrl: input.gitlabApiUrl ?? `${url.protocol}//${url.host}/api/v4`,
    project: path,
    token: input.token,
  });
}
