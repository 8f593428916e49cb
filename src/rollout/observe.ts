/**
 * What a syncer says about its application, in one shape for Argo CD and Flux. Pure:
 * the API's JSON in, an Observation out. Field names follow the projects' API types:
 * Argo CD's `v1alpha1.Application` (argo-cd pkg/apis/application/v1alpha1/types.go:
 * status.sync, status.health, status.operationState, status.summary.images,
 * status.resources, spec.syncPolicy.automated) and Flux's Kustomization and HelmRelease
 * (kustomize-controller api/v1, helm-controller api/v2: status.lastAppliedRevision,
 * status.lastAttemptedRevision, status.conditions, spec.suspend).
 */

/** One look at a syncer's object. */
export interface Observation {
  /** The commit the syncer has applied (or compares against, Argo CD's `sync.revision`), or null. */
  applied: string | null;
  /** The commit of the latest sync operation (running or done), or null. */
  attempted: string | null;
  /** That operation: still running, done, or failed (with `message`). */
  operation: 'running' | 'succeeded' | 'failed' | 'none';
  /** Health as the syncer says it (`Healthy`, `Progressing`, `Degraded`, …). */
  health: string;
  /** Why: the operation's or the health's message, and each failing resource's. */
  messages: string[];
  /** Images the cluster runs, when the syncer says (Argo CD's summary); null when it does not. */
  images: string[] | null;
  /** The syncer applies new commits by itself (Argo CD auto-sync on, Flux not suspended). */
  automatic: boolean;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** An Argo CD Application. */
export function observeArgoApplication(app: Json): Observation {
  const spec = obj(app.spec);
  const status = obj(app.status);
  const sync = obj(status.sync);
  const op = obj(status.operationState);
  const phase = str(op.phase);
  const attempted = str(obj(op.syncResult).revision) ?? str(obj(obj(op.operation).sync).revision) ?? null;
  const health = obj(status.health);
  const failing = arr(status.resources)
    .map(obj)
    .filter((r) => str(obj(r.health).status) === 'Degraded')
    .map((r) => `${str(r.kind) ?? 'resource'}/${str(r.name) ?? '?'}: ${str(obj(r.health).message) ?? 'Degraded'}`);
  const messages = [
    ...(phase === 'Failed' || phase === 'Error' ? [str(op.message) ?? `sync ${phase}`] : []),
    ...(str(health.message) ? [str(health.message)!] : []),
    ...failing,
  ];
  return {
    applied: str(sync.revision) ?? str(arr(sync.revisions)[0]) ?? null,
    attempted,
    operation:
      phase === 'Running' || phase === 'Terminating'
        ? 'running'
        : phase === 'Succeeded'
          ? 'succeeded'
          : phase === 'Failed' || phase === 'Error'
            ? 'failed'
            : 'none',
    health: str(health.status) ?? 'Unknown',
    messages,
    images: Array.isArray(obj(status.summary).images)
      ? arr(obj(status.summary).images).filter((i): i is string => typeof i === 'string')
      : null,
    automatic: obj(spec.syncPolicy).automated !== undefined && obj(spec.syncPolicy).automated !== null,
  };
}

/** A Flux Kustomization or HelmRelease: `Ready` decides, the revisions say of which commit. */
export function observeFluxObject(object: Json): Observation {
  const spec = obj(object.spec);
  const status = obj(object.status);
  const ready = arr(status.conditions)
    .map(obj)
    .find((c) => c.type === 'Ready');
  const readyStatus = str(ready?.status);
  const reason = str(ready?.reason);
  const applied = shaIn(str(status.lastAppliedRevision));
  const attempted = shaIn(str(status.lastAttemptedRevision)) ?? applied;
  const failed = readyStatus === 'False';
  return {
    applied,
    attempted,
    operation: failed ? 'failed' : readyStatus === 'True' ? 'succeeded' : attempted ? 'running' : 'none',
    health: readyStatus === 'True' ? 'Healthy' : failed ? 'Degraded' : 'Progressing',
    messages:
      failed || readyStatus === 'Unknown' ? [`${reason ?? 'NotReady'}: ${str(ready?.message) ?? ''}`.trim()] : [],
    images: null,
    automatic: spec.suspend !== true,
  };
}

/**
 * The commit in a Flux revision: `main@sha1:<40 hex>` (Flux ≥ 2.0), `main/<40 hex>`
 * (older), or a chart version built from git (`1.2.3+<hex>`), which names a prefix.
 */
export function shaIn(revision: string | undefined): string | null {
  if (!revision) return null;
  const m = /(?:sha1:|sha256:|\/|\+|^)([0-9a-f]{7,64})$/.exec(revision);
  return m ? m[1]! : null;
}
