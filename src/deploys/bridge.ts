import { emptyKipperConfig, type AppConfig, type KipperConfig } from '../config/kipper-file.js';
import type { Settings } from '../config/settings.js';
import { KipError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Announce } from './announce.js';
import type { DeployService } from './deploy-service.js';
import type { HistoryService } from './history-service.js';
import type { IdempotentAnswers } from './idempotent-answers.js';
import type { AppLocks } from './app-locks.js';
import type { RepoBridge } from './open-bridge.js';
import type { RolloutService } from './rollout-service.js';
import type { WebhookTokens } from './webhook-tokens.js';
import type { ProposalService } from './proposals/proposal-service.js';

/** An app id that two config repos both list: none of them may deploy it until one drops it. */
export interface DuplicateApp {
  app: string;
  repos: string[];
}

/**
 * The bridge over one or several config repos (docs/design.md "Several config repos"):
 * each repo has its own kipper.yaml reader, write queue, history index and readiness
 * (RepoBridge); an app id names one app across all of them. The HTTP layer talks to this
 * one object: `config`, `history`, `deploys`, … hand each call to the repo that holds the
 * app, so a repo that hangs costs only its own apps' requests.
 */
export class Bridge {
  readonly config;
  readonly history;
  readonly deploys;
  readonly idempotency;
  readonly webhooks;
  readonly locks;
  readonly rollouts;
  readonly status;
  readonly proposals;

  constructor(
    readonly settings: Settings,
    readonly adminToken: string,
    /** Signs console sessions (derived from the secret key). */
    readonly sessionKey: Buffer,
    /** In the order of the repos file (or the one repo). */
    readonly repos: readonly RepoBridge[],
    readonly metrics: Metrics,
    /** Tells the notification targets (never throws, never waits). */
    readonly announce: Announce,
    private readonly shutdown: AbortController,
    private readonly closeShared: () => Promise<void>,
  ) {
    const of = (id: string) => this.repoOf(id);
    const anyOf = (id: string) => this.anyRepoOf(id);
    this.config = {
      findApp: async (id: string): Promise<AppConfig | null> => (await this.findApp(id))?.app ?? null,
      /** Known as of the last looks, at once (the webhook's 401 must not wait: webhook-route.ts). */
      knownApp: (id: string): AppConfig | null => {
        // Only an id no repo knows starts the repos' background looks (an app added a moment ago).
        const holder = this.repos.find((r) => r.config.known().apps.has(id));
        if (holder) return holder.config.known().apps.get(id)!;
        for (const r of this.repos) r.config.knownApp(id);
        return null;
      },
      get: (): KipperConfig =>
        this.repos.length === 1 ? this.repos[0]!.config.get() : merged(this.repos.map((r) => r.config.known())),
      known: (): KipperConfig =>
        this.repos.length === 1 ? this.repos[0]!.config.known() : merged(this.repos.map((r) => r.config.known())),
    };
    this.history = {
      revisions: (id: string) => of(id).history.revisions(id),
      onChange: (listener: () => void): (() => void) => {
        const offs = this.repos.map((r) => r.history.onChange(listener));
        return () => offs.forEach((off) => off());
      },
      index: { revisions: (id: string) => anyOf(id)?.history.index.revisions(id) ?? [] },
    } satisfies Partial<Record<keyof HistoryService, unknown>>;
    this.deploys = {
      deploy: ((app, request, trigger, options) =>
        of(app.id).deploys.deploy(app, request, trigger, options)) as DeployService['deploy'],
      rollback: ((app, requested, opts) =>
        of(app.id).deploys.rollback(app, requested, opts)) as DeployService['rollback'],
      promote: ((app, to, actor, reason, direct) =>
        of(app.id).deploys.promote(app, to, actor, reason, direct)) as DeployService['promote'],
    } satisfies Partial<DeployService>;
    this.idempotency = {
      replay: ((app, key, deadline) =>
        of(app.id).idempotency.replay(app, key, deadline)) as IdempotentAnswers['replay'],
      first: ((app, key, handle, refusal) =>
        of(app.id).idempotency.first(app, key, handle, refusal)) as IdempotentAnswers['first'],
    } satisfies Partial<IdempotentAnswers>;
    this.webhooks = {
      token: (id: string): string | null => anyOf(id)?.webhooks.token(id) ?? null,
      set: ((id, enable, actor) => of(id).webhooks.set(id, enable, actor)) as WebhookTokens['set'],
    } satisfies Partial<WebhookTokens>;
    this.locks = {
      of: (id: string) => anyOf(id)?.locks.of(id) ?? null,
      lock: ((id, reason, by, actor) => of(id).locks.lock(id, reason, by, actor)) as AppLocks['lock'],
      unlock: ((id, reason, by, actor) => of(id).locks.unlock(id, reason, by, actor)) as AppLocks['unlock'],
    } satisfies Partial<AppLocks>;
    this.rollouts = {
      wait: ((app, configCommit, timeoutMs, opts) =>
        of(app.id).rollouts.wait(app, configCommit, timeoutMs, opts)) as RolloutService['wait'],
      ofHistory: ((app, revisions) => of(app.id).rollouts.ofHistory(app, revisions)) as RolloutService['ofHistory'],
      view: ((app, listener) => of(app.id).rollouts.view(app, listener)) as RolloutService['view'],
    } satisfies Partial<RolloutService>;
    this.proposals = {
      open: (app: AppConfig) => of(app.id).deploys.proposals?.open(app) ?? Promise.resolve(null),
      wait: ((app, proposed, timeoutMs, signal) => {
        const service = of(app.id).deploys.proposals;
        if (!service)
          throw new KipError('CONFIG_INVALID', `${app.id}: the config repo's host has no pull request API`, {
            app: app.id,
          });
        return service.wait(app, proposed, timeoutMs, signal);
      }) as ProposalService['wait'],
      nudge: (app: AppConfig): void => anyOf(app.id)?.deploys.proposals?.nudge(app),
    };
    const all = <T>(fn: (r: RepoBridge) => Promise<T>) => Promise.all(this.repos.map(fn));
    this.status = {
      /** Set once shutdown started: new API requests are answered 503 SHUTTING_DOWN. */
      get closing(): boolean {
        return shutdown.signal.aborted;
      },
      refreshQuietly: async (): Promise<void> => void (await all((r) => r.status.refreshQuietly())),
      freshState: async (maxAgeMs: number, waitMs: number): Promise<void> =>
        void (await all((r) => r.status.freshState(maxAgeMs, waitMs))),
      watch: (delta: 1 | -1): void => this.repos.forEach((r) => r.status.watch(delta)),
      unready: () => this.unready(),
      declined: () => {
        for (const r of this.repos) {
          const d = r.status.declined();
          if (d) return this.repos.length === 1 ? d : { ...d, repo: r.name };
        }
        return null;
      },
    };
  }

  /** Aborted when shutdown starts: long-lived answers (live views, rollout waits) end then. */
  get closing(): AbortSignal {
    return this.shutdown.signal;
  }

  /** One embedded repo (no KIPPER_REPO_URL, no repos file). */
  get embedded(): boolean {
    return this.repos.length === 1 && this.repos[0]!.embedded;
  }

  /** The config repos for humans: URL or path, never credentials. */
  get description(): string {
    return this.repos.length === 1
      ? this.repos[0]!.description
      : this.repos.map((r) => `${r.name} (${r.description})`).join(', ');
  }

  /** The branch head of the first repo (of the only one, mostly). */
  head(): string {
    return this.repos[0]!.head();
  }

  /** The heads by repo name. */
  heads(): Record<string, string | null> {
    return Object.fromEntries(this.repos.map((r) => [r.name, r.queue.remote.current !== null ? r.head() : null]));
  }

  /** App ids that more than one repo lists, as of the last looks. */
  duplicates(): DuplicateApp[] {
    if (this.repos.length === 1) return [];
    const where = new Map<string, string[]>();
    for (const r of this.repos)
      for (const id of r.config.known().apps.keys()) where.set(id, [...(where.get(id) ?? []), r.name]);
    return [...where].filter(([, repos]) => repos.length > 1).map(([app, repos]) => ({ app, repos }));
  }

  /** The app `id` and the repo that lists it (looking at the remotes when it is not known); 409 APP_AMBIGUOUS when several do. */
  async findApp(id: string): Promise<{ repo: RepoBridge; app: AppConfig } | null> {
    const found: Array<{ repo: RepoBridge; app: AppConfig }> = [];
    const known = this.repos.filter((r) => r.config.known().apps.has(id));
    // Only when no repo knows it: then each looks (an app a person added a moment ago).
    const candidates = known.length > 0 ? known : this.repos;
    const apps = await Promise.all(candidates.map((r) => r.config.findApp(id)));
    candidates.forEach((repo, i) => {
      const app = apps[i];
      if (app) found.push({ repo, app });
    });
    if (found.length > 1)
      throw ambiguous(
        id,
        found.map((f) => f.repo.name),
      );
    return found[0] ?? null;
  }

  /** The repo that lists app `id` (as of the last looks); 409 APP_AMBIGUOUS when several do. */
  repoOf(id: string): RepoBridge {
    if (this.repos.length === 1) return this.repos[0]!;
    const holding = this.repos.filter((r) => r.config.known().apps.has(id));
    if (holding.length > 1)
      throw ambiguous(
        id,
        holding.map((r) => r.name),
      );
    return holding[0] ?? this.repos[0]!;
  }

  /** A repo that lists `id`, for reads that must not fail (a token, a lock badge); null when none does. */
  private anyRepoOf(id: string): RepoBridge | null {
    if (this.repos.length === 1) return this.repos[0]!;
    return this.repos.find((r) => r.config.known().apps.has(id)) ?? null;
  }

  /** Why the bridge should not get traffic (/readyz): the first repo's problem, or an app listed twice. */
  private unready(): { reason: string; code: 'CONFIG_INVALID' | 'REPO_UNAVAILABLE' } | null {
    for (const r of this.repos) {
      const problem = r.status.unready();
      if (problem)
        return this.repos.length === 1 ? problem : { ...problem, reason: `repo ${r.name}: ${problem.reason}` };
    }
    const dup = this.duplicates()[0];
    if (dup) {
      return {
        code: 'CONFIG_INVALID',
        reason: `app ${dup.app} is listed in the kipper.yaml of repos ${dup.repos.join(' and ')}; its requests answer 409 APP_AMBIGUOUS until one of them drops it`,
      };
    }
    return null;
  }

  /** Stops looking at the remotes, finishes the writes in flight, persists the indexes. */
  async close(): Promise<void> {
    this.shutdown.abort();
    await Promise.all(this.repos.map((r) => r.close()));
    await this.closeShared();
  }
}

function ambiguous(id: string, repos: string[]): KipError {
  return new KipError(
    'APP_AMBIGUOUS',
    `${id} is listed in the kipper.yaml of repos ${repos.join(' and ')}: remove it from all but one`,
    {
      app: id,
      body: { repos },
    },
  );
}

/** kipper.yaml of several repos as one (the first repo's entry wins for an app listed twice). */
function merged(configs: KipperConfig[]): KipperConfig {
  const out = emptyKipperConfig();
  for (const c of configs) {
    for (const [id, app] of c.apps) if (!out.apps.has(id)) out.apps.set(id, app);
    for (const [id, g] of c.webhooks) if (!out.webhooks.has(id)) out.webhooks.set(id, g);
    for (const [id, l] of c.locks) if (!out.locks.has(id)) out.locks.set(id, l);
    out.notifications.push(...c.notifications);
    // Each rule names apps of its own file's repo only (kipper-file.ts), so the union is safe.
    out.trust.push(...c.trust);
    // `access:` stays out: an app's rules are its own repo's (repoOf(id).config.known().access).
  }
  return out;
}
