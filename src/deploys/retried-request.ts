import { KipError } from '../errors.js';
import { firstImage } from '../history/app-value.js';
import type { Revision } from '../history/revision-index.js';
import type { DeployRequest } from './deploy-request.js';

/**
 * How long a webhook deploy is remembered for retries: an `Idempotency-Key` is answered
 * again, and the same image and commit are recognised as a retry, for this long (24 h,
 * docs/design.md "Retries never move an app backwards").
 */
export const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The image and commit a revision's deploy asked for: the posted image (a `:tag` marker holds only part of it). */
function asked(r: Revision): { image: string | null; commit: string | null } {
  if ('commit' in r.value) return { image: null, commit: r.value.commit };
  return { image: r.deployed ?? firstImage(r.value), commit: r.sourceCommit };
}

/** True when `request` asks for exactly what revision `r`'s deploy asked for. */
function repeats(r: Revision, request: DeployRequest): boolean {
  const a = asked(r);
  if (request.kind === 'commit') return a.image === null && a.commit === request.commit;
  return a.image === request.image.raw && a.commit === (request.commit ?? null);
}

/** Within the retry window of `now`. */
function recent(r: Revision, now: number): boolean {
  return now - Date.parse(r.timestamp) <= RETRY_WINDOW_MS;
}

/**
 * Revisions are in branch order, their dates nearly so (a rebased commit keeps an older
 * author date): the scan back stops at the first one well past the window, not at the
 * first one past it, and costs what the last day or two wrote, not the whole history.
 */
function pastScan(r: Revision, now: number): boolean {
  return now - Date.parse(r.timestamp) > 2 * RETRY_WINDOW_MS;
}

/** True when revision `r` runs what `request` asks for (whoever wrote it: a rollback to it counts). */
export function holds(r: Revision, request: DeployRequest): boolean {
  const a = asked(r);
  return request.kind === 'commit' ? a.commit === request.commit : a.image === request.image.raw;
}

/**
 * A webhook request that repeats a revision a webhook deployed in the last 24 h: the
 * newest such revision, or undefined. A CI job retried after its answer was lost (the
 * bridge killed after the push) sends exactly this; deploying it again after a newer
 * build would move the app backwards (issue #18).
 */
export function repeatedRevision(
  revisions: readonly Revision[],
  request: DeployRequest,
  now = Date.now(),
): Revision | undefined {
  for (let i = revisions.length - 1; i >= 0; i--) {
    const r = revisions[i]!;
    if (pastScan(r, now)) return undefined;
    if (r.trigger === 'webhook' && recent(r, now) && repeats(r, request)) return r;
  }
  return undefined;
}

/** The revision a webhook deploy with this `Idempotency-Key` wrote in the last 24 h, if any. */
export function revisionOfKey(revisions: readonly Revision[], key: string, now = Date.now()): Revision | undefined {
  for (let i = revisions.length - 1; i >= 0; i--) {
    const r = revisions[i]!;
    if (pastScan(r, now)) return undefined;
    if (r.idempotencyKey === key && recent(r, now)) return r;
  }
  return undefined;
}

/**
 * 409 SUPERSEDED: the request repeats revision `revision`, which a newer one replaced;
 * `current` is filled in by whoever knows it (null when unknown).
 */
export function supersededError(app: string, revision: number, current: number | null): KipError {
  return new KipError(
    'SUPERSEDED',
    `${app}: this request repeats revision #${revision}, which a newer revision${current === null ? '' : ` (#${current})`} replaced; ` +
      'a retry never moves an app backwards: to deploy an older build on purpose, use `kip app rollback` or `kip app update`',
    { app, body: { revision, current } },
  );
}
