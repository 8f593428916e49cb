import { resolve } from 'node:path';
import { z } from 'zod';
import { KipError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { loadReposFile, type RepoEntry } from './repos-file.js';
import { loadSsoSettings, type SsoSettings } from './sso-settings.js';
import { notifyUrlEnvSchema, type NotifyTarget } from '../notify/targets.js';
import { isSshUrl, parseSshUrl } from './ssh-url.js';

/** Everything the bridge reads from its environment, validated once at startup. */
export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  repoUrl: string | undefined;
  /** Several config repos (KIPPER_REPOS_FILE, exclusive with KIPPER_REPO_URL); empty: one repo. */
  repos: RepoEntry[];
  branch: string;
  gitUsername: string | undefined;
  gitToken: string | undefined;
  /** The remote's token in a file, re-read when it changes (KIPPER_GIT_TOKEN_FILE). */
  gitTokenFile: string | undefined;
  /** GitHub App credentials for the remote (KIPPER_GITHUB_APP_*), instead of a token. */
  githubApp: GithubAppSettings | undefined;
  /** The GitHub REST API (KIPPER_GITHUB_API_URL): api.github.com, or GHES's `https://host/api/v3`. */
  githubApiUrl: string;
  /** The GitLab v4 API (KIPPER_GITLAB_API_URL); undefined: `https://<repo host>/api/v4`. */
  gitlabApiUrl: string | undefined;
  /** Which host the repo is on (KIPPER_GIT_PROVIDER, else from the repo URL's host name). */
  gitProvider: GitProvider;
  /** SSH remotes: the deploy key and the known_hosts file, both paths (KIPPER_GIT_SSH_KEY, KIPPER_GIT_KNOWN_HOSTS). */
  gitSshKey: string | undefined;
  gitKnownHosts: string | undefined;
  secretKey: string | undefined;
  adminToken: string | undefined;
  /** Base of printed webhook URLs; unset means `http://<host>:<bound port>`. */
  publicUrl: string | undefined;
  authorName: string;
  authorEmail: string;
  logLevel: LogLevel;
  /** The longest a deploy waits for the config repo in all before 503 (KIPPER_DEPLOY_TIMEOUT, seconds). */
  deployTimeoutMs: number;
  /** A link to a config commit in the git host's UI, `{sha}` replaced (KIPPER_COMMIT_URL). */
  commitUrl: string | undefined;
  /** Which proxies to believe about the client (X-Forwarded-For/-Proto): express's `trust proxy` (KIPPER_TRUST_PROXY). */
  trustProxy: boolean | number | string;
  /** Argo CD's API for rollout status (KIPPER_ARGOCD_URL, KIPPER_ARGOCD_TOKEN). */
  argocdUrl: string | undefined;
  argocdToken: string | undefined;
  /** A kubeconfig for Flux status outside a cluster (KIPPER_KUBECONFIG); inside one, the pod's service account. */
  kubeconfig: string | undefined;
  /** Where events go besides kipper.yaml's `notifications:` (KIPPER_NOTIFY_URL). */
  notifyTargets: NotifyTarget[];
  /** The SSH or OpenPGP private key every bridge commit is signed with (KIPPER_SIGNING_KEY, a path). */
  signingKey: string | undefined;
  /** The passphrase of a protected OpenPGP signing key (KIPPER_SIGNING_KEY_PASSPHRASE), or a file holding it (…_FILE). */
  signingKeyPassphrase: string | undefined;
  signingKeyPassphraseFile: string | undefined;
  /** One writer per config repo through this Kubernetes Lease (KIPPER_LEASE=<namespace>/<name>); unset: no coordinator. */
  lease: { namespace: string; name: string } | undefined;
  /** How the other replicas reach this one (KIPPER_PEER_URL): the Lease's holderIdentity while it writes. */
  peerUrl: string | undefined;
  /** Single sign-on for people (KIPPER_OIDC_*); undefined: the admin token alone. */
  sso: SsoSettings | undefined;
}

/** The App id, the path of its private key, and the installation when it is not looked up. */
export interface GithubAppSettings {
  appId: string;
  privateKeyPath: string;
  installationId: number | undefined;
}

export const GIT_PROVIDERS = ['github', 'gitlab', 'generic'] as const;
export type GitProvider = (typeof GIT_PROVIDERS)[number];

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const envSchema = z.object({
  KIPPER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  KIPPER_HOST: z.string().min(1).default('127.0.0.1'),
  KIPPER_DATA_DIR: z.string().min(1).default('./.kipper'),
  KIPPER_REPO_URL: optional.refine(
    (v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v) || parseSshUrl(v) !== undefined,
    {
      message: 'must be an http:// or https:// URL, ssh://[user@]host[:port]/path or user@host:path',
    },
  ),
  KIPPER_REPOS_FILE: optional,
  KIPPER_REPO_BRANCH: z
    .string()
    .regex(/^(?!.*\.\.)(?!\/)[A-Za-z0-9._/-]+(?<!\/)(?<!\.lock)$/, 'must be a valid branch name')
    .default('main'),
  KIPPER_GIT_USERNAME: optional,
  KIPPER_GIT_TOKEN: optional,
  KIPPER_GIT_TOKEN_FILE: optional,
  KIPPER_GITHUB_APP_ID: optional.refine((v) => v === undefined || /^[1-9]\d{0,15}$/.test(v.trim()), {
    message: 'must be the App\'s numeric id (the App\'s settings page, "App ID")',
  }),
  KIPPER_GITHUB_APP_PRIVATE_KEY: optional,
  KIPPER_GITHUB_APP_INSTALLATION_ID: optional.refine((v) => v === undefined || /^[1-9]\d{0,15}$/.test(v.trim()), {
    message: 'must be a numeric installation id (or unset, to look it up from the repo)',
  }),
  KIPPER_GITHUB_API_URL: optional.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'must be an http(s) URL: https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server',
  }),
  KIPPER_GITLAB_API_URL: optional.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'must be an http(s) URL, e.g. https://gitlab.example.com/api/v4',
  }),
  KIPPER_GIT_PROVIDER: optional.refine((v) => v === undefined || (GIT_PROVIDERS as readonly string[]).includes(v), {
    message: `must be one of ${GIT_PROVIDERS.join(', ')}`,
  }),
  KIPPER_GIT_SSH_KEY: optional,
  KIPPER_GIT_KNOWN_HOSTS: optional,
  KIPPER_SECRET_KEY: optional.refine((v) => v === undefined || v.length >= 32, {
    message: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
  }),
  KIPPER_ADMIN_TOKEN: optional.refine((v) => v === undefined || v.length >= 16, {
    message: 'must be at least 16 characters (e.g. `openssl rand -hex 32`)',
  }),
  KIPPER_PUBLIC_URL: optional.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'must be an http:// or https:// URL',
  }),
  KIPPER_GIT_AUTHOR_NAME: z.string().min(1).default('Kipper'),
  KIPPER_GIT_AUTHOR_EMAIL: z.string().min(3).default('kipper@localhost'),
  KIPPER_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  KIPPER_DEPLOY_TIMEOUT: z.coerce.number().positive('must be a number of seconds above 0').max(900).default(30),
  KIPPER_COMMIT_URL: optional.refine((v) => v === undefined || (/^https?:\/\/[^\s]+$/.test(v) && v.includes('{sha}')), {
    message: 'must be an http(s) URL with {sha} in it, e.g. https://github.com/acme/config/commit/{sha}',
  }),
  KIPPER_ARGOCD_URL: optional.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'must be the http(s) URL of Argo CD (its API server)',
  }),
  KIPPER_ARGOCD_TOKEN: optional,
  KIPPER_KUBECONFIG: optional,
  KIPPER_NOTIFY_URL: notifyUrlEnvSchema,
  KIPPER_SIGNING_KEY: optional,
  KIPPER_SIGNING_KEY_PASSPHRASE: optional,
  KIPPER_SIGNING_KEY_PASSPHRASE_FILE: optional,
  KIPPER_LEASE: optional.refine(
    (v) => v === undefined || /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(v),
    {
      message: 'must be <namespace>/<name> of a Lease (lowercase letters, digits, - and .), e.g. kipper/kipper-writer',
    },
  ),
  KIPPER_PEER_URL: optional.refine((v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/.test(v), {
    message: 'must be the http(s) base URL the other replicas reach this one at, e.g. http://$(POD_IP):8080',
  }),
  KIPPER_TRUST_PROXY: optional.refine(
    (v) => v === undefined || /^(true|false|\d+|[0-9a-fA-F:.,/ ]+|loopback|linklocal|uniquelocal)$/.test(v),
    {
      message: 'must be true, false, a number of hops, or proxy addresses (express "trust proxy")',
    },
  ),
});

/** Read and validate the bridge's environment; every problem is reported as `VAR: message`. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new KipError('CONFIG_INVALID', `invalid environment: ${lines.join('; ')}`, { issues: lines });
  }
  const e = parsed.data;
  if (e.KIPPER_REPOS_FILE !== undefined && e.KIPPER_REPO_URL !== undefined) {
    throw new KipError(
      'CONFIG_INVALID',
      'invalid environment: set KIPPER_REPO_URL (one config repo) or KIPPER_REPOS_FILE (several), not both',
    );
  }
  const leaseProblems = [
    ...(e.KIPPER_LEASE !== undefined && e.KIPPER_PEER_URL === undefined
      ? ['KIPPER_PEER_URL: required with KIPPER_LEASE (e.g. http://$(POD_IP):8080 from the downward API)']
      : []),
    ...(e.KIPPER_LEASE !== undefined && e.KIPPER_SECRET_KEY === undefined
      ? [
          'KIPPER_SECRET_KEY: required with KIPPER_LEASE (every replica must share it: it authenticates forwarded writes)',
        ]
      : []),
    ...(e.KIPPER_LEASE !== undefined && e.KIPPER_REPO_URL === undefined && e.KIPPER_REPOS_FILE === undefined
      ? [
          "KIPPER_LEASE: needs KIPPER_REPO_URL or KIPPER_REPOS_FILE (the embedded repo is each replica's own: there is nothing to share)",
        ]
      : []),
  ];
  if (leaseProblems.length > 0)
    throw new KipError('CONFIG_INVALID', `invalid environment: ${leaseProblems.join('; ')}`, { issues: leaseProblems });
  const credentialProblems = remoteCredentialProblems(e);
  if (credentialProblems.length > 0) {
    throw new KipError('CONFIG_INVALID', `invalid environment: ${credentialProblems.join('; ')}`, {
      issues: credentialProblems,
    });
  }
  sshSettingsCheck(e.KIPPER_REPO_URL, e.KIPPER_GIT_SSH_KEY, e.KIPPER_GIT_KNOWN_HOSTS);
  return {
    port: e.KIPPER_PORT,
    host: e.KIPPER_HOST,
    dataDir: resolve(e.KIPPER_DATA_DIR),
    repoUrl: e.KIPPER_REPO_URL,
    repos: e.KIPPER_REPOS_FILE === undefined ? [] : loadReposFile(e.KIPPER_REPOS_FILE),
    branch: e.KIPPER_REPO_BRANCH,
    gitUsername: e.KIPPER_GIT_USERNAME,
    gitToken: e.KIPPER_GIT_TOKEN,
    gitTokenFile: e.KIPPER_GIT_TOKEN_FILE,
    githubApp:
      e.KIPPER_GITHUB_APP_ID && e.KIPPER_GITHUB_APP_PRIVATE_KEY
        ? {
            appId: e.KIPPER_GITHUB_APP_ID.trim(),
            privateKeyPath: resolve(e.KIPPER_GITHUB_APP_PRIVATE_KEY),
            installationId: e.KIPPER_GITHUB_APP_INSTALLATION_ID
              ? Number(e.KIPPER_GITHUB_APP_INSTALLATION_ID)
              : undefined,
          }
        : undefined,
    githubApiUrl: (e.KIPPER_GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    gitlabApiUrl: e.KIPPER_GITLAB_API_URL?.replace(/\/+$/, ''),
    gitProvider: (e.KIPPER_GIT_PROVIDER as GitProvider | undefined) ?? providerOfUrl(e.KIPPER_REPO_URL),
    gitSshKey: e.KIPPER_GIT_SSH_KEY === undefined ? undefined : resolve(e.KIPPER_GIT_SSH_KEY),
    gitKnownHosts: e.KIPPER_GIT_KNOWN_HOSTS === undefined ? undefined : resolve(e.KIPPER_GIT_KNOWN_HOSTS),
    secretKey: e.KIPPER_SECRET_KEY,
    adminToken: e.KIPPER_ADMIN_TOKEN,
    publicUrl: e.KIPPER_PUBLIC_URL?.replace(/\/+$/, ''),
    authorName: e.KIPPER_GIT_AUTHOR_NAME,
    authorEmail: e.KIPPER_GIT_AUTHOR_EMAIL,
    logLevel: e.KIPPER_LOG_LEVEL,
    deployTimeoutMs: Math.round(e.KIPPER_DEPLOY_TIMEOUT * 1000),
    commitUrl: e.KIPPER_COMMIT_URL,
    trustProxy: trustProxyOf(e.KIPPER_TRUST_PROXY),
    argocdUrl: e.KIPPER_ARGOCD_URL?.replace(/\/+$/, ''),
    argocdToken: e.KIPPER_ARGOCD_TOKEN,
    kubeconfig: e.KIPPER_KUBECONFIG,
    notifyTargets: e.KIPPER_NOTIFY_URL,
    signingKey: e.KIPPER_SIGNING_KEY,
    lease:
      e.KIPPER_LEASE === undefined
        ? undefined
        : { namespace: e.KIPPER_LEASE.split('/')[0]!, name: e.KIPPER_LEASE.split('/')[1]! },
    peerUrl: e.KIPPER_PEER_URL?.replace(/\/+$/, ''),
    ...signingKeyPassphrase(
      e.KIPPER_SIGNING_KEY,
      e.KIPPER_SIGNING_KEY_PASSPHRASE,
      e.KIPPER_SIGNING_KEY_PASSPHRASE_FILE,
    ),
    sso: loadSsoSettings(env),
  };
}

/** At most one way to authenticate to the remote, and each complete (issue #19). */
function remoteCredentialProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  const app =
    e.KIPPER_GITHUB_APP_ID !== undefined ||
    e.KIPPER_GITHUB_APP_PRIVATE_KEY !== undefined ||
    e.KIPPER_GITHUB_APP_INSTALLATION_ID !== undefined;
  if (e.KIPPER_GIT_TOKEN !== undefined && e.KIPPER_GIT_TOKEN_FILE !== undefined)
    problems.push('KIPPER_GIT_TOKEN_FILE: set either KIPPER_GIT_TOKEN or KIPPER_GIT_TOKEN_FILE, not both');
  if (app) {
    if (e.KIPPER_GITHUB_APP_ID === undefined)
      problems.push(
        "KIPPER_GITHUB_APP_ID: required with the other KIPPER_GITHUB_APP_* variables (the App's numeric id)",
      );
    if (e.KIPPER_GITHUB_APP_PRIVATE_KEY === undefined)
      problems.push(
        "KIPPER_GITHUB_APP_PRIVATE_KEY: required with KIPPER_GITHUB_APP_ID (the path of the App's private key, a .pem file)",
      );
    const tokens = ['KIPPER_GIT_TOKEN', 'KIPPER_GIT_TOKEN_FILE'].filter(
      (k) => e[k as 'KIPPER_GIT_TOKEN'] !== undefined,
    );
    if (tokens.length > 0)
      problems.push(`KIPPER_GITHUB_APP_ID: a GitHub App replaces ${tokens.join(' and ')}: set one or the other`);
    if (e.KIPPER_REPO_URL === undefined)
      problems.push('KIPPER_GITHUB_APP_ID: needs KIPPER_REPO_URL, the repo the App is installed on');
  }
  if (e.KIPPER_GIT_TOKEN_FILE !== undefined && e.KIPPER_REPO_URL === undefined)
    problems.push('KIPPER_GIT_TOKEN_FILE: needs KIPPER_REPO_URL');
  return problems;
}

/** `github` for github.com, `gitlab` for gitlab.com, else `generic` (set KIPPER_GIT_PROVIDER for a self-hosted one). */
export function providerOfUrl(url: string | undefined): GitProvider {
  if (url === undefined) return 'generic';
  // http(s)://, ssh://[user@]host, or scp-like user@host:path.
  const host = (/^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:?#]+)/i.exec(url) ??
    /^(?:[^@/]*@)?([^/:]+):/.exec(url))?.[1]?.toLowerCase();
  if (host === 'github.com' || host === 'www.github.com') return 'github';
  if (host === 'gitlab.com' || host === 'www.gitlab.com') return 'gitlab';
  return 'generic';
}

/** At most one source of the signing key's passphrase, and only beside a key; the passphrase itself never in an error. */
function signingKeyPassphrase(key: string | undefined, passphrase: string | undefined, file: string | undefined) {
  if (passphrase !== undefined && file !== undefined)
    throw new KipError(
      'CONFIG_INVALID',
      'invalid environment: KIPPER_SIGNING_KEY_PASSPHRASE and KIPPER_SIGNING_KEY_PASSPHRASE_FILE are both set: keep one',
    );
  if (key === undefined && (passphrase !== undefined || file !== undefined))
    throw new KipError(
      'CONFIG_INVALID',
      'invalid environment: a signing key passphrase is set without KIPPER_SIGNING_KEY: set the key, or unset the passphrase',
    );
  return { signingKeyPassphrase: passphrase, signingKeyPassphraseFile: file };
}

/** An SSH URL needs the deploy key and known_hosts; they mean nothing with any other. */
function sshSettingsCheck(url: string | undefined, key: string | undefined, knownHosts: string | undefined): void {
  const ssh = url !== undefined && isSshUrl(url);
  const lines: string[] = [];
  if (ssh && key === undefined)
    lines.push(
      'KIPPER_GIT_SSH_KEY: required with an SSH KIPPER_REPO_URL: the path of the deploy key (an OpenSSH private key)',
    );
  if (ssh && knownHosts === undefined)
    lines.push(
      "KIPPER_GIT_KNOWN_HOSTS: required with an SSH KIPPER_REPO_URL: the path of a known_hosts file with the git host's key",
    );
  if (!ssh && key !== undefined)
    lines.push('KIPPER_GIT_SSH_KEY: only for an SSH KIPPER_REPO_URL (ssh://… or user@host:path)');
  if (!ssh && knownHosts !== undefined)
    lines.push('KIPPER_GIT_KNOWN_HOSTS: only for an SSH KIPPER_REPO_URL (ssh://… or user@host:path)');
  if (lines.length > 0)
    throw new KipError('CONFIG_INVALID', `invalid environment: ${lines.join('; ')}`, { issues: lines });
}

/** The base URL printed in webhook URLs, once the listening port is known. */
export function publicBaseUrl(settings: Settings, boundPort: number): string {
  if (settings.publicUrl) return settings.publicUrl;
  const h = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${boundPort}`;
}

/** KIPPER_TRUST_PROXY as express's `trust proxy`: unset is false (X-Forwarded-* ignored). */
function trustProxyOf(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}
