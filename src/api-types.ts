/**
 * The JSON the bridge answers with (docs/design.md "Admin API and CLI", "Webhook"), one
 * declaration for the server that sends it and the `kip` CLI that reads it.
 */

/** A deploy of an image app, by the webhook, `kip app update` or a promotion. */
export interface DeployAnswer {
  /** `proposed` (202): pull-request mode opened or updated a pull/merge request (`pullRequest`). */
  status: 'deployed' | 'unchanged' | 'proposed';
  app: string;
  image: string;
  /** The source commit the image was built from, when the caller said. */
  commit: string | null;
  revision: number | null;
  configCommit: string | null;
  /** Pull-request mode: the proposal that carries (or carried) it. */
  pullRequest?: PullRequestRef;
}

/** A pull request (GitHub) or merge request (GitLab) of pull-request mode. */
export interface PullRequestRef {
  number: number;
  url: string;
}

/** `GET …/proposals`: the app's open proposal (pull-request mode), at most one. */
export interface ProposalsAnswer {
  proposals: Array<{ number: number; url: string; image: string | null; commit: string | null; state: 'open' }>;
}

/** A deploy of a git-source app: the commit is recorded, the cluster side builds it. */
export interface CommitDeployAnswer {
  status: 'building' | 'unchanged' | 'proposed';
  app: string;
  image: null;
  commit: string;
  revision: number | null;
  configCommit: string | null;
  pullRequest?: PullRequestRef;
}

export interface RollbackAnswer {
  /** `proposed` (202) in pull-request mode: the rollback waits in `pullRequest`. */
  status: 'rolled_back' | 'proposed';
  app: string;
  revision: number | null;
  rolledBackTo: number;
  /** null for a git-source app, whose rollback sets a commit. */
  image: string | null;
  commit: string | null;
  configCommit: string | null;
  /** Set when the rollback also locked the app (`--lock`), in the same commit. */
  lock?: LockInfo;
  pullRequest?: PullRequestRef;
}

/** An app's lock, as kipper.yaml `locks:` has it. */
export interface LockInfo {
  reason: string;
  /** Who locked it ("" where kipper.yaml does not say). */
  by: string;
  /** When (ISO 8601; "" where kipper.yaml does not say). */
  at: string;
}

/** `POST|DELETE …/lock`. */
export interface LockAnswer {
  app: string;
  locked: boolean;
  lock: LockInfo | null;
  /** The commit that locked or unlocked it; null when it already was. */
  configCommit: string | null;
}

/** One revision as history shows it. */
export interface HistoryRevision {
  revision: number;
  /** The image (the first, when the app's files hold several), or null for a git-source app. */
  image: string | null;
  /** Every image, only when the app's files hold more than one. */
  images?: string[];
  /** A git-source app's commit, or the source commit an image was built from. */
  commit: string | null;
  trigger: string;
  author: string;
  /**
   * Who did it (docs/design.md "Who did it"): the `Kipper-Actor` trailer of a bridge commit
   * (`webhook:<ns>/<app>`, `admin`, `admin (as <name>)`, …), or the author of a commit the
   * bridge did not write.
   */
  actor?: string;
  timestamp: string;
  configCommit: string;
  current: boolean;
  /** A later rollback or `git revert` took the app away from this revision. */
  undone: boolean;
  /** Why (`--reason`, the `Kipper-Reason` trailer), or null. */
  reason: string | null;
  /** A promotion: the namespace it was promoted from. */
  promotedFrom?: string;
  /** A rollback: the revision it went back to. */
  rolledBackTo?: number;
  /** Pull-request mode: the merged proposal that brought it (read from the bridge's branch commit). */
  pullRequest?: PullRequestRef;
  /** What Argo CD or Flux make of it (docs/design.md "Rollout"). */
  rollout?: RolloutAnswer;
}

/** The rollout of a revision. */
export interface RolloutAnswer {
  state: 'pending' | 'progressing' | 'healthy' | 'degraded' | 'failed' | 'superseded' | 'unknown';
  /** The commit the syncer is at, when known. */
  revision: string | null;
  /** The syncer's health of the application (`Healthy`, `Degraded`, …). */
  health: string | null;
  message: string | null;
  /** When the bridge first saw this state (ISO 8601). */
  since: string | null;
}

/** The cluster runs an older revision than git's current one, and will not catch up by itself. */
export interface DriftAnswer {
  cluster: number;
  git: number;
  reason: string;
}

export interface HistoryAnswer {
  app: string;
  /** The config repo that lists the app (`default` for KIPPER_REPO_URL or the embedded repo). */
  repo: string;
  /** Newest first. */
  revisions: HistoryRevision[];
  drift?: DriftAnswer;
  /** The app's lock, or null. */
  lock: LockInfo | null;
}

/** `GET …/revisions/{n}`: one revision, with its rollout. */
export interface RevisionAnswer extends HistoryRevision {
  app: string;
  drift?: DriftAnswer;
}

export interface AppSummary {
  app: string;
  /** The config repo that lists the app (`default` for KIPPER_REPO_URL or the embedded repo). */
  repo: string;
  namespace: string;
  name: string;
  source: 'image' | 'git';
  files: string[];
  image: string | null;
  images?: string[];
  revision: number | null;
  webhook: boolean;
  /** The app's lock, or null. */
  lock: LockInfo | null;
}

export interface AppsAnswer {
  apps: AppSummary[];
}

export interface WebhookState {
  enabled: boolean;
  url?: string;
  token?: string;
}

/** Every error, everywhere. */
export interface ErrorAnswer {
  error: string;
  code: string;
  fields?: Record<string, string>;
}
