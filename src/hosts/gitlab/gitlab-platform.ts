import { Gitlab } from '@gitbeaker/rest';
import { KipError } from '../../errors.js';
import { HOST_TIMEOUT_MS, type CreateProposal, type HostProposal, type MergeOutcome, type Platform } from '../types.js';

/** The fields of a merge request we read (https://docs.gitlab.com/api/merge_requests/). */
interface MrFields {
  iid: number;
  web_url: string;
  state: string;
  sha?: string | null;
  detailed_merge_status?: string;
  description?: string | null;
}

/**
 * Merge requests through GitLab's v4 API with `@gitbeaker/rest`:
 * `/projects/:id/merge_requests`, the project addressed by its path.
 */
export class GitlabPlatform implements Platform {
  readonly name = 'gitlab';
  private readonly api: InstanceType<typeof Gitlab>;

  constructor(private readonly opts: { apiUrl: string; project: string; token: () => Promise<string> }) {
    // gitbeaker appends /api/v4 to `host` itself.
    const host = opts.apiUrl.replace(/\/api\/v4\/?$/, '');
    this.api = new Gitlab({ host, token: opts.token, queryTimeout: HOST_TIMEOUT_MS });
  }

  async findOpenForBranch(branch: string, target: string): Promise<HostProposal | null> {
    const list = (await this.call(() =>
      this.api.MergeRequests.all({
        projectId: this.opts.project,
        state: 'opened',
        sourceBranch: branch,
        targetBranch: target,
      }),
    )) as unknown as MrFields[];
    const found = list[0];
    return found ? this.get(found.iid) : null;
  }

  async create(input: CreateProposal): Promise<HostProposal> {
    try {
      const mr = (await this.api.MergeRequests.create(this.opts.project, input.branch, input.target, input.title, {
        description: input.body,
        ...(input.labels.length > 0 ? { labels: input.labels.join(',') } : {}),
      })) as unknown as MrFields;
      return proposalOf(mr);
    } catch (err) {
      // 409 "Another open merge request already exists for this source branch".
      if (statusOf(err) === 409)
        throw new KipError('HOST_API_FAILED', 'a merge request already exists for the branch', { exists: true });
      throw hostError(err);
    }
  }

  async update(number: number, change: { title: string; body: string }): Promise<HostProposal> {
    const mr = (await this.call(() =>
      this.api.MergeRequests.edit(this.opts.project, number, { title: change.title, description: change.body }),
    )) as unknown as MrFields;
    return proposalOf(mr);
  }

  async get(number: number): Promise<HostProposal> {
    const mr = (await this.call(() => this.api.MergeRequests.show(this.opts.project, number))) as unknown as MrFields;
    return proposalOf(mr);
  }

  async merge(number: number, headSha: string): Promise<MergeOutcome> {
    try {
      // `sha`: GitLab answers 409 when the source branch moved since.
      const mr = (await this.api.MergeRequests.accept(this.opts.project, number, {
        sha: headSha,
      })) as unknown as MrFields & {
        merge_commit_sha?: string | null;
      };
      return mr.state === 'merged'
        ? { merged: true, sha: mr.merge_commit_sha ?? null }
        : { merged: false, reason: `state ${mr.state}` };
    } catch (err) {
      const status = statusOf(err);
      if (status === 405 || status === 406 || status === 409 || status === 422)
        return { merged: false, reason: messageOf(err) };
      throw hostError(err);
    }
  }

  async close(number: number): Promise<void> {
    await this.call(() => this.api.MergeRequests.edit(this.opts.project, number, { stateEvent: 'close' }));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw hostError(err);
    }
  }
}

function proposalOf(mr: MrFields): HostProposal {
  return {
    number: mr.iid,
    url: mr.web_url,
    state: mr.state === 'merged' ? 'merged' : mr.state === 'opened' ? 'open' : 'closed',
    headSha: mr.sha ?? '',
    mergeable: mr.detailed_merge_status === 'mergeable',
    body: mr.description ?? '',
  };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { cause?: { response?: { status?: unknown } } }).cause?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(err: unknown): string {
  const description = (err as { cause?: { description?: unknown } }).cause?.description;
  if (typeof description === 'string') return description;
  return err instanceof Error ? err.message : String(err);
}

function hostError(err: unknown): KipError {
  const status = statusOf(err);
  return new KipError('HOST_API_FAILED', `GitLab answered ${status ?? 'nothing'}: ${messageOf(err)}`, {
    answer: status ? `HTTP ${status}` : 'error',
  });
}
