import type { HistoryAnswer, ProposalsAnswer, RevisionAnswer, RolloutAnswer } from '../../api-types.js';
import { KipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, revisionOf, type AppOptions } from '../args.js';

/** How often the bridge is asked (it asks the syncer every 2 s itself). */
const POLL_MS = 2_000;

/** `--timeout`: `90s`, `10m`, `1h`, or seconds; default 10 minutes. */
export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 10 * 60_000;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  if (!m) throw new KipError('USAGE', `--timeout must be like 90s, 10m or 1h, got "${value}"`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** One progress line: `api #5: progressing (Progressing): waiting for …`. */
function line(name: string, revision: number, r: RolloutAnswer): string {
  return `${name} #${revision}: ${r.state}${r.health ? ` (${r.health})` : ''}${r.message ? `: ${r.message}` : ''}`;
}

/**
 * `kip app wait <app> [--revision N] [--timeout 10m]`: a line each time the rollout
 * changes; ends healthy (exit 0), degraded/failed/superseded (1), or at the timeout (3).
 */
export async function appWait(
  client: AdminClient,
  positionals: string[],
  options: AppOptions,
  say: (text: string) => void = () => undefined,
): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const timeoutMs = parseTimeout(options.timeout);
  let revision = revisionOf(options);
  const until = Date.now() + timeoutMs;
  // Pull-request mode: first the merge of the open proposal, then its revision's rollout.
  const merged =
    revision === undefined
      ? await mergedRevision(client, id, name, until, options.json ? () => undefined : say)
      : undefined;
  revision ??= merged;
  if (revision === undefined) {
    const history = await client.request<HistoryAnswer>('GET', `/api/v1/apps/${id}/history`);
    revision = history.revisions[0]?.revision;
    if (revision === undefined)
      throw new KipError('REVISION_NOT_FOUND', `${name} has no revisions yet: deploy it first`);
  }
  let last = '';
  for (;;) {
    const answer = await client.request<RevisionAnswer>('GET', `/api/v1/apps/${id}/revisions/${revision}`);
    const rollout = answer.rollout ?? {
      state: 'unknown',
      revision: null,
      health: null,
      message: 'the bridge reports no rollout',
      since: null,
    };
    const now = line(name, revision, rollout);
    if (now !== last && !options.json) say(now);
    last = now;
    const done = options.json ? JSON.stringify(answer, null, 2) : undefined;
    if (rollout.state === 'healthy') return done ?? `✔ ${name} revision #${revision} is healthy`;
    if (rollout.state === 'degraded' || rollout.state === 'failed' || rollout.state === 'superseded') {
      throw new KipError(
        'ROLLOUT_FAILED',
        `${name} revision #${revision} is ${rollout.state}${rollout.message ? `: ${rollout.message}` : ''}`,
        {
          body: answer,
        },
      );
    }
    // Merged, and nothing reports a rollout: the merge was what there was to wait for (as ?wait= answers).
    if (rollout.state === 'unknown' && rollout.message?.startsWith('no syncer') && merged !== undefined)
      return done ?? `✔ ${name} revision #${revision} is merged; no syncer reports its rollout`;
    if (rollout.state === 'unknown' && rollout.message?.startsWith('no syncer'))
      throw new KipError('ROLLOUT_FAILED', `cannot wait for ${name}: ${rollout.message}`, { body: answer });
    if (Date.now() + POLL_MS > until) {
      throw new KipError(
        'ROLLOUT_TIMEOUT',
        `${name} revision #${revision} did not settle in time: it is ${rollout.state}`,
        { body: answer },
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * With an open proposal (pull-request mode): waits until it is gone and returns the
 * revision it became; PR_CLOSED when it was closed unmerged. Undefined without one (or
 * from a bridge without proposals).
 */
async function mergedRevision(
  client: AdminClient,
  id: string,
  name: string,
  until: number,
  say: (text: string) => void,
): Promise<number | undefined> {
  const proposals = (p: ProposalsAnswer | null) => p?.proposals ?? [];
  const first = proposals(
    await client.request<ProposalsAnswer>('GET', `/api/v1/apps/${id}/proposals`).catch(() => null),
  )[0];
  if (!first) return undefined;
  say(`${name}: waiting for pull request #${first.number} to be merged (${first.url})`);
  for (;;) {
    if (Date.now() + POLL_MS > until)
      throw new KipError(
        'ROLLOUT_TIMEOUT',
        `pull request #${first.number} of ${name} was not merged in time: ${first.url}`,
      );
    await new Promise((r) => setTimeout(r, POLL_MS));
    const open = proposals(await client.request<ProposalsAnswer>('GET', `/api/v1/apps/${id}/proposals`));
    if (open.some((p) => p.number === first.number)) continue;
    const history = await client.request<HistoryAnswer>('GET', `/api/v1/apps/${id}/history`);
    const merged = history.revisions.find((r) => r.pullRequest?.number === first.number);
    if (!merged)
      throw new KipError(
        'PR_CLOSED',
        `pull request #${first.number} of ${name} was closed without merging: ${first.url}`,
      );
    say(`${name}: pull request #${first.number} merged as revision #${merged.revision}`);
    return merged.revision;
  }
}
