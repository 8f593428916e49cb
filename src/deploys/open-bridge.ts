import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE, SECRET_KEY_FILE, loadOrCreateSecret } from '../config/secrets.js';
import type { Settings } from '../config/settings.js';
import { parseSshUrl } from '../config/ssh-url.js';
import { deriveKey } from '../config/tokens.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { notificationEvent } from '../notify/events.js';
import { Notifier } from '../notify/notifier.js';
import { mergeTargets } from '../notify/targets.js';
import { loadSigner } from '../repo/commit-signing.js';
import { gitVersion } from '../repo/git-process.js';
import { HttpRemote } from '../repo/http-remote.js';
import { LocalRemote } from '../repo/local-remote.js';
import type { Remote } from '../repo/remote.js';
import { SshRemote } from '../repo/ssh-remote.js';
import { SEED_DIR, seedRepo } from '../repo/seed-repo.js';
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

/** The bridge's services over one config repo, as the HTTP layer and `kip serve` use them. */
export interface Bridge {
  readonly settings: Settings;
  /** The config repo is the embedded one in the data dir (no KIPPER_REPO_URL). */
  readonly embedded: boolean;
  /** The config repo for humans: its URL or path, never credentials. */
  readonly description: string;
  readonly adminToken: string;
  /** Signs console sessions (derived from the secret key). */
  readonly sessionKey: Buffer;
  readonly config: RepoConfig;
  readonly status: RepoStatus;
  readonly history: HistoryService;
  readonly deploys: DeployService;
  /** Webhook answers by `Idempotency-Key` (issue #18). */
  readonly idempotency: IdempotentAnswers;
  readonly webhooks: WebhookTokens;
  readonly metrics: Metrics;
  readonly rollouts: RolloutService;
  readonly locks: AppLocks;
  /** Tells the notification targets (never throws, never waits). */
  readonly announce: Announce;
  /** The branch head as last seen. */
  head(): string;
  /** Aborted when shutdown starts: long-lived answers (live views, rollout waits) end then. */
  readonly closing: AbortSignal;
  /** Stops looking at the remote, finishes the writes in flight, persists the index. */
  close(): Promise<void>;
}

/**
 * The composition root: the one place that builds the secrets, the remote (and the
 * embedded repo's seed), the write queue, the history index and the services over them.
 * Resolves once the config repo has been fetched.
 */
export async function openBridge(settings: Settings, log: Logger): Promise<Bridge> {
  if ((await gitVersion()) === null)
    throw new KipError('CONFIG_INVALID', 'the git binary was not found: install git (the bridge stores the config repo with it)');
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const secretKey = await loadOrCreateSecret(settings.dataDir, SECRET_KEY_FILE, settings.secretKey);
  const adminToken = await loadOrCreateSecret(settings.dataDir, ADMIN_TOKEN_FILE, settings.adminToken);
  // A key that cannot sign stops the start: never unsigned commits in a signed setup.
  const signer = settings.signingKey ? await loadSigner(settings.signingKey) : undefined;
  if (signer) log.info('signing commits', { key: signer.description });
  const sign = signer ? (payload: Buffer) => signer.sign(payload) : undefined;
  const remote = await openRemote(settings, log, sign);

  // The queue tells of a moved head and of every push; who listens is wired below.
  const heard = { head: [] as Array<(head: string) => Promise<void>>, push: [] as Array<(e: PushEvent) => void> };
  const queue = new WriteQueue(remote, {
    sign,
    deployTimeoutMs: settings.deployTimeoutMs,
    signature: () => signatureOf(settings),
    onHead: async (head) => {
      for (const listener of heard.head) {
        // One listener's failure (history that cannot be read) is logged, not the remote's.
        await listener(head).catch((err: unknown) =>
          log.error('could not follow the new head', { head, error: err instanceof Error ? err.message : String(err) }),
        );
      }
    },
    onPush: (e) => {
      for (const listener of heard.push) listener(e);
    },
  });
  const config: RepoConfig = new RepoConfig((maxAgeMs, waitMs) => status.freshState(maxAgeMs, waitMs), log);
  const status: RepoStatus = new RepoStatus(queue, () => config.problem);
  const history = new HistoryService(remote, queue, config, { dataDir: settings.dataDir, key: `${remote.description}#${settings.branch}` }, log);
  const metrics = new Metrics({ queueDepth: () => queue.depth, historyRevisions: () => history.index.size(), pushDeclined: () => queue.declined !== null });
  const gitdir = remote.gitdir;
  heard.head.push((head) => config.onHead(head, gitdir.view(head)));
  heard.head.push((head) => history.onHead(head));
  heard.push.push((e) => {
    status.pushed();
    metrics.observePush(e);
    // Once per declined push, whatever the number of deploys it carried: an operator must see the remote's reason.
    if (e.result === 'declined') log.warn('the config repo declined a push', { commits: e.commits, answer: e.answer, remote: e.remote });
    else log.debug('push', { ...e, buildMs: Math.round(e.buildMs), pushMs: Math.round(e.pushMs) });
  });

  // Events go out after the push, from the notifier's own queue (docs/design.md "Notifications").
  const notifier = new Notifier({
    targets: () => mergeTargets(settings.notifyTargets, config.known().notifications),
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
    settings.commitUrl && configCommit ? settings.commitUrl.replaceAll('{sha}', configCommit) : settings.publicUrl ? `${settings.publicUrl}/apps/${app}` : null;
  const announce: Announce = (input) => notifier.notify(notificationEvent({ ...input, url: input.url ?? linkOf(input.app, input.configCommit) }));

  const memory = new RolloutMemory(settings.dataDir);
  await memory.load();
  const closing = new AbortController();
  const rollouts = new RolloutService(settings, remote.gitdir, history, memory, metrics, log, closing.signal, announce);

  await history.restore();
  await queue.refresh();
  history.startLoading();
  status.start();
  const bridge: Bridge = {
    settings,
    embedded: remote instanceof LocalRemote,
    description: remote.description,
    adminToken,
    sessionKey: deriveKey(secretKey, 'console sessions'),
    config,
    status,
    history,
    deploys: new DeployService(queue, config, history, status, settings, announce),
    idempotency: new IdempotentAnswers(history),
    webhooks: new WebhookTokens(secretKey, config, queue, history),
    metrics,
    rollouts,
    locks: new AppLocks(config, queue, announce),
    announce,
    head: () => queue.head,
    closing: closing.signal,
    async close() {
      status.stop();
      closing.abort();
      rollouts.close();
      await memory.close();
      await queue.idle();
      // What the last pushes announced gets a bounded chance to go out.
      await notifier.close(5_000);
      await history.close();
      await remote.gitdir.close();
    },
  };
  return bridge;
}

/** The embedded repo in the data dir (seeded on first use), or the remote of KIPPER_REPO_URL. */
async function openRemote(settings: Settings, log: Logger, sign: ((payload: Buffer) => string) | undefined): Promise<Remote> {
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
