/**
 * Test doubles of the two syncers' APIs, served over real HTTP on a random loopback port.
 * No Argo CD, Flux or Kubernetes API server runs on these machines; the shapes here are
 * taken from the projects' published API types, field for field:
 * - Argo CD: `v1alpha1.Application` (github.com/argoproj/argo-cd,
 *   pkg/apis/application/v1alpha1/types.go): spec.syncPolicy.automated, status.sync
 *   {status, revision, revisions}, status.health {status, message}, status.operationState
 *   {phase, message, operation.sync.revision, syncResult.revision}, status.summary.images,
 *   status.resources[] {kind, name, namespace, status, health}; served as its API server
 *   does at GET /api/v1/applications/{name}?appNamespace=…, errors as grpc-gateway JSON.
 * - Flux: `Kustomization` (github.com/fluxcd/kustomize-controller, api/v1) and
 *   `HelmRelease` (github.com/fluxcd/helm-controller, api/v2): spec.suspend,
 *   status.lastAppliedRevision, status.lastAttemptedRevision, status.conditions[]; served
 *   as the Kubernetes API does, errors as a `Status` object.
 * Tests script the objects through real sequences (OutOfSync → sync → Progressing → Healthy).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Json = Record<string, unknown>;

export interface ApiDouble {
  url: string;
  token: string;
  /** GET requests answered so far (how often the bridge asked). */
  readonly gets: number;
  /** While down, every request is refused at the socket (an unreachable API). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

async function serve(token: string, route: (path: string, query: URLSearchParams) => { status: number; body: Json }): Promise<ApiDouble & { server: Server }> {
  let down = false;
  let gets = 0;
  const server = createServer((req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized', code: 16, message: 'invalid session' }));
      return;
    }
    gets++;
    const { status, body } = route(url.pathname, url.searchParams);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    token,
    get gets() {
      return gets;
    },
    setDown(value: boolean) {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a test says of an Argo CD Application; `application()` makes the JSON. */
export interface ArgoState {
  /** `status.sync.revision`: the commit it compares against (git's target). */
  syncRevision: string;
  syncStatus?: 'Synced' | 'OutOfSync' | 'Unknown';
  /** The last sync operation: its phase and commit. */
  phase?: 'Running' | 'Succeeded' | 'Failed' | 'Error';
  operationRevision?: string;
  operationMessage?: string;
  health: 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';
  images?: string[];
  /** Resources whose health is Degraded, with their message. */
  degraded?: Array<{ kind: string; name: string; message: string }>;
  automated?: boolean;
}

/** An Argo CD `v1alpha1.Application` as GET /api/v1/applications/{name} returns it. */
export function application(name: string, namespace: string, s: ArgoState): Json {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace },
    spec: {
      project: 'default',
      source: { repoURL: 'http://kipper/git/config.git', path: 'apps', targetRevision: 'main' },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'default' },
      ...(s.automated === false ? {} : { syncPolicy: { automated: { prune: true, selfHeal: true } } }),
    },
    status: {
      sync: {
        status: s.syncStatus ?? 'Synced',
        revision: s.syncRevision,
        comparedTo: { source: { repoURL: 'http://kipper/git/config.git', targetRevision: 'main' } },
      },
      health: { status: s.health },
      ...(s.phase
        ? {
            operationState: {
              operation: { sync: { revision: s.operationRevision ?? s.syncRevision } },
              phase: s.phase,
              message: s.operationMessage ?? (s.phase === 'Succeeded' ? 'successfully synced (all tasks run)' : ''),
              syncResult: { revision: s.operationRevision ?? s.syncRevision, resources: [] },
              startedAt: '2026-11-28T10:00:00Z',
              ...(s.phase === 'Running' ? {} : { finishedAt: '2026-11-28T10:00:05Z' }),
            },
          }
        : {}),
      summary: { images: s.images ?? [] },
      resources: (s.degraded ?? []).map((r) => ({
        group: 'apps',
        version: 'v1',
        kind: r.kind,
        namespace: 'default',
        name: r.name,
        status: 'Synced',
        health: { status: 'Degraded', message: r.message },
      })),
      reconciledAt: '2026-11-28T10:00:05Z',
    },
  };
}

export interface ArgoDouble extends ApiDouble {
  set(name: string, namespace: string, state: ArgoState): void;
}

/** Argo CD's API server: applications by name and `appNamespace`. */
export async function startArgoDouble(token = 'argocd-test-token-0123456789'): Promise<ArgoDouble> {
  const apps = new Map<string, Json>();
  const double = await serve(token, (path, query) => {
    const m = /^\/api\/v1\/applications\/([^/]+)$/.exec(path);
    const app = m ? apps.get(`${query.get('appNamespace') ?? 'argocd'}/${decodeURIComponent(m[1]!)}`) : undefined;
    if (!app) return { status: 404, body: { error: 'application not found', code: 5, message: 'application not found' } };
    return { status: 200, body: app };
  });
  return Object.assign(double, {
    set(name: string, namespace: string, state: ArgoState) {
      apps.set(`${namespace}/${name}`, application(name, namespace, state));
    },
  });
}

/** What a test says of a Flux Kustomization or HelmRelease. */
export interface FluxState {
  /** `main@sha1:<commit>` is written from it. */
  lastApplied?: string;
  lastAttempted?: string;
  ready: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  suspend?: boolean;
}

/** A Flux object as the Kubernetes API returns it. */
export function fluxObject(kind: 'Kustomization' | 'HelmRelease', namespace: string, name: string, s: FluxState): Json {
  const group = kind === 'Kustomization' ? 'kustomize.toolkit.fluxcd.io/v1' : 'helm.toolkit.fluxcd.io/v2';
  return {
    apiVersion: group,
    kind,
    metadata: { name, namespace, generation: 3 },
    spec: {
      interval: '1m',
      ...(s.suspend ? { suspend: true } : {}),
      ...(kind === 'Kustomization' ? { path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'config' } } : {}),
    },
    status: {
      observedGeneration: 3,
      ...(s.lastApplied ? { lastAppliedRevision: `main@sha1:${s.lastApplied}` } : {}),
      ...((s.lastAttempted ?? s.lastApplied) ? { lastAttemptedRevision: `main@sha1:${s.lastAttempted ?? s.lastApplied}` } : {}),
      conditions: [
        {
          type: 'Ready',
          status: s.ready,
          reason: s.reason ?? (s.ready === 'True' ? 'ReconciliationSucceeded' : s.ready === 'False' ? 'ReconciliationFailed' : 'Progressing'),
          message: s.message ?? (s.ready === 'True' ? `Applied revision: main@sha1:${s.lastApplied}` : 'reconciliation in progress'),
          lastTransitionTime: '2026-11-28T10:00:05Z',
          observedGeneration: 3,
        },
      ],
    },
  };
}

export interface KubeDouble extends ApiDouble {
  set(kind: 'Kustomization' | 'HelmRelease', namespace: string, name: string, state: FluxState): void;
  /** A kubeconfig (current context: this server, its token) written to a temp file. */
  kubeconfig(): Promise<string>;
}

/** The Kubernetes API, for Flux's Kustomizations and HelmReleases. */
export async function startKubeDouble(token = 'kube-sa-token-0123456789'): Promise<KubeDouble> {
  const objects = new Map<string, Json>();
  const double = await serve(token, (path) => {
    const object = objects.get(path);
    if (!object)
      return { status: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` } };
    return { status: 200, body: object };
  });
  return Object.assign(double, {
    set(kind: 'Kustomization' | 'HelmRelease', namespace: string, name: string, state: FluxState) {
      const path =
        kind === 'Kustomization'
          ? `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${namespace}/kustomizations/${name}`
          : `/apis/helm.toolkit.fluxcd.io/v2/namespaces/${namespace}/helmreleases/${name}`;
      objects.set(path, fluxObject(kind, namespace, name, state));
    },
    async kubeconfig() {
      const file = join(await mkdtemp(join(tmpdir(), 'kip-kubeconfig-')), 'config');
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'current-context: test',
          'clusters:',
          `  - name: test`,
          `    cluster: { server: "${double.url}" }`,
          'users:',
          `  - name: kipper`,
          `    user: { token: "${token}" }`,
          'contexts:',
          '  - name: test',
          '    context: { cluster: test, user: kipper }',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return file;
    },
  });
}
