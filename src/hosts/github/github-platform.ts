import { Octokit } from '@octokit/rest';
import { KipError } from '../../errors.js';
import { HOST_TIMEOUT_MS, type CreateProposal, type HostProposal, type MergeOutcome, type Platform } from '../types.js';

/** The fields of a pull request we read (GitHub REST, `pull-request` in api.github.com's OpenAPI description). */
interface PullFields {
  number: number;
  html_url: string;
  state: string;
  merged?: boolean | null;
  merged_at?: string | null;
  mergeable_state?: string;
  body?: string | null;
  head: { sha: string; ref: string };
}

/**
 * Pull requests through GitHub's REST API with `@octokit/rest`
 * (https://docs.github.com/en/rest/pulls/pulls): `/repos/{owner}/{repo}/pulls`.
 */
export class GithubPlatform implements Platform {
  readonly name = 'github';
  private readonly octokit: Octokit;

  constructor(private readonly opts: { apiUrl: string; owner: string; repo: string; token: () => Promise<string> }) {
    this.octokit = new Octokit({ baseUrl: opts.apiUrl, userAgent: 'kipper', request: { retries: 0 } });
    // The token of the moment (a rotated file, a renewed App installation token), per request.
    this.octokit.hook.before('request', async (options) => {
      const token = await opts.token();
      if (token) options.headers.authorization = `token ${token}`;
      // A host that hangs costs a deploy its bound, not forever (octokit has no timeout of its own).
      options.request = { ...options.request, signal: AbortSignal.timeout(HOST_TIMEOUT_MS) };
    });
  }

  async findOpenForBranch(branch: string, target: string): Promise<HostProposal | null> {
    const { owner, repo } = this.opts;
    const { data } = await this.call(() =>
      this.octokit.rest.pulls.list({
        owner,
        repo,
        state: 'open',
        head: `${owner}:${branch}`,
        base: target,
        per_page: 10,
      }),
    );
    const found = data.find((p) => p.head.ref === branch);
    // The list has no mergeable_state: ask for the one found.
    return found ? this.get(found.number) : null;
  }

  async create(input: CreateProposal): Promise<HostProposal> {
    const { owner, repo } = this.opts;
    let created: PullFields;
    try {
      ({ data: created } = await this.octokit.rest.pulls.create({
        owner,
        repo,
        head: input.branch,
        base: input.target,
        title: input.title,
        body: input.body,
      }));
    } catch (err) {
      // 422 "A pull request already exists for owner:branch": another replica was first.
      if (statusOf(err) === 422 && /already exists/i.test(messageOf(err)))
        throw new KipError('HOST_API_FAILED', 'a pull request already exists for the branch', { exists: true });
      throw hostError(err);
    }
    if (input.labels.length > 0) {
      await this.call(() =>
        this.octokit.rest.issues.addLabels({ owner, repo, issue_number: created.number, labels: [...input.labels] }),
      );
    }
    return proposalOf(created);
  }

  async update(number: number, change: { title: string; body: string }): Promise<HostProposal> {
    const { owner, repo } = this.opts;
    const { data } = await this.call(() =>
      this.octokit.rest.pulls.update({ owner, repo, pull_number: number, title: change.title, body: change.body }),
    );
    return proposalOf(data);
  }

  async get(number: number): Promise<HostProposal> {
    const { owner, repo } = this.opts;
    const { data } = await this.call(() => this.octokit.rest.pulls.get({ owner, repo, pull_number: number }));
    return proposalOf(data);
  }

  async merge(number: number, headSha: string): Promise<MergeOutcome> {
    const { owner, repo } = this.opts;
    try {
      // `sha`: GitHub refuses (409) when the head moved since: never merge what nobody saw.
      const { data } = await this.octokit.rest.pulls.merge({ owner, repo, pull_number: number, sha: headSha });
      return data.merged ? { merged: true, sha: data.sha } : { merged: false, reason: data.message };
    } catch (err) {
      const status = statusOf(err);
      // 405 not mergeable (checks, reviews), 409 head moved: the host's answer, not a failure of ours.
      if (status === 405 || status === 409) return { merged: false, reason: messageOf(err) };
      throw hostError(err);
    }
  }

  async close(number: number): Promise<void> {
    const { owner, repo } = this.opts;
    await this.call(() => this.octokit.rest.pulls.update({ owner, repo, pull_number: number, state: 'closed' }));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw hostError(err);
    }
  }
}

function proposalOf(p: PullFields): HostProposal {
  const merged = Boolean(p.merged) || Boolean(p.merged_at);
  return {
    number: p.number,
    url: p.html_url,
    state: merged ? 'merged' : p.state === 'open' ? 'open' : 'closed',
    headSha: p.head.sha,
    mergeable: p.mergeable_state === 'clean',
    body: p.body ?? '',
  };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(err: unknown): string {
  const data = (err as { response?: { data?: { message?: unknown; errors?: Array<{ message?: unknown }> } } }).response
    ?.data;
  const parts = [data?.message, ...(data?.errors ?? []).map((e) => e.message)].filter(
    (m): m is string => typeof m === 'string',
  );
  return parts.length > 0 ? parts.join(': ') : err instanceof Error ? err.message : String(err);
}

/** HOST_API_FAILED with GitHub's own words and status (never the token: octokit's errors carry none we pass on). */
function hostError(err: unknown): KipError {
  const status = statusOf(err);
  return new KipError('HOST_API_FAILED', `GitHub answered ${status ?? 'nothing'}: ${messageOf(err)}`, {
    answer: status ? `HTTP ${status}` : 'error',
  });
}
