/**
 * Test doubles of the two syncers' APIs, served over real HTTP on a random loopback port.
 * No Argo CD, Flux or Kubernetes API server runs on these machines; the shapes here are
 * taken from the projects' published API types, field for field:
 * - Argo CD: `v1alpha1.Application` (github.com/argoproj/argo-cd,
 *   pkg/apis/application/v1alpha1/types.go): spec.syncPolicy.automated, status.sync
 *   {status, revision, revisions}, status.health {status, message}, status.operationState
 *   {phase, message, operation.sync.revision, syncResult.revision}, status.summary.images,
 *   status.resources[] {kind, name, namespace, status, health}; served as its API server
 *   does at GET /api/v1/applications/{name}?appNamespace=…, errors as grpc-gateway JSON,
 *   and through its watch stream (ApplicationService.Watch, GET
 *   /api/v1/stream/applications?name=…&appNamespace=…): grpc-gateway writes one JSON object
 *   per line, `{"result":{"type":"ADDED"|"MODIFIED"|"DELETED","application":{…}}}`, the
 *   named application's current state first (argo-cd server/application/application.go
 *   Watch: "If watch API is executed for one application … emit event").
 * - Flux: `Kustomization` (github.com/fluxcd/kustomize-controller, api/v1) and
 *   `HelmRelease` (github.com/fluxcd/helm-controller, api/v2): spec.suspend,
 *   status.lastAppliedRevision, status.lastAttemptedRevision, status.conditions[]; served
 *   as the Kubernetes API does (HTTPS only, with its own CA; a bearer token or a client
 *   certificate that CA signed authenticates), errors as a `Status` object.
 * Tests script the objects through real sequences (OutOfSync → sync → Progressing → Healthy).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

type Json = Record<string, unknown>;

export interface ApiDouble {
  url: string;
  token: string;
  /** GET requests of an object answered so far (how often the bridge asked; watch streams not counted). */
  readonly gets: number;
  /** While down, every request is refused at the socket and open connections drop (an unreachable API). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** A route's answer: JSON, or a stream the route keeps writing to (`res` stays open). */
type Answer = { status: number; body: Json } | { stream: (res: ServerResponse) => void };

async function serve(
  token: string,
  route: (path: string, query: URLSearchParams) => Answer,
  tls?: { key: Buffer; cert: Buffer; ca: Buffer },
): Promise<ApiDouble & { server: Server }> {
  let down = false;
  let gets = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    // As the Kubernetes API server authenticates: a bearer token, or a client certificate its CA signed.
    const certified = tls !== undefined && (req.socket as TLSSocket).authorized;
    if (req.headers.authorization !== `Bearer ${token}` && !certified) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'unauthorized', code: 16, message: 'invalid session' }));
      return;
    }
    const answer = route(url.pathname, url.searchParams);
    if ('stream' in answer) return answer.stream(res);
    gets++;
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  };
  const server: Server = tls
    ? (createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, handle) as unknown as Server)
    : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    token,
    get gets() {
      return gets;
    },
    setDown(value: boolean) {
      down = value;
      if (down) server.closeAllConnections();
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
  /** Watch streams opened so far, and open now. */
  readonly streams: number;
  readonly openStreams: number;
  /** Cuts every open watch stream (a restarted API server, a proxy's idle timeout). */
  dropStreams(): void;
  /** While off, a watch stream is refused at the socket; GETs are answered as before. */
  setStreaming(on: boolean): void;
}

/** `Object.assign` that keeps getters as getters (it would copy their value once). */
function extend<T extends object, U extends object>(target: T, extra: U): T & U {
  return Object.defineProperties(target, Object.getOwnPropertyDescriptors(extra)) as T & U;
}

/** Argo CD's API server: applications by name and `appNamespace`, and their watch stream. */
export async function startArgoDouble(token = 'argocd-test-token-0123456789'): Promise<ArgoDouble> {
  const apps = new Map<string, Json>();
  /** Open watch streams, each with the application it follows (`<namespace>/<name>`). */
  const watchers = new Set<{ key: string; res: ServerResponse }>();
  let streaming = true;
  let streams = 0;
  const event = (type: string, application: Json) => `${JSON.stringify({ result: { type, application } })}\n`;
  const double = await serve(token, (path, query): Answer => {
    if (path === '/api/v1/stream/applications') {
      const key = `${query.get('appNamespace') ?? 'argocd'}/${query.get('name') ?? ''}`;
      return {
        stream: (res) => {
          if (!streaming) {
            res.socket?.destroy();
            return;
          }
          streams++;
          res.writeHead(200, { 'content-type': 'application/json' });
          const current = apps.get(key);
          // Argo CD sends the named application's current state first; nothing if there is none.
          if (current) res.write(event('ADDED', current));
          const watcher = { key, res };
          watchers.add(watcher);
          res.on('close', () => watchers.delete(watcher));
        },
      };
    }
    const m = /^\/api\/v1\/applications\/([^/]+)$/.exec(path);
    const app = m ? apps.get(`${query.get('appNamespace') ?? 'argocd'}/${decodeURIComponent(m[1]!)}`) : undefined;
    if (!app)
      return { status: 404, body: { error: 'application not found', code: 5, message: 'application not found' } };
    return { status: 200, body: app };
  });
  return extend(double, {
    set(name: string, namespace: string, state: ArgoState) {
      const key = `${namespace}/${name}`;
      const type = apps.has(key) ? 'MODIFIED' : 'ADDED';
      const app = application(name, namespace, state);
      apps.set(key, app);
      for (const w of watchers) if (w.key === key) w.res.write(event(type, app));
    },
    get streams() {
      return streams;
    },
    get openStreams() {
      return watchers.size;
    },
    dropStreams() {
      for (const w of watchers) w.res.socket?.destroy();
      watchers.clear();
    },
    setStreaming(on: boolean) {
      streaming = on;
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
      ...(kind === 'Kustomization'
        ? { path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'config' } }
        : {}),
    },
    status: {
      observedGeneration: 3,
      ...(s.lastApplied ? { lastAppliedRevision: `main@sha1:${s.lastApplied}` } : {}),
      ...((s.lastAttempted ?? s.lastApplied)
        ? { lastAttemptedRevision: `main@sha1:${s.lastAttempted ?? s.lastApplied}` }
        : {}),
      conditions: [
        {
          type: 'Ready',
          status: s.ready,
          reason:
            s.reason ??
            (s.ready === 'True'
              ? 'ReconciliationSucceeded'
              : s.ready === 'False'
                ? 'ReconciliationFailed'
                : 'Progressing'),
          message:
            s.message ??
            (s.ready === 'True' ? `Applied revision: main@sha1:${s.lastApplied}` : 'reconciliation in progress'),
          lastTransitionTime: '2026-11-28T10:00:05Z',
          observedGeneration: 3,
        },
      ],
    },
  };
}

/** PEM files of a test PKI in one folder: a CA, the server's certificate (for 127.0.0.1), a client's. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** CN=kipper, signed by the CA: what a kubeconfig's client-certificate / client-key name. */
  clientCert: string;
  clientKey: string;
}

const openssl = (args: string[], cwd: string) => promisify(execFile)('openssl', args, { cwd });

/** Makes a CA and two certificates signed by it with the openssl CLI (P-256 keys: quick). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-pki-'));
  const key = (name: string) =>
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], dir);
  await key('ca.key');
  await openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=kipper-test-ca', '-days', '2', '-out', 'ca.crt'],
    dir,
  );
  const signed = async (name: string, subject: string, ext: string) => {
    await key(`${name}.key`);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(Date.now()),
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      ],
      dir,
    );
  };
  await signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await signed('client', '/O=system:masters/CN=kipper', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

export interface KubeDouble extends ApiDouble {
  set(kind: 'Kustomization' | 'HelmRelease', namespace: string, name: string, state: FluxState): void;
  /** Its PKI: the CA its serving certificate chains to, and a client certificate it accepts. */
  pki: TestPki;
  /** A kubeconfig (current context: this server, its CA inline, its token) written to a temp file. */
  kubeconfig(): Promise<string>;
}

/**
 * The Kubernetes API, for Flux's Kustomizations and HelmReleases, over HTTPS as every API
 * server is: `token` (a service account's, or what an exec plugin prints) or a client
 * certificate of its CA authenticates.
 */
export async function startKubeDouble(token = 'kube-sa-token-0123456789'): Promise<KubeDouble> {
  const objects = new Map<string, Json>();
  const pki = await makeTestPki();
  const [key, cert, ca] = await Promise.all([readFile(pki.serverKey), readFile(pki.serverCert), readFile(pki.ca)]);
  const double = await serve(
    token,
    (path) => {
      const object = objects.get(path);
      if (!object)
        return {
          status: 404,
          body: {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'NotFound',
            code: 404,
            message: `${path} not found`,
          },
        };
      return { status: 200, body: object };
    },
    { key, cert, ca },
  );
  return extend(double, {
    pki,
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
          `    cluster: { server: "${double.url}", certificate-authority-data: "${ca.toString('base64')}" }`,
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
