import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parse as parseYaml } from 'yaml';
import type { Syncer } from '../config/kipper-file.js';
import { KipError } from '../errors.js';

/** Where a syncer's API is and how to authenticate to it. Secrets stay in here: never logged. */
export interface ApiEndpoint {
  base: string;
  token?: string | undefined;
  /** PEM: the CA the server's certificate is checked against (default: the system's). */
  ca?: string | Buffer | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  insecure?: boolean;
}

/** What a syncer's API answered: its JSON, or why there was none (for `unknown`). */
export type ApiAnswer = { ok: true; json: Record<string, unknown> } | { ok: false; reason: string };

/** GET `path` as JSON, bounded by `timeoutMs`; an unreachable or refusing API is a reason, not a throw. */
export function getJson(endpoint: ApiEndpoint, path: string, timeoutMs = 5_000): Promise<ApiAnswer> {
  return new Promise((resolve) => {
    const url = new URL(path, `${endpoint.base}/`);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', ...(endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {}) },
        timeout: timeoutMs,
        ...(url.protocol === 'https:' ? { ca: endpoint.ca, cert: endpoint.cert, key: endpoint.key, rejectUnauthorized: !endpoint.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 401 || status === 403) return resolve({ ok: false, reason: `HTTP ${status}: the token may not read it` });
          if (status === 404) return resolve({ ok: false, reason: 'HTTP 404: no such object' });
          if (status !== 200) return resolve({ ok: false, reason: `HTTP ${status}` });
          try {
            resolve({ ok: true, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
          } catch {
            resolve({ ok: false, reason: 'an answer that is not JSON' });
          }
        });
        res.on('error', (err) => resolve({ ok: false, reason: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, reason: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

/** The API path of a syncer's object. https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/ */
export function pathOf(syncer: Syncer): string {
  switch (syncer.kind) {
    case 'argocd':
      return `api/v1/applications/${encodeURIComponent(syncer.application)}?appNamespace=${encodeURIComponent(syncer.namespace)}`;
    case 'kustomization':
      return `apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${syncer.namespace}/kustomizations/${syncer.name}`;
    case 'helmrelease':
      return `apis/helm.toolkit.fluxcd.io/v2/namespaces/${syncer.namespace}/helmreleases/${syncer.name}`;
  }
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

/**
 * The Kubernetes API for Flux objects: `KIPPER_KUBECONFIG` (its current context: server,
 * CA, a token or a client certificate), else the pod's own service account, as client
 * libraries do in a cluster. Undefined when neither is there. The token file is read
 * again once a minute (Kubernetes rotates it), not on every poll.
 */
export function kubeEndpoint(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): (() => ApiEndpoint) | undefined {
  if (kubeconfig) {
    const endpoint = fromKubeconfig(kubeconfig);
    return () => endpoint;
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) return undefined;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let ca: Buffer | undefined;
  let token: { value: string; readAt: number } | undefined;
  return () => {
    // Read again once a minute, as client-go does: often enough for a rotated token.
    if (!token || Date.now() - token.readAt > TOKEN_REREAD_MS) token = { value: readFileSync(`${SERVICE_ACCOUNT}/token`, 'utf8').trim(), readAt: Date.now() };
    ca ??= readFileSync(`${SERVICE_ACCOUNT}/ca.crt`);
    return { base, token: token.value, ca };
  };
}

interface Kubeconfig {
  'current-context'?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean };
  }>;
  users?: Array<{
    name: string;
    user: {
      token?: string;
      'client-certificate-data'?: string;
      'client-key-data'?: string;
      'client-certificate'?: string;
      'client-key'?: string;
      exec?: unknown;
    };
  }>;
}

function fromKubeconfig(path: string): ApiEndpoint {
  const bad = (why: string) => new KipError('CONFIG_INVALID', `KIPPER_KUBECONFIG ${path}: ${why}`);
  let config: Kubeconfig;
  try {
    config = parseYaml(readFileSync(path, 'utf8')) as Kubeconfig;
  } catch (err) {
    throw bad(`cannot be read (${(err as Error).message.split('\n')[0]})`);
  }
  const context = config.contexts?.find((c) => c.name === config['current-context'])?.context;
  const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user;
  if (!context || !cluster) throw bad('has no current-context with a cluster');
  if (user?.exec) throw bad('uses an exec credential plugin, which the bridge does not run: use a token or a client certificate');
  const b64 = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64'));
  const file = (v: string | undefined) => (v === undefined ? undefined : readFileSync(v));
  return {
    base: cluster.server.replace(/\/+$/, ''),
    token: user?.token,
    ca: b64(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    cert: b64(user?.['client-certificate-data']) ?? file(user?.['client-certificate']),
    key: b64(user?.['client-key-data']) ?? file(user?.['client-key']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
}
