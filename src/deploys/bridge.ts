import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KIPPER_FILE, parseKipperFile, type AppConfig, type KipperConfig } from '../config/kipper-file.js';
import { ADMIN_TOKEN_FILE, SECRET_KEY_FILE, loadOrCreateSecret } from '../config/secrets.js';
import type { Settings } from '../config/settings.js';
import { setWebhookGeneration } from '../config/set-webhook-generation.js';
import { KipError } from '../errors.js';
import { loadIndex, saveIndex } from '../history/index-file.js';
import { RevisionIndex, type Revision } from '../history/revision-index.js';
import { formatCommitMessage } from '../history/trailers.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { parseImageReference, type ImageReference } from '../manifests/image-reference.js';
import { HttpRemote } from '../repo/http-remote.js';
import { LocalRemote } from '../repo/local-remote.js';
import { ObjectStore, type Signature } from '../repo/object-store.js';
import type { Remote } from '../repo/remote.js';
import { SEED_DIR, seedRepo } from '../repo/seed-repo.js';
import { nativeGitAvailable } from '../repo/native-git.js';
import { WriteQueue, type TreeView } from '../repo/write-queue.js';
import { assertTakesImages, imageRequestFor, type DeployRequest } from './deploy-request.js';
import { commitEdit, imageEdit, type DeployTrigger, type ImageEditInput } from './image-edit.js';
import { planRollback, valueOf } from './plan-rollback.js';
import { deriveWebhookToken, safeEqual } from '../webhooks/tokens.js';

/** The answer to a deploy, shaped as DESIGN.md's webhook table. */
export interface DeployResponse {
  status: 'deployed' | 'unchanged';
  app: string;
  image: string;
  commit: string | null;
  revision: number | null;
  configCommit: string | null;
}

/** The answer to a git-source app's deploy. */
export interface CommitDeployResponse {
  status: 'building' | 'unchanged';
  app: string;
  image: null;
  commit: string;
  revision: number | null;
  configCommit: string | null;
}

/** The answer to a rollback (DESIGN.md "Admin API and CLI"). */
export interface RollbackResponse {
  status: 'rolled_back';
  app: string;
  revision: number | null;
  rolledBackTo: number;
  /** null for a git-source app, whose rollback sets a commit. */
  image: string | null;
  commit: string | null;
  configCommit: string | null;
}

/** How often others' pushes are looked for when idle. */
const POLL_INTERVAL_MS = 5_000;
/** A look at the remote that takes longer than this makes the bridge unready: it hangs. */
const HANG_MS = 5_000;

/**
 * The bridge's use cases over one config repo: deploy, webhook tokens, apps. It owns the
 * write queue (the only writer), the parsed kipper.yaml at the head and the revision index.
 */
export class Bridge {
  private config: KipperConfig = { apps: new Map(), webhooks: new Map() };
  private configError: KipError | null = null;
  private configCache = new Map<string, KipperConfig>();
  private poll: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  /** Resolves once the index covers the whole history (a remote starts shallow). */
  private historyReady: Promise<void> = Promise.resolve();
  private historyLoaded = false;
  private saveTimer: NodeJS.Timeout | undefined;
  readonly index: RevisionIndex;
  readonly queue: WriteQueue;
  readonly metrics: Metrics;
  private lastPushAt = Date.now();
  /** When the look at the remote that is still running started (null: none runs). */
  private refreshingSince: number | null = null;

  private constructor(
    readonly settings: Settings,
    readonly remote: Remote,
    readonly secretKey: string,
    readonly adminToken: string,
    readonly embedded: boolean,
    private readonly log: Logger,
  ) {
    this.index = new RevisionIndex(remote.store, (c) => this.configAt(c));
    this.queue = new WriteQueue(remote, {
      deployTimeoutMs: settings.deployTimeoutMs,
      signature: () => this.signature(),
      onHead: (head) => this.onHead(head),
      onPush: (e) => {
        this.lastPushAt = Date.now();
        this.metrics.observePush(e);
        log.debug('push', { ...e, buildMs: Math.round(e.buildMs), pushMs: Math.round(e.pushMs) });
      },
    });
    this.metrics = new Metrics({ queueDepth: () => this.queue.depth, historyRevisions: () => this.index.size() });
  }

  /** Open the config repo named by `settings` (or create the embedded one) and fetch it. */
  static async open(settings: Settings, log: Logger): Promise<Bridge> {
    await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
    const secretKey = await loadOrCreateSecret(settings.dataDir, SECRET_KEY_FILE, settings.secretKey);
    const adminToken = await loadOrCreateSecret(settings.dataDir, ADMIN_TOKEN_FILE, settings.adminToken);
    let remote: Remote;
    const embedded = settings.repoUrl === undefined;
    if (embedded) {
      const gitdir = join(settings.dataDir, 'config.git');
      await ObjectStore.init(gitdir, settings.branch);
      const local = new LocalRemote({ gitdir, branch: settings.branch });
      remote = local;
      if ((await local.readHead()) === null) {
        const oid = await seedRepo(local, SEED_DIR, 'seed the example config repo\n', signatureOf(settings));
        log.info('created the embedded config repo', { gitdir, commit: oid });
      }
    } else {
      remote = new HttpRemote({
        url: settings.repoUrl!,
        branch: settings.branch,
        gitdir: join(settings.dataDir, 'cache.git'),
        username: settings.gitUsername,
        token: settings.gitToken,
      });
    }
    const bridge = new Bridge(settings, remote, secretKey, adminToken, embedded, log);
    const snapshot = await loadIndex(settings.dataDir, bridge.indexKey);
    if (snapshot) bridge.index.restore(snapshot);
    bridge.index.onChange = () => bridge.scheduleIndexSave();
    await bridge.queue.refresh();
    bridge.historyReady = bridge.loadHistory(snapshot !== null);
    bridge.poll = setInterval(() => void bridge.refresh().catch(() => undefined), POLL_INTERVAL_MS);
    bridge.poll.unref();
    return bridge;
  }

  /**
   * Bring the revision index to the whole history. A persisted index that connects to
   * the head needs only the new commits. Otherwise: a remote is fetched shallow so writes
   * can start at once, and its full history is fetched here in the background; then the
   * history is indexed (with native git when the machine has it: one `git log` and one
   * `git cat-file`, instead of reading object by object). Until then, history queries
   * and the `revision` of deploy answers wait.
   */
  private async loadHistory(restored: boolean): Promise<void> {
    const started = Date.now();
    try {
      if (restored) {
        await this.index.update(this.queue.head);
        if (this.index.complete) return;
      }
      for (let attempt = 1; ; attempt++) {
        try {
          if (this.remote.fetchFull) await this.remote.fetchFull();
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
      const fetched = Date.now();
      const head = this.queue.head;
      if (await nativeGitAvailable()) {
        // Native git reads the disk: the objects of `head` must be there first.
        await this.remote.store.flush();
        await this.index.rebuildNative(this.remote.store.gitdir, head, parseKipperFile);
      } else {
        await this.index.rebuild(head);
      }
      this.log.info('history indexed', { fetchMs: fetched - started, indexMs: Date.now() - fetched, revisions: this.index.size() });
    } catch (err) {
      this.log.error('could not read the full history; revision numbers count from what is here', {
        error: err instanceof Error ? err.message : String(err),
      });
      await this.index.update(this.queue.head).catch(() => undefined);
    } finally {
      this.historyLoaded = true;
    }
    // Pushes that landed meanwhile.
    await this.index.update(this.queue.head).catch(() => undefined);
  }

  /** Which repo the persisted index belongs to (no credentials). */
  get indexKey(): string {
    return `${this.remote.description}#${this.settings.branch}`;
  }

  /** Persist the index soon: at most once a second, and on close. */
  private scheduleIndexSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveIndex();
    }, 1_000);
    this.saveTimer.unref();
  }

  private async saveIndex(): Promise<void> {
    if (!this.index.complete) return;
    // Mid-walk, revisions and head disagree: save once the walk is over.
    if (this.index.busy) {
      await this.index.update(this.queue.head).catch(() => undefined);
      if (this.index.busy) return this.scheduleIndexSave();
    }
    try {
      await saveIndex(this.settings.dataDir, this.indexKey, this.index.snapshot());
    } catch (err) {
      this.log.warn('could not persist the history index', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Set once `close` started: new API requests are answered 503 SHUTTING_DOWN. */
  closing = false;

  /** Stop polling and wait for the writes in flight. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.poll);
    await this.queue.idle();
    // Background object writes of the cache repo, before the process goes.
    await this.remote.store.idle();
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.saveIndex();
  }

  /** Look for others' pushes now. */
  async refresh(): Promise<void> {
    const started = Date.now();
    this.lastRefresh = started;
    this.refreshingSince ??= started;
    try {
      await this.queue.refresh();
    } finally {
      if (this.refreshingSince === started) this.refreshingSince = null;
    }
  }

  /**
   * Look for others' pushes now, for answers a human reads right after pushing (history,
   * rollback, promote). Never fails: with the remote down the index still answers, and a
   * write finds out at its compare-and-swap.
   */
  async refreshQuietly(maxAgeMs = 0): Promise<void> {
    if (maxAgeMs > 0 && Date.now() - this.lastRefresh < maxAgeMs) return;
    await this.refresh().catch(() => undefined);
  }

  /**
   * Look at the remote when the last look is older than `maxAgeMs`, waiting for the
   * answer at most `waitMs`: a quick remote gives fresh state, a hanging one costs the
   * caller `waitMs` and is judged by what the poll and the writes last saw.
   */
  async freshState(maxAgeMs: number, waitMs: number): Promise<void> {
    if (Date.now() - this.lastRefresh < maxAgeMs) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
    await Promise.race([this.refreshQuietly(), late]);
    clearTimeout(timer);
  }

  /** Why the bridge should not get traffic now, or null when it is ready (/readyz). State only. */
  unreadyReason(): string | null {
    if (!this.queue.hasHead) return 'the config repo has not been fetched yet';
    if (this.configError) return `${this.configError.message} (at ${this.queue.head.slice(0, 12)}); deploys answer 422 CONFIG_INVALID until it is fixed`;
    if (this.queue.lastError) return this.queue.lastError.message;
    const waitingMs = this.refreshingSince === null ? 0 : Date.now() - this.refreshingSince;
    if (waitingMs > HANG_MS) return `the config repo has not answered for ${Math.round(waitingMs / 1000)} s`;
    const silentMs = Date.now() - this.queue.lastContact;
    if (silentMs > 3 * POLL_INTERVAL_MS) return `the config repo has not answered for ${Math.round(silentMs / 1000)} s`;
    if (this.queue.depth > 0 && Date.now() - this.lastPushAt > 60_000) return 'the write queue has not pushed for a minute';
    return null;
  }

  /** The code /readyz answers with when unready: what kind of problem it is. */
  unreadyCode(): 'CONFIG_INVALID' | 'REPO_UNAVAILABLE' {
    return this.queue.hasHead && this.configError ? 'CONFIG_INVALID' : 'REPO_UNAVAILABLE';
  }

  /** The parsed kipper.yaml at the head; throws when the file is invalid there. */
  currentConfig(): KipperConfig {
    if (this.configError) throw this.configError;
    return this.config;
  }

  /** The app `id`, or null; when unknown, looks for a fresh kipper.yaml at most once a second. */
  async findApp(id: string): Promise<AppConfig | null> {
    const found = this.config.apps.get(id);
    if (found || Date.now() - this.lastRefresh < 1_000) return found ?? null;
    await this.refresh().catch(() => undefined);
    return this.config.apps.get(id) ?? null;
  }

  /** The current webhook token of an app, or null when its webhook is disabled. */
  webhookToken(id: string): string | null {
    const generation = this.config.webhooks.get(id);
    return generation === undefined ? null : deriveWebhookToken(this.secretKey, id, generation);
  }

  /** True when `token` is the current webhook token of `id` (constant time). */
  checkWebhookToken(id: string, token: string): boolean {
    const expected = this.webhookToken(id);
    if (expected === null || !this.config.apps.has(id)) return false;
    return safeEqual(token, expected);
  }

  /** Deploy what `request` holds (see deploy-request.ts), and wait until it is in the remote. */
  deploy(app: AppConfig, request: DeployRequest, trigger: DeployTrigger, signal?: AbortSignal): Promise<DeployResponse | CommitDeployResponse> {
    return request.kind === 'commit'
      ? this.deployCommitWith(app, request.commit, trigger, {}, signal)
      : this.deployImage(app, request.image, request.commit, trigger, {}, signal);
  }

  /**
   * Commit `image` for `app` (or answer unchanged), and wait until it is in the remote.
   * `signal`: the caller went away, drop the deploy unless its push is in flight.
   */
  async deployImage(
    app: AppConfig,
    image: ImageReference,
    sourceCommit: string | undefined,
    trigger: DeployTrigger,
    extra: Pick<ImageEditInput, 'trailers' | 'body'> = {},
    signal?: AbortSignal,
  ): Promise<DeployResponse> {
    const deadline = await this.startWrite();
    const outcome = await this.queue.submit(
      imageEdit({ appId: app.id, image, sourceCommit, trigger, configAt: (v) => this.configFromView(v), ...extra }),
      { deadline, ...(signal ? { signal } : {}) },
    );
    const revision = await this.revisionAt(app.id, outcome.configCommit, deadline);
    return {
      status: outcome.configCommit ? 'deployed' : 'unchanged',
      app: app.id,
      image: image.raw,
      commit: sourceCommit ?? null,
      revision: revision?.revision ?? null,
      configCommit: outcome.configCommit ?? revision?.configCommit ?? null,
    };
  }

  /** Commit `commit` to the `:commit` markers of a git-source app; answers `building` (or unchanged). */
  private async deployCommitWith(
    app: AppConfig,
    commit: string,
    trigger: DeployTrigger,
    extra: Pick<ImageEditInput, 'trailers' | 'body'>,
    signal?: AbortSignal,
  ): Promise<CommitDeployResponse> {
    const deadline = await this.startWrite();
    const outcome = await this.queue.submit(
      commitEdit({ appId: app.id, sourceCommit: commit, trigger, configAt: (v) => this.configFromView(v), ...extra }),
      { deadline, ...(signal ? { signal } : {}) },
    );
    const revision = await this.revisionAt(app.id, outcome.configCommit, deadline);
    return {
      // The commit is recorded; the cluster side (Argo CD, a build) now builds it.
      status: outcome.configCommit ? 'building' : 'unchanged',
      app: app.id,
      image: null,
      commit,
      revision: revision?.revision ?? null,
      configCommit: outcome.configCommit ?? revision?.configCommit ?? null,
    };
  }

  /** Roll `app` back to revision `requested`, or to the one before the current (stepping back). */
  async rollback(app: AppConfig, requested: number | undefined): Promise<RollbackResponse> {
    await this.refreshQuietly();
    const plan = planRollback(app.id, await this.revisions(app.id), requested);
    const extra = {
      trailers: { rollbackTo: plan.target.configCommit },
      // git log and the Argo CD UI then show it as what it is: a revert of the current revision.
      body: plan.reverts ? `This reverts commit ${plan.reverts}.` : undefined,
    };
    const result =
      app.source === 'git'
        ? await this.deployCommitWith(app, plan.target.commit!, 'rollback', extra)
        : await this.deployImage(app, rollbackImage(app.id, plan.target), plan.target.commit ?? undefined, 'rollback', extra);
    if (result.status === 'unchanged') {
      throw new KipError('ALREADY_CURRENT', `${app.id} already runs ${valueOf(plan.target)}`, { app: app.id });
    }
    return {
      status: 'rolled_back',
      app: app.id,
      revision: result.revision,
      rolledBackTo: plan.target.revision,
      image: result.image,
      commit: result.commit,
      configCommit: result.configCommit,
    };
  }

  /** Deploy the current image of `app` to the app of the same name in namespace `to`. */
  async promote(app: AppConfig, to: string): Promise<DeployResponse> {
    const targetId = `${to}/${app.name}`;
    if (targetId === app.id) throw new KipError('INVALID_BODY', 'promote to another environment than the source', { app: app.id });
    const target = await this.findApp(targetId);
    if (!target) throw appNotFound(targetId);
    // A promotion is an image deploy: a git-source target is refused whatever the source holds.
    assertTakesImages(target);
    await this.refreshQuietly();
    const current = (await this.revisions(app.id)).at(-1);
    if (!current?.image || current.image.includes(', ')) {
      throw new KipError('NO_SOURCE_IMAGE', `${app.id} has no current image to promote; deploy it first`, { app: app.id });
    }
    const request = imageRequestFor(target, parseImageReference(current.image), current.commit ?? undefined);
    return this.deployImage(target, request.image, request.commit, 'promotion', { trailers: { promotedFrom: app.namespace } });
  }

  /** Enable (or re-enable, which regenerates the token) or disable the webhook of `id`. */
  async setWebhook(id: string, enable: boolean): Promise<{ enabled: boolean; token: string | null }> {
    // The generations kipper.yaml ever held come from its history.
    await this.historyReady;
    const outcome = await this.queue.submit(async (view) => {
      const bytes = await view.readFile(KIPPER_FILE);
      if (!bytes) throw new KipError('CONFIG_INVALID', `${KIPPER_FILE} is missing from the config repo`);
      const text = Buffer.from(bytes).toString('utf8');
      const config = parseKipperFile(text);
      if (!config.apps.has(id)) throw appNotFound(id);
      const current = config.webhooks.get(id);
      if (!enable && current === undefined) return { kind: 'unchanged', result: null };
      // Never a generation used before: its token may be the one that was leaked.
      const next = enable ? Math.max(current ?? 0, this.index.maxGeneration(id)) + 1 : null;
      const updated = setWebhookGeneration(text, id, next);
      const verb = enable ? (current === undefined ? 'enable' : 'regenerate') : 'disable';
      return {
        kind: 'commit',
        files: new Map([[KIPPER_FILE, Buffer.from(updated, 'utf8')]]),
        message: formatCommitMessage(`webhook ${verb} ${id}`, { app: id }),
        result: next,
      };
    });
    void outcome;
    const token = this.webhookToken(id);
    return { enabled: token !== null, token };
  }

  /** Revisions of an app, oldest first, as of the index's head. */
  async revisions(id: string): Promise<Revision[]> {
    await this.historyReady;
    await this.index.update(this.queue.head);
    return this.index.revisions(id);
  }

  /**
   * The deadline of a write that starts now. A kipper.yaml that was invalid at the last
   * look is looked at again first: its fix may have been pushed a moment ago, and the
   * answer must not be a stale CONFIG_INVALID.
   */
  private async startWrite(): Promise<number> {
    const deadline = Date.now() + this.settings.deployTimeoutMs;
    if (this.configError) await this.refresh().catch(() => undefined);
    return deadline;
  }

  /**
   * The revision a deploy's answer names. Waits for the history (a fresh data dir loads it
   * in the background) at most until the deploy's deadline; after that the answer says
   * `revision: null` rather than keep a CI waiting on a long history.
   */
  private async revisionAt(id: string, configCommit: string | null, deadline: number): Promise<Revision | undefined> {
    if (!this.historyLoaded) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))));
      await Promise.race([this.historyReady, late]);
      clearTimeout(timer);
      if (!this.historyLoaded) return undefined;
    }
    const revisions = await this.revisions(id);
    if (configCommit === null) return revisions.at(-1);
    return revisions.findLast((r) => r.configCommit === configCommit);
  }

  private async onHead(head: string): Promise<void> {
    try {
      this.config = await this.configAt(head);
      this.configError = null;
    } catch (err) {
      this.configError = err instanceof KipError ? err : new KipError('CONFIG_INVALID', String(err));
      this.log.error('kipper.yaml at the head is invalid; deploys are refused until it is fixed', {
        head,
        error: this.configError.message,
      });
    }
    // Until the history is loaded, loadHistory owns the index (it may rebuild it whole).
    if (this.historyLoaded) await this.index.update(head);
  }

  /** kipper.yaml at a commit, parsed once per blob. */
  async configAt(commit: string): Promise<KipperConfig> {
    const store = this.remote.store;
    return this.configFromView({ fileOid: (p) => store.fileOid(commit, p), readFile: (p) => store.readFile(commit, p) });
  }

  private async configFromView(view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<KipperConfig> {
    const oid = await view.fileOid(KIPPER_FILE);
    if (oid === null) throw new KipError('CONFIG_INVALID', `${KIPPER_FILE} is missing from the config repo root`);
    let cfg = this.configCache.get(oid);
    if (!cfg) {
      const bytes = await view.readFile(KIPPER_FILE);
      cfg = parseKipperFile(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));
      if (this.configCache.size > 16) this.configCache.clear();
      this.configCache.set(oid, cfg);
    }
    return cfg;
  }

  private signature(): Signature {
    return signatureOf(this.settings);
  }
}

function signatureOf(settings: Settings): Signature {
  return {
    name: settings.authorName,
    email: settings.authorEmail,
    timestamp: Math.floor(Date.now() / 1000),
    timezoneOffset: 0,
  };
}

/** The image a rollback to `target` deploys: what our commit posted, else what the files held. */
function rollbackImage(app: string, target: Revision): ImageReference {
  if (target.deployed) return parseImageReference(target.deployed);
  const image = parseImageReference(target.image!);
  // A file that holds only a tag (a `:tag` marker) has no image to go back to by itself.
  if (!image.tag && !image.digest && !image.domain && !image.path.includes('/')) {
    throw new KipError('NOTHING_TO_ROLL_BACK', `revision #${target.revision} of ${app} holds only "${target.image}", not an image reference`, { app });
  }
  return image;
}

/** The error for an app that kipper.yaml does not list (admin API: 404). */
export function appNotFound(id: string): KipError {
  return new KipError('APP_NOT_FOUND', `no app ${id} in ${KIPPER_FILE}; add it there and commit`, { app: id });
}
