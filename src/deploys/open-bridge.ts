import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE, SECRET_KEY_FILE, loadOrCreateSecret } from '../config/secrets.js';
import type { AppConfig } from '../config/kipper-file.js';
import type { RepoEntry } from '../config/repos-file.js';
import { providerOfUrl, type Settings } from '../config/settings.js';
import { parseSshUrl } from '../config/ssh-url.js';
import { deriveKey } from '../config/tokens.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { notificationEvent } from '../notify/events.js';
import { Notifier } from '../notify/notifier.js';
import { mergeTargets } from '../notify/targets.js';
import { gitVersion } from '../repo/git-process.js';
import type { CredentialSource } from '../repo/credentials/credential-source.js';
import { GithubAppToken } from '../repo/credentials/github-app.js';
import { TokenFile } from '../repo/credentials/token-file.js';
import { HttpRemote } from '../repo/http-remote.js';
import { RemoteCredentials, TOKEN_ONLY_USERNAME } from '../repo/remote-credentials.js';
import { LocalRemote } from '../repo/local-remote.js';
import type { Remote } from '../repo/remote.js';
import { SshRemote } from '../repo/ssh-remote.js';
import { SEED_DIR, seedRepo } from '../repo/seed-repo.js';
import type { CommitSign } from '../repo/gitdir.js';
import { loadSigner } from '../signing/load-signer.js';
import { fencedRemote } from '../lease/fenced-remote.js';
import type { LeaderElector } from '../lease/leader-elector.js';
import { leaseElectors } from '../lease/open-lease.js';
import { WriteQueue, type PushEvent } from './write-queue.js';
import { IdempotentAnswers } from './idempotent-answers.js';
import { DeployService, signatureOf } from './deploy-service.js';
import { HistoryService } from './history-service.js';
import { RepoConfig } from './repo-config.js';
import { RepoStatus } from './repo-status.js';
import { RolloutMemory } from './rollout-memory.js';
import { AppLocks } from './app-locks.js';
import { RolloutService } from './rollout-service.js';
import { WebhookTokens } from './webhook-tokens.js';
import type { Announce } from './announce.js';
import { Bridge } from './bridge.js';
import { platformFor } from '../hosts/api.js';
import { hostToken } from '../hosts/host-token.js';
import { ProposalService } from './proposals/proposal-service.js';

export { Bridge } from './bridge.js';

/** The services over one config repo (docs/design.md "Several config repos": each has its own). */
export interface RepoBridge {
  /** `default` for KIPPER_REPO_URL or the embedded repo, else the repos file's `name`. */
  readonly name: string;
  /** The config repo is the embedded one in the data dir (no KIPPER_REPO_URL). */
  readonly embedded: boolean;
  /** The config repo for humans: its URL or path, never credentials. */
  readonly description: string;
  readonly config: RepoConfig;
  readonly status: RepoStatus;
  readonly history: HistoryService;
  readonly deploys: DeployService;
  /** Webhook answers by `Idempotency-Key` (issue #18). */
  readonly idempotency: IdempotentAnswers;
  readonly webhooks: WebhookTokens;
  readonly rollouts: RolloutService;
  readonly locks: AppLocks;
  readonly queue: WriteQueue;
  /** Who writes this repo among replicas (KIPPER_LEASE); null: this bridge writes it. */
  readonly lease: LeaderElector | null;
  /** The branch head as last seen. */
  head(): string;
  close(): Promise<void>;
}

/** What every repo's services share: one data dir's secrets, one log, one metrics registry, one notifier. */
interface Shared {
  log: Logger;
  metrics: Metrics;
  announce: Announce;
  sign: CommitSign | undefined;
  secretKey: string;
  closing: AbortSignal;
  /** The app `id` in whichever repo holds it (promotion across repos). */
  findApp: (id: string) => Promise<{ app: AppConfig; deploys: DeployService } | null>;
  /** The repo's Lease elector under KIPPER_LEASE, else null. */
  leaseOf: (repo: string) => LeaderElector | null;
}

/** The name of the one repo of KIPPER_REPO_URL or the embedded default. */
export const DEFAULT_REPO = 'default';

/**
 * The composition root: the one place that builds the secrets, the remotes (and the
 * embedded repo's seed), and per config repo its write queue, history index and the
 * services over them. Resolves once every config repo has been fetched.
 */
export async function openBridge(settings: Settings, log: Logger): Promise<Bridge> {
  if ((await gitVersion()) === null)
    throw new KipError(
      'CONFIG_INVALID',
      'the git binary was not found: install git (the bridge stores the config repo with it)',
    );
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const secretKey = await loadOrCreateSecret(settings.dataDir, SECRET_KEY_FILE, settings.secretKey);
  const adminToken = await loadOrCreateSecret(settings.dataDir, ADMIN_TOKEN_FILE, settings.adminToken);
  // A key that cannot sign stops the start: never unsigned commits in a signed setup.
  const signer = settings.signingKey
    ? await loadSigner(settings.signingKey, {
        passphrase: settings.signingKeyPassphrase,
        passphraseFile: settings.signingKeyPassphraseFile,
      })
    : undefined;
  if (signer) log.info('signing commits', { key: signer.description });
  const sign: CommitSign | undefined = signer ? (payload) => signer.sign(payload) : undefined;

  const leaseOf = await leaseElectors(settings, log);
  const repos: RepoBridge[] = [];
  const metrics = new Metrics(() => repos);
  // Events go out after the push, from the notifier's own queue (docs/design.md "Notifications").
  const notifier = new Notifier({
    targets: () =>
      mergeTargets(
        settings.notifyTargets,
        repos.flatMap((r) => r.config.known().notifications),
      ),
    key: deriveKey(secretKey, 'notifications'),
    log,
    metrics: {
      delivered: () => metrics.notifications.inc({ result: 'delivered' }),
      retried: () => metrics.notifications.inc({ result: 'retried' }),
      dropped: (reason) => {
        metrics.notifications.inc({ result: 'dropped' });
        metrics.notificationsDropped.inc({ reason });
      },
    },
  });
  const linkOf = (app: string, configCommit: string | null | undefined): string | null =>
    settings.commitUrl && configCommit
      ? settings.commitUrl.replaceAll('{sha}', configCommit)
      : settings.publicUrl
        ? `${settings.publicUrl}/apps/${app}`
        : null;
  const announce: Announce = (input) =>
    notifier.notify(notificationEvent({ ...input, url: input.url ?? linkOf(input.app, input.configCommit) }));
  const closing = new AbortController();
  const bridge = new Bridge(
    settings,
    adminToken,
    deriveKey(secretKey, 'console sessions'),
    repos,
    metrics,
    announce,
    closing,
    async () => {
      // What the last pushes announced gets a bounded chance to go out.
      await notifier.close(5_000);
    },
  );
  const shared: Shared = {
    log,
    metrics,
    announce,
    sign,
    secretKey,
    closing: closing.signal,
    leaseOf,
    findApp: async (id) => {
      const found = await bridge.findApp(id);
      return found && { app: found.app, deploys: found.repo.deploys };
    },
  };
  const entries =
    settings.repos.length > 0
      ? settings.repos.map((e) => repoSettings(settings, e))
      : [{ name: DEFAULT_REPO, settings }];
  // Fetched side by side: one slow remote does not hold the others' start.
  const opened = await Promise.all(entries.map((e) => openRepo(e.name, e.settings, shared)));
  repos.push(...opened);
  return bridge;
}

/**
 * The settings of one entry of KIPPER_REPOS_FILE: the global ones with its URL, branch
 * and credentials, and a data dir of its own (`repos/<name>`) for its objects, history
 * index and rollout memory.
 */
function repoSettings(settings: Settings, entry: RepoEntry): { name: string; settings: Settings } {
  const { token, githubApp, ssh } = entry.auth ?? {};
  if ((parseSshUrl(entry.url) !== undefined) !== (ssh !== undefined)) {
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_REPOS_FILE: repo ${entry.name}: an ssh:// or user@host:path url takes auth.ssh (key, knownHosts), and auth.ssh takes such a url`,
    );
  }
  return {
    name: entry.name,
    settings: {
      ...settings,
      dataDir: join(settings.dataDir, 'repos', entry.name),
      repoUrl: entry.url,
      branch: entry.branch,
      // Only what the entry says: the environment's credentials belong to KIPPER_REPO_URL.
      gitUsername: token?.username,
      gitToken: undefined,
      gitTokenFile: token ? resolve(token.file) : undefined,
      gitSshKey: ssh ? resolve(ssh.key) : undefined,
      gitKnownHosts: ssh ? resolve(ssh.knownHosts) : undefined,
      githubApp: githubApp
        ? {
            appId: githubApp.appId,
            privateKeyPath: resolve(githubApp.privateKey),
            installationId: githubApp.installationId ? Number(githubApp.installationId) : undefined,
          }
        : undefined,
      githubApiUrl: (entry.apiUrl ?? settings.githubApiUrl).replace(/\/+$/, ''),
      gitlabApiUrl: (entry.apiUrl ?? settings.gitlabApiUrl)?.replace(/\/+$/, ''),
      gitProvider: entry.provider ?? providerOfUrl(entry.url),
    },
  };
}

/** The services of one config repo, once its branch has been fetched. */
async function openRepo(name: string, settings: Settings, shared: Shared): Promise<RepoBridge> {
  const { log, metrics, announce, sign } = shared;
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const remote = await openRemote(settings, log, sign);
  // Under KIPPER_LEASE only the holder's queue pushes (docs/running-in-a-cluster.md "Replicas").
  const lease = shared.leaseOf(name);

  // The queue tells of a moved head and of every push; who listens is wired below.
  const heard = { head: [] as Array<(head: string) => Promise<void>>, push: [] as Array<(e: PushEvent) => void> };
  const queue = new WriteQueue(lease ? fencedRemote(remote, lease) : remote, {
    sign,
    deployTimeoutMs: settings.deployTimeoutMs,
    signature: () => signatureOf(settings),
    onHead: async (head) => {
      for (const listener of heard.head) {
        // One listener's failure (history that cannot be read) is logged, not the remote's.
        await listener(head).catch((err: unknown) =>
          log.error('could not follow the new head', {
            repo: name,
            head,
            error: err instanceof Error ? err.message : String(err),
          }),
        );
      }
    },
    onPush: (e) => {
      for (const listener of heard.push) listener(e);
    },
  });
  const config: RepoConfig = new RepoConfig((maxAgeMs, waitMs) => status.freshState(maxAgeMs, waitMs), log);
  const status: RepoStatus = new RepoStatus(queue, () => config.problem);
  const history = new HistoryService(
    remote,
    queue,
    config,
    { dataDir: settings.dataDir, key: `${remote.description}#${settings.branch}` },
    log,
    () => lease !== null && !lease.isLeader(),
  );
  const gitdir = remote.gitdir;
  heard.head.push((head) => config.onHead(head, gitdir.view(head)));
  heard.head.push((head) => history.onHead(head));
  heard.push.push((e) => {
    status.pushed();
    metrics.observePush(e, name);
    // Once per declined push, whatever the number of deploys it carried: an operator must see the remote's reason.
    if (e.result === 'declined')
      log.warn('the config repo declined a push', {
        repo: name,
        commits: e.commits,
        answer: e.answer,
        remote: e.remote,
      });
    else log.debug('push', { repo: name, ...e, buildMs: Math.round(e.buildMs), pushMs: Math.round(e.pushMs) });
  });

  const memory = new RolloutMemory(settings.dataDir);
  await memory.load();
  const rollouts = new RolloutService(settings, remote.gitdir, history, memory, metrics, log, shared.closing, announce);

  const proposals = openProposals(settings, remote, queue, log, sign);
  await history.restore();
  await queue.refresh();
  history.startLoading();
  status.start();
  lease?.start();
  return {
    name,
    embedded: remote instanceof LocalRemote,
    description: remote.description,
    config,
    status,
    history,
    deploys: new DeployService(queue, config, history, status, settings, announce, shared.findApp, proposals),
    idempotency: new IdempotentAnswers(history),
    webhooks: new WebhookTokens(shared.secretKey, config, queue, history),
    rollouts,
    locks: new AppLocks(config, queue, announce),
    queue,
    lease,
    head: () => queue.head,
    async close() {
      status.stop();
      proposals?.close();
      rollouts.close();
      await memory.close();
      await queue.idle();
      await lease?.stop();
      await history.close();
      await remote.gitdir.close();
    },
  };
}

/** Pull-request mode's service over the host's API (docs/protected-branches.md); null for the embedded repo or a generic host. */
function openProposals(
  settings: Settings,
  remote: Remote,
  queue: WriteQueue,
  log: Logger,
  sign: CommitSign | undefined,
): ProposalService | null {
  if (!(remote instanceof HttpRemote) || settings.repoUrl === undefined) return null;
  const credentials = remote.credentials;
  const platform = platformFor({
    provider: settings.gitProvider,
    repoUrl: new RemoteCredentials({ url: settings.repoUrl }).url,
    githubApiUrl: settings.githubApiUrl,
    gitlabApiUrl: settings.gitlabApiUrl,
    token: () => hostToken(credentials),
  });
  if (!platform) return null;
  return new ProposalService({
    remote,
    platform,
    target: settings.branch,
    head: async () => {
      await queue.refresh();
      return queue.head;
    },
    signature: () => signatureOf(settings),
    sign,
    log,
  });
}

/** The embedded repo in the data dir (seeded on first use), or the remote of KIPPER_REPO_URL. */
async function openRemote(settings: Settings, log: Logger, sign: CommitSign | undefined): Promise<Remote> {
  const ssh = settings.repoUrl === undefined ? undefined : parseSshUrl(settings.repoUrl);
  if (settings.repoUrl !== undefined && ssh !== undefined) {
    return SshRemote.open({
      url: settings.repoUrl,
      target: ssh,
      branch: settings.branch,
      gitdir: join(settings.dataDir, 'cache.git'),
      key: settings.gitSshKey ?? '',
      knownHosts: settings.gitKnownHosts ?? '',
      controlDir: settings.dataDir,
    });
  }
  if (settings.repoUrl !== undefined) {
    return new HttpRemote({
      url: settings.repoUrl,
      branch: settings.branch,
      gitdir: join(settings.dataDir, 'cache.git'),
      username: settings.gitUsername,
      token: settings.gitToken,
      credentials: await openCredentials(settings, settings.repoUrl, log),
    });
  }
  const gitdir = join(settings.dataDir, 'config.git');
  const local = new LocalRemote({ gitdir, branch: settings.branch });
  if ((await local.readHead()) === null) {
    const oid = await seedRepo(local, SEED_DIR, 'seed the example config repo\n', signatureOf(settings), sign);
    log.info('created the embedded config repo', { gitdir, commit: oid });
  }
  return local;
}

/** A token file or GitHub App for the remote, when configured; undefined means KIPPER_GIT_USERNAME/KIPPER_GIT_TOKEN. */
async function openCredentials(
  settings: Settings,
  repoUrl: string,
  log: Logger,
): Promise<CredentialSource | undefined> {
  if (settings.githubApp) {
    const { appId, privateKeyPath, installationId } = settings.githubApp;
    // The URL without `user:pass@` (refused with an App anyway) for owner/repo.
    const url = new RemoteCredentials({ url: repoUrl }).url;
    return GithubAppToken.open({
      appId,
      privateKeyPath,
      installationId,
      apiUrl: settings.githubApiUrl,
      repoUrl: url,
      log,
    });
  }
  if (settings.gitTokenFile)
    return TokenFile.open(settings.gitTokenFile, settings.gitUsername ?? TOKEN_ONLY_USERNAME, log);
  return undefined;
}
