import type { HistoryAnswer, LockInfo, ProposalsAnswer } from '../../api-types.js';
import { relativeTime } from '../../history/relative-time.js';
import type { AdminClient } from '../admin-client.js';
import { limitOf, resolveApp, type AppOptions } from '../args.js';
import { formatHistory } from '../format-history.js';
import { printableLine } from '../printable.js';

/**
 * `kip app history <app> [--limit N] [--wide]`: revisions from git, newest first, after the
 * app's lock if it has one. `--limit N` keeps the newest N (in `--json` too); without it,
 * all of them (docs/design.md: the whole git history is the history).
 */
export async function appHistory(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const limit = limitOf(options);
  const answer = await client.request<HistoryAnswer>('GET', `/api/v1/apps/${id}/history`);
  const res = limit === undefined ? answer : { ...answer, revisions: answer.revisions.slice(0, limit) };
  if (options.json) return JSON.stringify(res, null, 2);
  const now = Date.now();
  const table =
    res.revisions.length === 0
      ? `No revisions of ${name} yet.`
      : formatHistory(res.revisions, now, { wide: options.wide });
  // The config repo, when the bridge serves several (KIPPER_REPOS_FILE); `lock` is absent from older bridges.
  const repo = res.repo && res.repo !== 'default' ? `Repo: ${res.repo}\n` : '';
  // Pull-request mode: the open proposal, above the current revision (absent from older bridges).
  const proposals = await client
    .request<ProposalsAnswer>('GET', `/api/v1/apps/${id}/proposals`)
    .catch(() => ({ proposals: [] }));
  const proposed = proposals.proposals.map((p) => `${proposalLine(p)}\n`).join('');
  return `${repo}${res.lock ? `${lockLine(res.lock, now)}\n` : ''}${proposed}${table}`;
}

/** `Proposed: registry.example.com/api:v2 in pull request #4 https://github.com/acme/config/pull/4`. */
export function proposalLine(p: ProposalsAnswer['proposals'][number]): string {
  return printableLine(`Proposed: ${p.image ?? p.commit ?? '-'} in pull request #${p.number} ${p.url}`);
}

/** `Locked by ana@example.com 5 min ago: INC-42: bad migration`; by and time only where kipper.yaml has them. */
export function lockLine(lock: LockInfo, now: number = Date.now()): string {
  const when = lock.at && !Number.isNaN(Date.parse(lock.at)) ? relativeTime(lock.at, now) : '';
  return [['Locked', lock.by && `by ${lock.by}`, when].filter(Boolean).join(' '), lock.reason].join(': ');
}
