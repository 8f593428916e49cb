import { accessSync, constants } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { CustomObjectsApi, ObservableMiddleware } from '@kubernetes/client-node';
import type { Syncer } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import type { ApiAnswer } from './argocd-api.js';

type FluxSyncer = Extract<Syncer, { kind: 'kustomization' | 'helmrelease' }>;

/** Reads Flux objects from the Kubernetes API. Credentials stay inside: never logged. */
export interface KubeReader {
  /** GET the Flux object as JSON, bounded by `timeoutMs`; an unreachable or refusing API is a reason, not a throw. */
  get(syncer: FluxSyncer, timeoutMs?: number): Promise<ApiAnswer>;
}

const RESOURCE = {
  kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  helmrelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
} as const;

/**
 * The Kubernetes API for Flux objects, through `@kubernetes/client-node`: `KIPPER_KUBECONFIG`
 * (its current context, with everything kubectl reads there: certificate files relative
 * to the kubeconfig's folder, exec credential plugins such as `aws eks get-token`,
 * `gke-gcloud-auth-plugin` or kubelogin), else the pod's own service account (its token
 * file re-read every minute, as client-go does). Undefined when neither is there. A
 * kubeconfig file that cannot be read is a CONFIG_INVALID at startup; what is wrong inside
 * it is the reason of every look. The client library (0.45 s and ~80 MB to load) is
 * loaded at the first look at a Flux object: a bridge that follows only Argo CD, even in a
 * cluster, never pays for it.
 */
export function kubeReader(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): KubeReader | undefined {
  if (!kubeconfig && !env.KUBERNETES_SERVICE_HOST) return undefined;
  if (kubeconfig) {
    try {
      accessSync(kubeconfig, constants.R_OK);
    } catch (err) {
      throw new KipError(
        'CONFIG_INVALID',
        `KIPPER_KUBECONFIG ${kubeconfig}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  let lib: Promise<Lib> | undefined;
  const load = async () => {
    const k = await (lib ??= import('@kubernetes/client-node'));
    return kubeconfig ? fromFile(k, kubeconfig) : inCluster(k);
  };
  let api: Promise<CustomObjectsApi> | undefined;
  return {
    async get(syncer, timeoutMs = 5_000) {
      const { group, version, plural } = RESOURCE[syncer.kind];
      const { ApiException, Observable } = await (lib ??= import('@kubernetes/client-node'));
      api ??= load();
      // The timeout covers the exec plugin too (client-node runs it before the request).
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      let call: Promise<unknown> | undefined;
      try {
        const abort: ObservableMiddleware = {
          pre: (c) => {
            c.setSignal(controller.signal);
            return new Observable(Promise.resolve(c));
          },
          post: (c) => new Observable(Promise.resolve(c)),
        };
        call = (await Promise.race([api, timedOut])).getNamespacedCustomObject(
          { group, version, plural, namespace: syncer.namespace, name: syncer.name },
          { middleware: [abort], middlewareMergeStrategy: 'append' },
        );
        const json = (await Promise.race([call, timedOut])) as unknown;
        if (typeof json !== 'object' || json === null || Array.isArray(json))
          return { ok: false, reason: 'an answer that is not a JSON object' };
        return { ok: true, json: json as Record<string, unknown> };
      } catch (err) {
        call?.catch(() => undefined);
        if (err instanceof ApiException) {
          const code = err.code as number;
          // A token from an exec plugin may be revoked before it expires: load again, so the
          // plugin runs again on the next look (client-node caches its answer until expiry).
          if (code === 401) api = undefined;
          if (code === 401 || code === 403)
            return { ok: false, reason: `HTTP ${code}: the credentials may not read it` };
          if (code === 404) return { ok: false, reason: 'HTTP 404: no such object' };
          return { ok: false, reason: `HTTP ${code}` };
        }
        // A kubeconfig that could not be loaded is loaded again next time (it may be fixed by then).
        if (err instanceof KipError) api = undefined;
        return { ok: false, reason: reasonOf(err) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

type Lib = typeof import('@kubernetes/client-node');

function fromFile({ KubeConfig, CustomObjectsApi }: Lib, path: string): CustomObjectsApi {
  const bad = (why: string) => new KipError('CONFIG_INVALID', `KIPPER_KUBECONFIG ${path}: ${why}`);
  const kc = new KubeConfig();
  try {
    // Resolves certificate-authority, client-certificate and client-key against the file's folder.
    kc.loadFromFile(path);
  } catch (err) {
    throw bad(`cannot be read (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw bad('has no current-context with a cluster');
  // kubectl runs an exec plugin named by a relative path (`./bin/token`) from the
  // kubeconfig's folder; one named without a slash is looked up on PATH (client-go loader.go).
  const user = kc.getCurrentUser();
  if (user?.exec?.command && user.exec.command.includes('/') && !isAbsolute(user.exec.command)) {
    user.exec.command = resolve(dirname(path), user.exec.command);
  }
  return kc.makeApiClient(CustomObjectsApi);
}

function inCluster({ KubeConfig, CustomObjectsApi }: Lib): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return kc.makeApiClient(CustomObjectsApi);
}

/** Why a request had no answer, without anything that could carry a credential. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // Ours (the kubeconfig's content), or an exec plugin that could not be started: the message says it.
  if (err instanceof KipError || message.startsWith('spawn ')) return message;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  if (code) return code;
  // An exec plugin's failure is its stderr: keep its first line only.
  return message.split('\n')[0]!.slice(0, 200) || 'no answer';
}
