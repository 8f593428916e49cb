import type { Observation } from './observe.js';

/** docs/design.md "Rollout": where a revision is on its way from commit to running. */
export type RolloutState = 'pending' | 'progressing' | 'healthy' | 'degraded' | 'failed' | 'superseded' | 'unknown';

/** States a wait ends on. */
export const SETTLED: ReadonlySet<RolloutState> = new Set(['healthy', 'degraded', 'failed', 'superseded']);

/** The `rollout` of a revision in the API. */
export interface Rollout {
  state: RolloutState;
  /** The commit the syncer is at (what it applied or compares against), when known. */
  revision: string | null;
  /** The syncer's health of the application (`Healthy`, `Degraded`, …), when known. */
  health: string | null;
  /** Why: the failing resources, the failed operation, or why the state is unknown. */
  message: string | null;
  /** When the bridge first saw the revision in this state (ISO 8601), when it did. */
  since: string | null;
}

/** Where the syncer's commits are relative to the revision's config commit: the same or a descendant. */
export interface Reach {
  applied: boolean;
  attempted: boolean;
}

/**
 * The state of a revision as the syncer shows it now (docs/design.md "Rollout"). The
 * syncer must be at this revision's commit or a descendant (`reach`, from the bridge's
 * own history) before anything counts: "Synced and Healthy" of an older commit is not
 * this revision coming up. `images`: what the revision deploys, which the syncer must
 * report running where it reports images (Argo CD's summary).
 */
export function judge(
  obs: Observation,
  reach: Reach,
  images: readonly string[] | null,
): { state: RolloutState; message: string | null } {
  const message = obs.messages.length > 0 ? obs.messages.join('; ') : null;
  const touched = reach.applied || reach.attempted;
  if (!touched) return { state: 'pending', message: null };
  if (obs.operation === 'failed') return { state: 'failed', message };
  if (obs.health === 'Degraded') return { state: 'degraded', message };
  // The last sync operation is of this commit or later (when the syncer says which).
  const synced = obs.attempted === null ? reach.applied : reach.attempted;
  const running = images === null || obs.images === null || images.every((i) => obs.images!.includes(i));
  if (synced && reach.applied && obs.operation === 'succeeded' && obs.health === 'Healthy' && running)
    return { state: 'healthy', message: null };
  return { state: 'progressing', message };
}
