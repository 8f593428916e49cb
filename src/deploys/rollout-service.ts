import { syncerId, type AppConfig, type Syncer } from '../config/kipper-file.js';
import type { Revision } from '../history/revision-index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { BoundedCache } from '../repo/bounded-cache.js';
import { walkFirstParents } from '../repo/first-parent.js';
import type { Gitdir } from '../repo/gitdir.js';
import { observeArgoApplication, observeFluxObject, type Observation } from '../rollout/observe.js';
import { judge, SETTLED, type Rollout } from '../rollout/rollout-state.js';
import { getApplication, watchApplication, type ApiAnswer, type ApiEndpoint } from '../rollout/argocd-api.js';
import { Follower, type OpenStream } from '../rollout/follow.js';
import { kubeReader, type KubeReader } from '../rollout/kube-api.js';
import type { HistoryService } from './history-service.js';
import type { RolloutMemory } from './rollout-memory.js';
import type { Announce } from './announce.js';
import type { Withdrawal } from './write-batch.js';

/** How often a watched syncer is asked again, when it has no watch stream or its stream is down. */
const POLL_MS = 2_000;
/** An observation younger than this answers a history query as is. */
const FRESH_MS = 5_000;
/** A first-parent walk for ancestry stops after this many commits (then: not a descendant). */
const WALK_LIMIT = 2_000;

/** The cluster runs an older revision than git's current one, and its syncer will not catch up by itself. */
export interface Drift {
  cluster: number;
  git: number;
  reason: string;
}

type Look = { at: number; obs: Observation } | { at: number; reason: string };

/** One syncer object, followed once (one stream or one poll per interval) however many requests wait on it. */
interface Watched {
  syncer: Syncer;
  last: Look | undefined;
  asking: Promise<void> | null;
  interest: number;
  follower: Follower | undefined;
  listeners: Set<() => void>;
}

export interface RolloutSettings {
  argocdUrl: string | undefined;
  argocdToken: string | undefined;
  kubeconfig: string | undefined;
}

/**
 * Rollout status (docs/design.md "Rollout"): what Argo CD or Flux make of each revision.
 * While anyone waits or looks, each syncer object is followed once (shared by every
 * waiter): Argo CD through its watch stream, Flux (and Argo CD while its stream is down)
 * by one poll per interval. A wait holds no write-queue slot and does no git work but
 * reading the ancestry of the commits the syncer names.
 */
export class RolloutService {
  private readonly watched = new Map<string, Watched>();
  private readonly argocd: ApiEndpoint | undefined;
  private readonly kube: KubeReader | undefined;
  /** `<commit> <other>` → whether other is at or after commit; answers that can no longer change. */
  private readonly ancestry = new BoundedCache<boolean>(20_000, () => 1);

  constructor(
    settings: RolloutSettings,
    private readonly gitdir: Gitdir,
    private readonly history: HistoryService,
    private readonly memory: RolloutMemory,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Shutdown: every wait ends at once (its caller answers "retry elsewhere"). */
    private readonly closing: AbortSignal,
    private readonly announce: Announce,
  ) {
    this.argocd = settings.argocdUrl ? { base: settings.argocdUrl, token: settings.argocdToken } : undefined;
    this.kube = kubeReader(settings.kubeconfig);
  }

  /** The rollout of every revision (by number), and the drift, for an app's history. */
  async ofHistory(
    app: AppConfig,
    revisions: readonly Revision[],
  ): Promise<{ rollouts: Map<number, Rollout>; drift: Drift | null }> {
    const rollouts = new Map<number, Rollout>();
    const current = revisions.at(-1);
    const now = current && app.syncer ? await this.current(app, current) : undefined;
    for (const r of revisions) rollouts.set(r.revision, r === current && now ? now : this.remembered(app, r));
    const last = app.syncer ? this.watch(app.syncer).last : undefined;
    const drift = current && last && 'obs' in last ? await this.drift(revisions, current, last.obs, app.syncer!) : null;
    return { rollouts, drift };
  }

  /**
   * Waits until the rollout of `configCommit` settles (healthy, degraded, failed, or
   * superseded by a newer revision), `timeoutMs` passes, the caller goes (`signal`) or the
   * bridge shuts down; `ended` says which. `onChange` hears every state.
   */
  async wait(
    app: AppConfig,
    configCommit: string,
    timeoutMs: number,
    opts: { onChange?: (r: Rollout) => void; signal?: Withdrawal } = {},
  ): Promise<{ rollout: Rollout; ended: 'settled' | 'timeout' | 'shutdown' }> {
    const until = Date.now() + timeoutMs;
    const watched = app.syncer ? this.watch(app.syncer) : undefined;
    if (watched) this.interest(watched, 1);
    // A wake-up while the loop is looking (not sleeping) must not be lost: it is noted, and
    // the loop looks again at once instead of sleeping.
    let poked: boolean;
    let wake: () => void = () => (poked = true);
    const woken = () => wake();
    watched?.listeners.add(woken);
    // History wakes this wait only when this app got a new revision (not on every deploy of any app).
    let newest = this.history.index.revisions(app.id).at(-1);
    const unsubscribe = this.history.onChange(() => {
      const now = this.history.index.revisions(app.id).at(-1);
      if (now === newest) return;
      newest = now;
      woken();
    });
    opts.signal?.addEventListener('abort', woken);
    this.closing.addEventListener('abort', woken);
    try {
      let last: Rollout | undefined;
      for (;;) {
        poked = false;
        const revisions = await this.history.revisions(app.id);
        const revision = revisions.findLast((r) => r.configCommit === configCommit);
        const current = revisions.at(-1);
        // A newer revision may land between the deploy's answer and this first look: the
        // waited-for one was on its way, so it is superseded, never "not watched".
        const rollout = !revision
          ? pendingOf(configCommit)
          : revision.configCommit === current?.configCommit
            ? await this.current(app, revision)
            : this.remembered(app, revision, true);
        if (rollout.state !== last?.state || rollout.message !== last.message) opts.onChange?.(rollout);
        last = rollout;
        if (SETTLED.has(rollout.state) || (rollout.state === 'unknown' && !app.syncer))
          return { rollout, ended: 'settled' };
        if (this.closing.aborted) return { rollout, ended: 'shutdown' };
        const left = until - Date.now();
        if (left <= 0 || opts.signal?.aborted) return { rollout, ended: 'timeout' };
        if (poked) continue;
        await new Promise<void>((resolve) => {
          // Woken by what can change the answer: the syncer's view, history, the caller, shutdown.
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = () => (poked = true);
      }
    } finally {
      watched?.listeners.delete(woken);
      opts.signal?.removeEventListener('abort', woken);
      this.closing.removeEventListener('abort', woken);
      unsubscribe();
      if (watched) this.interest(watched, -1);
    }
  }

  /** A live view of the app (the console) keeps its syncer watched; returns the release. */
  view(app: AppConfig, onChange: () => void): () => void {
    if (!app.syncer) return () => undefined;
    const watched = this.watch(app.syncer);
    watched.listeners.add(onChange);
    this.interest(watched, 1);
    return () => {
      watched.listeners.delete(onChange);
      this.interest(watched, -1);
    };
  }

  close(): void {
    for (const w of this.watched.values()) w.follower?.stop();
  }

  /** The current revision's rollout, from an observation at most FRESH_MS old (asked now otherwise). */
  private async current(app: AppConfig, revision: Revision): Promise<Rollout> {
    if (!app.syncer) return unknown('no syncer for this app: add argocd: or flux: to it in kipper.yaml');
    const watched = this.watch(app.syncer);
    // A live stream's last object is the state now, however old: nothing changed since.
    if (!watched.follower?.live && (!watched.last || Date.now() - watched.last.at > FRESH_MS)) await this.ask(watched);
    const last = watched.last!;
    if (!('obs' in last)) return unknown(last.reason);
    const reach = {
      applied: await this.atOrAfter(revision.configCommit, last.obs.applied),
      attempted: await this.atOrAfter(revision.configCommit, last.obs.attempted),
    };
    const images = 'images' in revision.value ? revision.value.images : null;
    const { state, message } = judge(last.obs, reach, images);
    const before = this.memory.get(app.id, revision.configCommit);
    const stored = this.memory.set(app.id, revision.configCommit, {
      state,
      revision: last.obs.attempted ?? last.obs.applied,
      health: last.obs.health,
      message,
    });
    if (before?.state !== state) this.counted(app, revision, state);
    return stored;
  }

  /**
   * A revision that is not current: what it reached while it was, else superseded; unknown
   * when this bridge never watched it, unless someone was waiting for it (`awaited`).
   */
  private remembered(app: AppConfig, revision: Revision, awaited = false): Rollout {
    if (!app.syncer) return unknown('no syncer for this app: add argocd: or flux: to it in kipper.yaml');
    const seen =
      this.memory.get(app.id, revision.configCommit) ?? (awaited ? pendingOf(revision.configCommit) : undefined);
    if (!seen) return unknown('not watched by this bridge while it was current');
    if (SETTLED.has(seen.state) || (seen.state === 'unknown' && !awaited)) return seen;
    const superseded = this.memory.set(app.id, revision.configCommit, {
      ...seen,
      state: 'superseded',
      message: 'a newer revision became current before this one was healthy',
    });
    this.counted(app, revision, 'superseded');
    return superseded;
  }

  private counted(app: AppConfig, revision: Revision, state: Rollout['state']): void {
    if (!SETTLED.has(state)) return;
    this.metrics.rollouts.inc({ state });
    if (state === 'healthy')
      this.metrics.rolloutDuration.observe(Math.max(0, Date.now() - Date.parse(revision.timestamp)) / 1000);
    this.log.info(`rollout ${state}`, {
      app: app.id,
      revision: revision.revision,
      configCommit: revision.configCommit,
    });
    if (state === 'healthy' || state === 'degraded') {
      const image = 'images' in revision.value ? (revision.value.images[0] ?? null) : null;
      const commit = 'commit' in revision.value ? revision.value.commit : revision.sourceCommit;
      this.announce({
        event: state,
        app: app.id,
        revision: revision.revision,
        image,
        commit,
        configCommit: revision.configCommit,
        trigger: revision.trigger,
        reason: revision.reason ?? null,
      });
    }
  }

  private async drift(
    revisions: readonly Revision[],
    current: Revision,
    obs: Observation,
    syncer: Syncer,
  ): Promise<Drift | null> {
    if (obs.automatic) return null;
    const running = obs.attempted ?? obs.applied;
    if (!running) return null;
    const byCommit = new Map(revisions.map((r) => [r.configCommit, r.revision]));
    let cluster: number | undefined;
    await this.walk(running, (oid) => (cluster = byCommit.get(oid)) !== undefined);
    if (cluster === undefined || cluster >= current.revision) return null;
    const reason =
      syncer.kind === 'argocd'
        ? `Argo CD runs revision #${cluster} with auto-sync off (a rollback in its UI?); git says #${current.revision}`
        : `the Flux ${syncer.kind === 'kustomization' ? 'Kustomization' : 'HelmRelease'} is suspended at revision #${cluster}; git says #${current.revision}`;
    return { cluster, git: current.revision, reason };
  }

  /** True when `other` is `commit` or a first-parent descendant of it (the syncer is there or past it). */
  private async atOrAfter(commit: string, other: string | null): Promise<boolean> {
    if (!other) return false;
    if (other === commit || (other.length < 40 && commit.startsWith(other))) return true;
    const key = `${commit} ${other}`;
    let known = this.ancestry.get(key);
    if (known === undefined) {
      known = false;
      const complete = await this.walk(other, (oid) => (known = oid === commit));
      // Only a definite answer is kept: a walk cut short by a commit not here yet may
      // find `commit` once the next fetch brings it.
      if (known || complete) this.ancestry.set(key, known);
    }
    return known;
  }

  /**
   * Walks the first-parent chain from `from` until `found` says so, WALK_LIMIT commits, or
   * a commit not here; resolves false only in that last case (the answer may change).
   */
  private async walk(from: string, found: (oid: string) => boolean): Promise<boolean> {
    return (await walkFirstParents(this.gitdir, from, found, WALK_LIMIT)) !== 'missing';
  }

  private watch(syncer: Syncer): Watched {
    const id = syncerId(syncer);
    let w = this.watched.get(id);
    if (!w) {
      w = { syncer, last: undefined, asking: null, interest: 0, follower: undefined, listeners: new Set() };
      this.watched.set(id, w);
    }
    return w;
  }

  /** Starts following with the first who waits or looks, stops with the last. */
  private interest(w: Watched, delta: 1 | -1): void {
    w.interest += delta;
    if (w.interest > 0 && w.follower === undefined) {
      w.follower = new Follower({
        pollMs: POLL_MS,
        poll: () => {
          this.ask(w).catch((err: unknown) =>
            this.log.warn('could not read a syncer', {
              syncer: syncerId(w.syncer),
              error: err instanceof Error ? err.message : String(err),
            }),
          );
        },
        open: this.streamOf(w),
        dropped: (reason) =>
          this.log.debug('syncer watch stream ended; polling until it is back', { syncer: syncerId(w.syncer), reason }),
      });
      w.follower.start();
    } else if (w.interest === 0) {
      w.follower?.stop();
      w.follower = undefined;
    }
  }

  /** Argo CD's watch stream of the application, when Argo CD is configured; each object it sends is a look. */
  private streamOf(w: Watched): OpenStream | undefined {
    const syncer = w.syncer;
    if (syncer.kind !== 'argocd' || !this.argocd) return undefined;
    const endpoint = this.argocd;
    return (signals) =>
      watchApplication(endpoint, syncer, {
        application: (type, json) => {
          if (type === 'DELETED') {
            // The next look says what a GET says now (404).
            this.ask(w).catch(() => undefined);
            return;
          }
          this.record(w, { at: Date.now(), obs: observeArgoApplication(json) });
          signals.delivered();
        },
        ended: (reason) => signals.ended(reason),
      });
  }

  /** Asks the syncer (one request at a time per object); tells the listeners when its view changed. */
  private ask(w: Watched): Promise<void> {
    w.asking ??= (async () => {
      const answer = await this.read(w.syncer);
      const who = w.syncer.kind === 'argocd' ? 'Argo CD' : 'the Kubernetes API';
      this.record(
        w,
        typeof answer === 'string'
          ? { at: Date.now(), reason: answer }
          : answer.ok
            ? {
                at: Date.now(),
                obs: w.syncer.kind === 'argocd' ? observeArgoApplication(answer.json) : observeFluxObject(answer.json),
              }
            : { at: Date.now(), reason: `${who} did not answer for ${syncerId(w.syncer)}: ${answer.reason}` },
      );
    })().finally(() => {
      w.asking = null;
    });
    return w.asking;
  }

  /** Keeps a look; tells the listeners when the view changed. */
  private record(w: Watched, look: Look): void {
    const key = (l: Look | undefined) => l && ('obs' in l ? JSON.stringify(l.obs) : l.reason);
    const before = key(w.last);
    w.last = look;
    if (key(look) !== before) for (const l of w.listeners) l();
  }

  /** One GET of the syncer's object, or why there is no API to ask (a setting to make). */
  private read(syncer: Syncer): Promise<ApiAnswer> | string {
    if (syncer.kind === 'argocd')
      return this.argocd
        ? getApplication(this.argocd, syncer)
        : 'KIPPER_ARGOCD_URL is not set: the bridge cannot ask Argo CD';
    return (
      this.kube?.get(syncer) ??
      'no Kubernetes API: set KIPPER_KUBECONFIG, or run in the cluster with a service account that may read Flux objects'
    );
  }
}

function unknown(message: string): Rollout {
  return { state: 'unknown', revision: null, health: null, message, since: null };
}

/** A config commit history has not reached yet (indexing): on its way. */
function pendingOf(configCommit: string): Rollout {
  return {
    state: 'pending',
    revision: null,
    health: null,
    message: `waiting for ${configCommit.slice(0, 12)} in history`,
    since: null,
  };
}
