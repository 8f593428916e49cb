/**
 * What the GitHub and GitLab doubles (github-pulls.ts, gitlab-api.ts) share: the pull or
 * merge requests of ONE real bare repo, whose heads are read from git and whose merges
 * are real git commits written with plumbing (`git merge-tree --write-tree`,
 * `git commit-tree`, `git update-ref <ref> <new> <old>`), as the hosts do server-side.
 * A merge with the "protected branch" hook in place still lands: the host moves the ref
 * itself, not through receive-pack.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from './git-cli.js';

export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** One pull/merge request as the doubles keep it. */
export interface StoredProposal {
  number: number;
  branch: string;
  target: string;
  title: string;
  body: string;
  labels: string[];
  state: 'open' | 'closed' | 'merged';
  /** The head while closed or merged (open ones read the branch from git). */
  frozenHead: string | null;
  mergeCommit: string | null;
  /** Required checks: `pending` until a test says `success` (what makes it mergeable). */
  checks: 'pending' | 'success' | 'failure';
  createdBy: string;
}

/** Who may push to the protected branch directly (the hosts' bypass list), by git user name. */
export async function protectBranch(bare: string, branch: string, bypass: readonly string[]): Promise<void> {
  // The hosts let the pusher replace the commit of an unprotected branch (the kipper/
  // branch, with its compare-and-swap); the protected one only moves forward.
  await git(['--git-dir', bare, 'config', 'receive.denyNonFastForwards', 'false']);
  const allowed = bypass.map((u) => `"${u}"`).join(' ');
  const hook = `#!/bin/sh
# The test host's branch protection: ${branch} takes no direct pushes, but from the bypass list.
while read old new ref; do
  if [ "$ref" = "refs/heads/${branch}" ]; then
    ok=no
    for u in ${allowed}; do [ "$REMOTE_USER" = "$u" ] && ok=yes; done
    if [ "$ok" != yes ]; then
      echo "GH006: Protected branch update failed for refs/heads/${branch}." >&2
      echo "Changes must be made through a pull request." >&2
      exit 1
    fi
    if [ "$old" != 0000000000000000000000000000000000000000 ] && ! git merge-base --is-ancestor "$old" "$new"; then
      echo "GH003: Sorry, force-pushing to ${branch} is not allowed." >&2
      exit 1
    fi
  fi
done
exit 0
`;
  const path = join(bare, 'hooks', 'pre-receive');
  await writeFile(path, hook);
  await chmod(path, 0o755);
}

export class ProposalStore {
  readonly proposals: StoredProposal[] = [];
  /** Every API request the double answered, `METHOD path`, for assertions. */
  readonly calls: string[] = [];

  constructor(readonly bare: string) {}

  async headOf(branch: string): Promise<string | null> {
    try {
      return (
        (
          await git(['--git-dir', this.bare, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])
        ).trim() || null
      );
    } catch {
      return null;
    }
  }

  async head(p: StoredProposal): Promise<string> {
    return p.frozenHead ?? (await this.headOf(p.branch)) ?? '';
  }

  find(number: number): StoredProposal | undefined {
    return this.proposals.find((p) => p.number === number);
  }

  openFor(branch: string, target?: string): StoredProposal | undefined {
    return this.proposals.find(
      (p) => p.state === 'open' && p.branch === branch && (target === undefined || p.target === target),
    );
  }

  create(input: {
    branch: string;
    target: string;
    title: string;
    body: string;
    labels?: string[];
    by: string;
  }): StoredProposal {
    const p: StoredProposal = {
      number: this.proposals.length + 1,
      branch: input.branch,
      target: input.target,
      title: input.title,
      body: input.body,
      labels: input.labels ?? [],
      state: 'open',
      frozenHead: null,
      mergeCommit: null,
      checks: 'pending',
      createdBy: input.by,
    };
    this.proposals.push(p);
    return p;
  }

  async close(p: StoredProposal): Promise<void> {
    p.frozenHead = await this.head(p);
    p.state = 'closed';
  }

  /**
   * Merge `p` into its target with git, as a host does: refused (`conflict`, `moved`, `not
   * mergeable`) like the host would. `sha`: merge only if the head is still that commit.
   */
  async merge(
    p: StoredProposal,
    opts: {
      sha?: string;
      method?: MergeMethod;
      by?: { name: string; email: string };
      requireChecks?: boolean;
      message?: (p: StoredProposal) => string;
    },
  ): Promise<{ ok: true; commit: string } | { ok: false; why: 'closed' | 'moved' | 'not mergeable' | 'conflict' }> {
    if (p.state !== 'open') return { ok: false, why: 'closed' };
    const head = await this.head(p);
    if (opts.sha !== undefined && opts.sha !== head) return { ok: false, why: 'moved' };
    if (opts.requireChecks !== false && p.checks !== 'success') return { ok: false, why: 'not mergeable' };
    const base = (await this.headOf(p.target))!;
    let tree: string;
    try {
      tree = (await git(['--git-dir', this.bare, 'merge-tree', '--write-tree', base, head])).trim().split('\n')[0]!;
    } catch {
      return { ok: false, why: 'conflict' };
    }
    const who = opts.by ?? { name: 'Rev Iewer', email: 'reviewer@example.com' };
    const env = {
      GIT_AUTHOR_NAME: who.name,
      GIT_AUTHOR_EMAIL: who.email,
      GIT_COMMITTER_NAME: who.name,
      GIT_COMMITTER_EMAIL: who.email,
    };
    const method = opts.method ?? 'merge';
    let commit: string;
    if (method === 'merge') {
      const message = opts.message?.(p) ?? `Merge pull request #${p.number} from ${p.branch}\n\n${p.title}`;
      commit = (
        await git(['--git-dir', this.bare, 'commit-tree', tree, '-p', base, '-p', head, '-m', message], { env })
      ).trim();
    } else if (method === 'squash') {
      commit = (
        await git(
          ['--git-dir', this.bare, 'commit-tree', tree, '-p', base, '-m', `${p.title} (#${p.number})\n\n${p.body}`],
          { env },
        )
      ).trim();
    } else {
      // Rebase: the branch's one commit again on the target, its message and author kept.
      const message = await git(['--git-dir', this.bare, 'log', '-1', '--format=%B', head]);
      const author = (await git(['--git-dir', this.bare, 'log', '-1', '--format=%an%n%ae', head])).trim().split('\n');
      commit = (
        await git(['--git-dir', this.bare, 'commit-tree', tree, '-p', base, '-m', message.trimEnd()], {
          env: { ...env, GIT_AUTHOR_NAME: author[0]!, GIT_AUTHOR_EMAIL: author[1]! },
        })
      ).trim();
    }
    await git(['--git-dir', this.bare, 'update-ref', `refs/heads/${p.target}`, commit, base]);
    p.frozenHead = head;
    p.state = 'merged';
    p.mergeCommit = commit;
    return { ok: true, commit };
  }
}
