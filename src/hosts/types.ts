/**
 * What a git host must do for pull-request mode (docs/protected-branches.md), in the shape
 * of Renovate's lib/modules/platform/types.ts: open, update, merge and close one proposal
 * (a GitHub pull request, a GitLab merge request) and find the open one for a branch.
 * Callers never see which host it is; api.ts picks the implementation.
 */

/** The longest one call to the host's API may take: a host that hangs costs a deploy this, not forever. */
export const HOST_TIMEOUT_MS = 15_000;

/** A pull request or merge request as the bridge needs it. */
export interface HostProposal {
  /** GitHub's `number`, GitLab's `iid`. */
  number: number;
  /** Its page for humans. */
  url: string;
  state: 'open' | 'closed' | 'merged';
  /** The commit its source branch points at, as the host last saw it. */
  headSha: string;
  /** The host says it may be merged now (checks green, reviews given): GitHub `mergeable_state: "clean"`, GitLab `detailed_merge_status: "mergeable"`. */
  mergeable: boolean;
  body: string;
}

/** A new proposal from `branch` into `target`. */
export interface CreateProposal {
  branch: string;
  target: string;
  title: string;
  body: string;
  labels: readonly string[];
}

/** The outcome of a merge request to the host. */
export type MergeOutcome = { merged: true; sha: string | null } | { merged: false; reason: string };

/** One git host's pull/merge request API for one repository. */
export interface Platform {
  /** `github` or `gitlab`, for logs. */
  readonly name: string;
  /** The open proposal whose source branch is `branch` (into `target`), or null. */
  findOpenForBranch(branch: string, target: string): Promise<HostProposal | null>;
  /** Opens a proposal; throws KipError PROPOSAL_EXISTS when the host already has an open one for the branch. */
  create(input: CreateProposal): Promise<HostProposal>;
  /** Sets the title and body of proposal `number`. */
  update(number: number, change: { title: string; body: string }): Promise<HostProposal>;
  /** The proposal as the host sees it now. */
  get(number: number): Promise<HostProposal>;
  /** Merges proposal `number` only if its head is still `headSha` (the host checks it): never a head that moved. */
  merge(number: number, headSha: string): Promise<MergeOutcome>;
  /** Closes proposal `number` unmerged. */
  close(number: number): Promise<void>;
}
