import { CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { KipError } from '../errors.js';

/** What the elector reads and writes: the Lease's spec fields that election uses. */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: Date | null;
  renewTime: Date | null;
  leaseTransitions: number;
}

/** A Lease as read: its record and the resourceVersion that a replace must name. */
export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** The three calls of election against `coordination.k8s.io/v1` Leases. */
export interface LeaseStore {
  /** The Lease, or null when it does not exist (404). */
  get(): Promise<StoredLease | null>;
  /** Create it; false when someone else created it first (409). */
  create(record: LeaseRecord): Promise<boolean>;
  /** Replace it naming `resourceVersion`; false when it changed since (409, the compare-and-swap lost). */
  replace(record: LeaseRecord, resourceVersion: string): Promise<boolean>;
  /** For logs: `namespace/name`. */
  readonly description: string;
}

/** The longest one Lease call may take: an API server that hangs must not hold the loop past a retry. */
const CALL_TIMEOUT_MS = 5_000;

/**
 * The kubeconfig: KIPPER_KUBECONFIG (relative certificate paths and exec credential plugins
 * as kubectl reads them), else the pod's service account.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromCluster();
  } catch (err) {
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_LEASE needs KIPPER_KUBECONFIG or the pod's service account: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!path && !process.env.KUBERNETES_SERVICE_HOST)
    throw new KipError(
      'CONFIG_INVALID',
      'KIPPER_LEASE needs KIPPER_KUBECONFIG outside a cluster (no service account: KUBERNETES_SERVICE_HOST is unset)',
    );
  return kc;
}

/** The Lease `namespace/name` through @kubernetes/client-node's CoordinationV1Api. */
export function kubeLeaseStore(kc: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = kc.makeApiClient(CoordinationV1Api);
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      // MicroTime: RFC 3339 with microseconds, as the API server parses it.
      acquireTime: record.acquireTime ? new V1MicroTime(record.acquireTime.getTime()) : undefined,
      renewTime: record.renewTime ? new V1MicroTime(record.renewTime.getTime()) : undefined,
      leaseTransitions: record.leaseTransitions,
    },
  });
  return {
    description: `${namespace}/${name}`,
    async get() {
      try {
        const lease = await timed(api.readNamespacedLease({ name, namespace }));
        const s = lease.spec ?? {};
        return {
          resourceVersion: lease.metadata?.resourceVersion ?? '',
          record: {
            holderIdentity: s.holderIdentity ?? '',
            leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
            acquireTime: dateOf(s.acquireTime),
            renewTime: dateOf(s.renewTime),
            leaseTransitions: s.leaseTransitions ?? 0,
          },
        };
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
    async create(record) {
      try {
        await timed(api.createNamespacedLease({ namespace, body: body(record) }));
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
    async replace(record, resourceVersion) {
      try {
        await timed(api.replaceNamespacedLease({ name, namespace, body: body(record, resourceVersion) }));
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    },
  };
}

function dateOf(v: Date | string | undefined): Date | null {
  if (v === undefined || v === null) return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;
}

function timed<T>(call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the Kubernetes API did not answer in ${CALL_TIMEOUT_MS / 1000} s`)),
      CALL_TIMEOUT_MS,
    );
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
