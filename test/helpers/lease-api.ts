/**
 * A double of the Kubernetes API server's Lease endpoints over real HTTP, answering as
 * the Kubernetes OpenAPI description says (kubernetes/kubernetes
 * `api/openapi-spec/v3/apis__coordination.k8s.io__v1_openapi.json`):
 *   GET  /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}   200 | 404
 *   POST /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases          201 | 409 AlreadyExists
 *   PUT  /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}   200 | 404 | 409 Conflict
 * Errors are `Status` objects. A PUT whose `metadata.resourceVersion` is not the stored
 * one is refused 409 Conflict, the optimistic concurrency every controller relies on.
 * Each client is told apart by its bearer token (one kubeconfig per replica), so a test
 * can cut one off (a network split): its connections are dropped unanswered.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A Lease as stored: the object the API server returns. */
export interface StoredLeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string; creationTimestamp: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** A change of a Lease's holder, as the double saw it. */
export interface HolderChange {
  lease: string;
  holder: string;
  /** Date.now() when the write that made it was accepted. */
  at: number;
}

export interface LeaseApi {
  url: string;
  /** `namespace/name` → the Lease. */
  leases: Map<string, StoredLeaseObject>;
  /** Every holder change, in order (released: holder ''). */
  holders: HolderChange[];
  /** Requests answered, by status. */
  statuses: number[];
  /** Drop every request that carries this client's token (true) or serve it again (false). */
  cutOff(token: string, cut: boolean): void;
  /** A kubeconfig file for a client with `token`. */
  kubeconfig(token: string): Promise<string>;
  close(): Promise<void>;
}

const PREFIX = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/?]+))?\/?(?:\?.*)?$/;

export async function startLeaseApi(): Promise<LeaseApi> {
  const leases = new Map<string, StoredLeaseObject>();
  const holders: HolderChange[] = [];
  const statuses: number[] = [];
  const cut = new Set<string>();
  let version = 1000;
  const dir = await mkdtemp(join(tmpdir(), 'kip-lease-api-'));

  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    statuses.push(code);
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }),
    );
  };
  const ok = (res: ServerResponse, code: number, lease: StoredLeaseObject) => {
    statuses.push(code);
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(lease));
  };
  const noteHolder = (key: string, before: string | undefined, after: string | undefined) => {
    if ((before ?? '') !== (after ?? '')) holders.push({ lease: key, holder: after ?? '', at: Date.now() });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (cut.has(token)) {
      req.socket.destroy();
      return;
    }
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const m = PREFIX.exec(req.url ?? '');
      if (!m) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
      const namespace = decodeURIComponent(m[1]!);
      const name = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
      const key = `${namespace}/${name}`;
      if (req.method === 'GET' && name !== undefined) {
        const lease = leases.get(key);
        return lease
          ? ok(res, 200, lease)
          : status(res, 404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
      }
      let body: Partial<StoredLeaseObject>;
      try {
        body = JSON.parse(raw) as Partial<StoredLeaseObject>;
      } catch {
        return status(res, 400, 'BadRequest', 'the body is not a Lease');
      }
      // MicroTime fields are RFC 3339 with six fraction digits (metav1.MicroTime, RFC3339Micro).
      for (const f of ['acquireTime', 'renewTime'] as const) {
        const v = body.spec?.[f];
        if (v !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v))
          return status(
            res,
            400,
            'BadRequest',
            `Lease in version "v1" cannot be handled as a Lease: spec.${f}: not a MicroTime: ${v}`,
          );
      }
      if (req.method === 'POST' && name === undefined) {
        const n = body.metadata?.name;
        if (!n)
          return status(res, 422, 'Invalid', 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value');
        const k = `${namespace}/${n}`;
        if (leases.has(k)) return status(res, 409, 'AlreadyExists', `leases.coordination.k8s.io "${n}" already exists`);
        const lease: StoredLeaseObject = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: n,
            namespace,
            resourceVersion: String(++version),
            uid: `uid-${version}`,
            creationTimestamp: new Date().toISOString(),
          },
          spec: body.spec ?? {},
        };
        leases.set(k, lease);
        noteHolder(k, undefined, lease.spec.holderIdentity);
        return ok(res, 201, lease);
      }
      if (req.method === 'PUT' && name !== undefined) {
        const old = leases.get(key);
        if (!old) return status(res, 404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
        const rv = body.metadata?.resourceVersion;
        if (rv !== undefined && rv !== old.metadata.resourceVersion)
          return status(
            res,
            409,
            'Conflict',
            `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        const lease: StoredLeaseObject = {
          ...old,
          metadata: { ...old.metadata, resourceVersion: String(++version) },
          spec: body.spec ?? {},
        };
        leases.set(key, lease);
        noteHolder(key, old.spec.holderIdentity, lease.spec.holderIdentity);
        return ok(res, 200, lease);
      }
      return status(res, 405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    leases,
    holders,
    statuses,
    cutOff: (token, on) => void (on ? cut.add(token) : cut.delete(token)),
    async kubeconfig(token) {
      const file = join(dir, `kubeconfig-${token}`);
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          `  - name: double\n    cluster:\n      server: ${url}\n      insecure-skip-tls-verify: true`,
          'users:',
          `  - name: ${token}\n    user:\n      token: ${token}`,
          'contexts:',
          `  - name: double\n    context:\n      cluster: double\n      user: ${token}\n      namespace: kipper`,
          'current-context: double',
          '',
        ].join('\n'),
      );
      return file;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port that was free a moment ago: a replica's KIPPER_PEER_URL must be known before it starts. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * The environment of replica `name` under KIPPER_LEASE against `api`: its own port, its
 * peer URL, its own kubeconfig (bearer token `name`, so `api.cutOff(name)` splits it off)
 * and its own commit author name (`name`), so the remote shows which replica wrote.
 */
export async function replicaEnv(
  api: LeaseApi,
  name: string,
  lease = 'kipper/kipper-writer',
): Promise<NodeJS.ProcessEnv> {
  const port = await freePort();
  return {
    KIPPER_PORT: String(port),
    KIPPER_PEER_URL: `http://127.0.0.1:${port}`,
    KIPPER_LEASE: lease,
    KIPPER_KUBECONFIG: await api.kubeconfig(name),
    KIPPER_GIT_AUTHOR_NAME: name,
  };
}
