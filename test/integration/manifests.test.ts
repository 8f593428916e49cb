import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadSettings } from '../../src/config/settings.js';

// The Kubernetes manifests (manifests/) and the Argo CD / Flux examples, checked two ways:
// - the YAML files as written, parsed with `yaml` (always: no tool needed);
// - what `kubectl kustomize` builds from them (where kubectl is installed; skipped with a
//   message otherwise), which is what a user applies.
// Both run the same checks on the bridge's Deployment: the probes, the security context,
// the env the bridge reads, 2 replicas, the emptyDir data dir.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MANIFESTS = join(ROOT, 'manifests');

/** Every environment variable the bridge reads (README "Configuration"). Anything else is a typo. */
const BRIDGE_ENV = [
  'KIPPER_HOST',
  'KIPPER_PORT',
  'KIPPER_DATA_DIR',
  'KIPPER_REPO_URL',
  'KIPPER_REPO_BRANCH',
  'KIPPER_GIT_USERNAME',
  'KIPPER_GIT_TOKEN',
  'KIPPER_SECRET_KEY',
  'KIPPER_ADMIN_TOKEN',
  'KIPPER_PUBLIC_URL',
  'KIPPER_GIT_AUTHOR_NAME',
  'KIPPER_GIT_AUTHOR_EMAIL',
  'KIPPER_LOG_LEVEL',
] as const;
/** Must come from the Secret, identical on every replica, never a literal or the ConfigMap. */
const SECRET_ENV = ['KIPPER_SECRET_KEY', 'KIPPER_ADMIN_TOKEN', 'KIPPER_GIT_USERNAME', 'KIPPER_GIT_TOKEN'];
/** Without these two from the Secret, each replica would generate its own. */
const REQUIRED_SECRET_ENV = ['KIPPER_SECRET_KEY', 'KIPPER_ADMIN_TOKEN'];
const SECRET_NAME = 'kipper-secrets';

// ---- the shapes this test reads -------------------------------------------------------

interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  automountServiceAccountToken?: boolean;
}
interface HttpProbe {
  httpGet?: { path?: string; port?: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name?: string; key?: string; optional?: boolean };
    configMapKeyRef?: { name?: string; key?: string; optional?: boolean };
  };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { name?: string; containerPort?: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name?: string }; secretRef?: { name?: string } }[];
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  startupProbe?: HttpProbe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  containers?: Container[];
  volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
}
interface DeploymentSpec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  template?: { metadata?: Meta; spec?: PodSpec };
}
interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: { port?: number; targetPort?: number | string }[];
}

// ---- reading ----------------------------------------------------------------------------

function parseYaml(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

function readYaml(path: string): K8sObject[] {
  return parseYaml(readFileSync(path, 'utf8'), relative(ROOT, path));
}

/** The objects of a kustomization's `resources` files, as written (no kustomize applied). */
function readKustomizationFiles(dir: string): K8sObject[] {
  const [kustomization] = readYaml(join(dir, 'kustomization.yaml')) as (K8sObject & { resources?: string[] })[];
  const resources = kustomization?.resources ?? [];
  return resources.filter((r) => /\.ya?ml$/.test(r)).flatMap((r) => readYaml(join(dir, r)));
}

function find(objects: K8sObject[], kind: string, name?: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
}

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
if (!hasKubectl) {
  console.warn(
    'manifests.test.ts: kubectl is not installed (`kubectl version --client` failed): the `kubectl kustomize` ' +
      'builds are SKIPPED; the YAML files are still checked as written.',
  );
}

async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 16 << 20 });
  return parseYaml(stdout, `kubectl kustomize ${relative(ROOT, dir)}`);
}

// ---- the checks, shared by both ways --------------------------------------------------

/** Bytes of a Kubernetes memory quantity (`128Mi`, `1Gi`, `500M`). */
function bytesOf(quantity: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity ?? '');
  if (!m) return NaN;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * unit;
}

function probeProblems(name: string, probe: HttpProbe | undefined, path: string, ports: Set<string>): string[] {
  if (!probe) return [`${name}: missing`];
  const out: string[] = [];
  if (probe.httpGet?.path !== path)
    out.push(`${name}: httpGet.path is ${String(probe.httpGet?.path)}, expected ${path}`);
  if (!ports.has(String(probe.httpGet?.port)))
    out.push(`${name}: httpGet.port ${String(probe.httpGet?.port)} is not the container's port`);
  return out;
}

/**
 * Everything wrong with the bridge's Deployment among `objects` (a whole build, or the
 * base's files as written): the empty list when it is right.
 */
function deploymentProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const deployment = find(objects, 'Deployment', 'kipper');
  if (!deployment) return ['no Deployment `kipper`'];
  const spec = (deployment.spec ?? {}) as DeploymentSpec;
  const pod = spec.template?.spec ?? {};
  const container = pod.containers?.find((c) => c.name === 'kipper');
  if (!container) return ['no container `kipper` in the Deployment'];

  if (spec.replicas !== 2) problems.push(`replicas is ${String(spec.replicas)}, expected 2`);
  if (!container.args?.includes('serve')) problems.push('the container does not run `serve`');

  // Probes, on the container's own port.
  const ports = new Set<string>();
  for (const p of container.ports ?? []) {
    if (p.name) ports.add(p.name);
    if (p.containerPort !== undefined) ports.add(String(p.containerPort));
  }
  if (!ports.has('8080')) problems.push('no containerPort 8080');
  problems.push(...probeProblems('readinessProbe', container.readinessProbe, '/readyz', ports));
  problems.push(...probeProblems('livenessProbe', container.livenessProbe, '/healthz', ports));
  problems.push(...probeProblems('startupProbe', container.startupProbe, '/healthz', ports));

  // Security context: the pod's, with the container's taking precedence.
  const psc = pod.securityContext ?? {};
  const csc = container.securityContext ?? {};
  const runAsNonRoot = csc.runAsNonRoot ?? psc.runAsNonRoot;
  const runAsUser = csc.runAsUser ?? psc.runAsUser;
  const seccomp = csc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (runAsNonRoot !== true) problems.push('runAsNonRoot is not true');
  if (runAsUser !== 10001) problems.push(`runAsUser is ${String(runAsUser)}, expected 10001 (the image's user)`);
  if (csc.readOnlyRootFilesystem !== true) problems.push('readOnlyRootFilesystem is not true');
  if (csc.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation is not false');
  if (csc.privileged === true) problems.push('privileged');
  if (!csc.capabilities?.drop?.includes('ALL')) problems.push('capabilities do not drop ALL');
  if ((csc.capabilities?.add ?? []).length > 0) problems.push(`capabilities added: ${String(csc.capabilities?.add)}`);
  if (seccomp !== 'RuntimeDefault') problems.push(`seccompProfile is ${String(seccomp)}, expected RuntimeDefault`);
  if (pod.automountServiceAccountToken !== false) problems.push('the pod mounts a service account token');
  if (pod.enableServiceLinks !== false) {
    problems.push('enableServiceLinks is not false: the Service `kipper` would inject KIPPER_PORT=tcp://…');
  }
  if ((pod.terminationGracePeriodSeconds ?? 30) < 30) problems.push('terminationGracePeriodSeconds < 30');

  // The env the bridge reads, and nothing else.
  const allowed = new Set<string>(BRIDGE_ENV);
  const env = container.env ?? [];
  for (const e of env) {
    if (!allowed.has(e.name)) problems.push(`env ${e.name} is not a variable the bridge reads`);
  }
  const names = env.map((e) => e.name);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) problems.push(`env set twice: ${duplicates.join(', ')}`);
  const byName = new Map(env.map((e) => [e.name, e]));
  if (byName.get('KIPPER_HOST')?.value !== '0.0.0.0') problems.push('KIPPER_HOST is not 0.0.0.0');
  const port = byName.get('KIPPER_PORT')?.value;
  if (port !== undefined && !ports.has(port)) problems.push(`KIPPER_PORT ${port} is not the container's port`);
  for (const name of SECRET_ENV) {
    const e = byName.get(name);
    if (!e) continue;
    const ref = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined || !ref) problems.push(`${name} is not read from a Secret`);
    else if (ref.name !== SECRET_NAME || ref.key !== name)
      problems.push(`${name} reads ${String(ref.name)}/${String(ref.key)}`);
  }
  for (const name of REQUIRED_SECRET_ENV) {
    const ref = byName.get(name)?.valueFrom?.secretKeyRef;
    if (!ref) problems.push(`${name} is missing: every replica would generate its own`);
    else if (ref.optional === true) problems.push(`${name} is optional: a pod without it would generate its own`);
  }
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) problems.push('envFrom secretRef: list the Secret keys one by one');
    const cmName = from.configMapRef?.name;
    if (cmName === undefined) continue;
    const cm = find(objects, 'ConfigMap', cmName);
    if (!cm) {
      problems.push(`envFrom names ConfigMap ${cmName}, which is not in the build`);
      continue;
    }
    for (const key of Object.keys(cm.data ?? {})) {
      if (!allowed.has(key)) problems.push(`ConfigMap ${cmName}: ${key} is not a variable the bridge reads`);
      if (SECRET_ENV.includes(key)) problems.push(`ConfigMap ${cmName}: ${key} belongs in the Secret`);
    }
  }

  // The data dir and /tmp: writable emptyDirs under a read-only root filesystem.
  const dataDir = byName.get('KIPPER_DATA_DIR')?.value;
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const emptyDirAt = (path: string | undefined) => {
    const mount = container.volumeMounts?.find((m) => m.mountPath === path);
    return mount !== undefined && volumes.get(mount.name)?.emptyDir !== undefined;
  };
  if (dataDir === undefined) problems.push('KIPPER_DATA_DIR is not set');
  else if (!emptyDirAt(dataDir)) problems.push(`the data dir ${dataDir} is not an emptyDir mount`);
  if (!emptyDirAt('/tmp')) problems.push('/tmp is not an emptyDir mount');

  // Resources for the measured ~210 MB peak RSS.
  const limit = bytesOf(container.resources?.limits?.memory);
  const request = bytesOf(container.resources?.requests?.memory);
  if (!(limit >= 256 * 2 ** 20))
    problems.push(`memory limit ${String(container.resources?.limits?.memory)} is under 256Mi`);
  if (!(request > 0 && request <= limit)) problems.push('memory request missing or above the limit');
  if (container.resources?.requests?.cpu === undefined) problems.push('no cpu request');

  // The ServiceAccount and the Service that go with it.
  const sa = find(objects, 'ServiceAccount', pod.serviceAccountName ?? 'default');
  if (!sa) problems.push(`ServiceAccount ${String(pod.serviceAccountName)} is not in the build`);
  else if (sa.automountServiceAccountToken !== false) problems.push('the ServiceAccount automounts its token');
  const service = find(objects, 'Service', 'kipper');
  const podLabels = spec.template?.metadata?.labels ?? {};
  if (!service) problems.push('no Service `kipper`');
  else {
    const svc = (service.spec ?? {}) as ServiceSpec;
    const selector = Object.entries(svc.selector ?? {});
    if (selector.length === 0 || selector.some(([k, v]) => podLabels[k] !== v))
      problems.push('the Service does not select the pods');
    const p80 = svc.ports?.find((p) => p.port === 80);
    if (!p80 || !ports.has(String(p80.targetPort)))
      problems.push('the Service does not map port 80 to the container port');
  }
  const selector = Object.entries(spec.selector?.matchLabels ?? {});
  if (selector.some(([k, v]) => podLabels[k] !== v))
    problems.push('the Deployment selector does not match its pod labels');
  if (podLabels['app.kubernetes.io/name'] !== 'kipper')
    problems.push('pod template lacks app.kubernetes.io/name: kipper');
  return problems;
}

/** The bridge's environment as one of its pods sees it, the secrets filled in. */
function podEnvironment(objects: K8sObject[], secrets: Record<string, string>): NodeJS.ProcessEnv {
  const pod = ((find(objects, 'Deployment', 'kipper')?.spec ?? {}) as DeploymentSpec).template?.spec;
  const container = pod?.containers?.find((c) => c.name === 'kipper');
  const env: NodeJS.ProcessEnv = {};
  for (const from of container?.envFrom ?? []) {
    Object.assign(env, find(objects, 'ConfigMap', from.configMapRef?.name ?? '')?.data ?? {});
  }
  for (const e of container?.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (ref?.key !== undefined && secrets[ref.key] !== undefined) env[e.name] = secrets[ref.key];
  }
  return env;
}

const VALID_SECRETS = {
  KIPPER_SECRET_KEY: 'k'.repeat(64),
  KIPPER_ADMIN_TOKEN: 'a'.repeat(64),
  KIPPER_GIT_USERNAME: 'kipper-bot',
  KIPPER_GIT_TOKEN: 't'.repeat(40),
};

interface ArgoApplicationSpec {
  source?: {
    repoURL?: string;
    targetRevision?: string;
    path?: string;
    directory?: { exclude?: string; recurse?: boolean };
  };
  destination?: { server?: string; namespace?: string };
  syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } };
}
interface FluxGitRepositorySpec {
  url?: string;
  ref?: { branch?: string };
  ignore?: string;
}
interface FluxKustomizationSpec {
  sourceRef?: { kind?: string; name?: string };
  path?: string;
  prune?: boolean;
}

function argoProblems(objects: K8sObject[]): string[] {
  const app = objects.find((o) => o.kind === 'Application' && o.apiVersion === 'argoproj.io/v1alpha1');
  if (!app) return ['no Argo CD Application'];
  const spec = (app.spec ?? {}) as ArgoApplicationSpec;
  const problems: string[] = [];
  const path = spec.source?.path ?? '';
  if (!/^apps\/[^/]+/.test(path)) problems.push(`source.path ${path} is not an app path under apps/`);
  // kipper.yaml is at the repo root: outside an apps/ path, and excluded in case.
  if (!spec.source?.directory?.exclude?.includes('kipper.yaml'))
    problems.push('directory.exclude does not keep kipper.yaml out');
  if (!spec.syncPolicy?.automated) problems.push('no automated sync');
  if (!spec.source?.repoURL?.startsWith('https://'))
    problems.push('repoURL is not an https URL (the bridge speaks http/https)');
  return problems;
}

function fluxProblems(objects: K8sObject[]): string[] {
  const repo = objects.find((o) => o.kind === 'GitRepository' && o.apiVersion?.startsWith('source.toolkit.fluxcd.io/'));
  const ks = objects.find(
    (o) => o.kind === 'Kustomization' && o.apiVersion?.startsWith('kustomize.toolkit.fluxcd.io/'),
  );
  if (!repo || !ks) return ['no Flux GitRepository and Kustomization'];
  const problems: string[] = [];
  const repoSpec = (repo.spec ?? {}) as FluxGitRepositorySpec;
  const ksSpec = (ks.spec ?? {}) as FluxKustomizationSpec;
  if (ksSpec.sourceRef?.kind !== 'GitRepository' || ksSpec.sourceRef.name !== repo.metadata?.name) {
    problems.push('the Kustomization does not use the GitRepository');
  }
  if (ksSpec.path !== './apps/yourr-name-prod') problems.push(`path is ${String(ksSpec.path)}`);
  if (ksSpec.prune !== true) problems.push('prune is not true');
  if (!repoSpec.ignore?.includes('kipper.yaml')) problems.push('the GitRepository does not ignore kipper.yaml');
  if (!repoSpec.url?.startsWith('https://')) problems.push('url is not an https URL');
  return problems;
}

function repoUrlsOf(argo: K8sObject[], flux: K8sObject[]): string[] {
  const app = argo.find((o) => o.kind === 'Application');
  const repo = flux.find((o) => o.kind === 'GitRepository');
  return [
    String((app?.spec as ArgoApplicationSpec | undefined)?.source?.repoURL),
    String((repo?.spec as FluxGitRepositorySpec | undefined)?.url),
  ];
}

// ---- the YAML files as written --------------------------------------------------------

describe('manifests/ as written (parsed with `yaml`, no kubectl needed)', () => {
  const base = readKustomizationFiles(join(MANIFESTS, 'base'));

  it('the base Deployment carries the probes, security context, bridge env, 2 replicas and emptyDir data dir', () => {
    expect(deploymentProblems(base)).toEqual([]);
  });

  it('the checks catch a typo in an env name, a lost probe and a writable root filesystem', () => {
    const broken = structuredClone(base);
    const pod = (find(broken, 'Deployment', 'kipper')!.spec as DeploymentSpec).template!.spec!;
    const container = pod.containers!.find((c) => c.name === 'kipper')!;
    container.env!.push({ name: 'KIPPER_LOGLEVEL', value: 'debug' });
    delete container.readinessProbe;
    container.securityContext!.readOnlyRootFilesystem = false;
    find(broken, 'ConfigMap', 'kipper-config')!.data!.KIPPER_REPO_UR = 'https://example.com/x.git';
    expect(deploymentProblems(broken)).toEqual(
      expect.arrayContaining([
        'env KIPPER_LOGLEVEL is not a variable the bridge reads',
        'readinessProbe: missing',
        'readOnlyRootFilesystem is not true',
        'ConfigMap kipper-config: KIPPER_REPO_UR is not a variable the bridge reads',
      ]),
    );
  });

  it('every variable the test allows is one the bridge reads (src/)', () => {
    const src = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(ROOT, 'src', f), 'utf8'))
      .join('\n');
    expect(BRIDGE_ENV.filter((name) => !src.includes(name))).toEqual([]);
  });

  it("the pod's environment passes the bridge's own settings validation", () => {
    const settings = loadSettings(podEnvironment(base, VALID_SECRETS));
    expect(settings).toMatchObject({ host: '0.0.0.0', port: 8080, dataDir: '/var/lib/kipper', branch: 'main' });
    // A cluster must name its config repo: without one, each replica would create its own.
    expect(settings.repoUrl).toMatch(/^https:\/\//);
  });

  it('no Secret is applied; secret.example.yaml has the keys the Deployment reads, and its placeholders cannot start the bridge', () => {
    expect(base.filter((o) => o.kind === 'Secret')).toEqual([]);
    const [secret, ...rest] = readYaml(join(MANIFESTS, 'secret.example.yaml'));
    expect(rest).toEqual([]);
    expect(secret).toMatchObject({ kind: 'Secret', metadata: { name: SECRET_NAME, namespace: 'kipper-system' } });
    expect(Object.keys(secret!.stringData ?? {}).sort()).toEqual([...SECRET_ENV].sort());
    // An unedited copy is refused at start rather than run with a well-known key.
    expect(() => loadSettings(podEnvironment(base, secret!.stringData!))).toThrow(
      /KIPPER_SECRET_KEY|KIPPER_ADMIN_TOKEN/,
    );
  });

  it('every object carries the app.kubernetes.io/name label and the kipper-system namespace', () => {
    const unlabelled = base.filter((o) => o.metadata?.labels?.['app.kubernetes.io/name'] !== 'kipper');
    expect(unlabelled.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([]);
    expect(find(base, 'Namespace', 'kipper-system')).toBeDefined();
    const elsewhere = base.filter((o) => o.kind !== 'Namespace' && o.metadata?.namespace !== 'kipper-system');
    expect(elsewhere.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([]);
  });

  it('the optional Ingress routes only the webhook path to the Service', () => {
    const objects = readKustomizationFiles(join(MANIFESTS, 'ingress'));
    const ingress = find(objects, 'Ingress', 'kipper-webhook');
    const rules = (
      ingress?.spec as {
        rules?: { http?: { paths?: { path?: string; backend?: { service?: { name?: string } } }[] } }[];
      }
    )?.rules;
    const paths = (rules ?? []).flatMap((r) => r.http?.paths ?? []);
    expect(paths.map((p) => [p.path, p.backend?.service?.name])).toEqual([['/api/v1/webhook/', 'kipper']]);
  });

  it('the optional Flux status component only reads Kustomizations and HelmReleases, and only it mounts a token', () => {
    const objects = readKustomizationFiles(join(MANIFESTS, 'flux-status'));
    const role = find(objects, 'ClusterRole', 'kipper-flux-status') as unknown as {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    expect(role.rules.map((r) => [r.apiGroups, r.resources, [...r.verbs].sort()])).toEqual([
      [['kustomize.toolkit.fluxcd.io'], ['kustomizations'], ['get', 'list', 'watch']],
      [['helm.toolkit.fluxcd.io'], ['helmreleases'], ['get', 'list', 'watch']],
    ]);
    const binding = find(objects, 'ClusterRoleBinding', 'kipper-flux-status') as unknown as {
      subjects: Array<{ kind: string; name: string; namespace: string }>;
    };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kipper', namespace: 'kipper-system' }]);
    // Without the component, no token: the base keeps automount off.
    expect(
      (find(base, 'ServiceAccount', 'kipper') as unknown as { automountServiceAccountToken: boolean })
        .automountServiceAccountToken,
    ).toBe(false);
  });

  it('the Argo CD and Flux examples sync an app path of one config repo and keep kipper.yaml out', () => {
    const argo = readKustomizationFiles(join(MANIFESTS, 'examples', 'argocd'));
    const flux = readKustomizationFiles(join(MANIFESTS, 'examples', 'flux'));
    expect(argoProblems(argo)).toEqual([]);
    expect(fluxProblems(flux)).toEqual([]);
    const [argoUrl, fluxUrl] = repoUrlsOf(argo, flux);
    expect(argoUrl).toBe(fluxUrl);
  });
});

// ---- what kubectl kustomize builds ----------------------------------------------------

describe('kubectl kustomize builds', () => {
  it.skipIf(!hasKubectl)('manifests/ builds, and the built Deployment passes every check', async () => {
    const objects = await kustomize(MANIFESTS);
    expect(deploymentProblems(objects)).toEqual([]);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
    const container = ((find(objects, 'Deployment', 'kipper')!.spec as DeploymentSpec).template!.spec!.containers ??
      [])[0];
    expect(container?.image).toBe('kipper:0.1.0');
    expect(loadSettings(podEnvironment(objects, VALID_SECRETS)).host).toBe('0.0.0.0');
  });

  it.skipIf(!hasKubectl)('the production example overlay builds with the Ingress, its image and its repo', async () => {
    const objects = await kustomize(join(MANIFESTS, 'examples', 'production'));
    expect(deploymentProblems(objects)).toEqual([]);
    const pod = (find(objects, 'Deployment', 'kipper')!.spec as DeploymentSpec).template!.spec!;
    expect(pod.containers?.[0]?.image).toBe('registry.example.com/platform/kipper:0.1.0');
    expect(find(objects, 'Ingress', 'kipper-webhook')?.metadata?.namespace).toBe('kipper-system');
    const settings = loadSettings(podEnvironment(objects, VALID_SECRETS));
    expect(settings.repoUrl).toBe('https://github.com/yourr-name/config.git');
    expect(settings.publicUrl).toBe('https://kipper.example.com');
  });

  it.skipIf(!hasKubectl)('the Argo CD and Flux examples build', async () => {
    const argo = await kustomize(join(MANIFESTS, 'examples', 'argocd'));
    const flux = await kustomize(join(MANIFESTS, 'examples', 'flux'));
    expect(argoProblems(argo)).toEqual([]);
    expect(fluxProblems(flux)).toEqual([]);
    const [argoUrl, fluxUrl] = repoUrlsOf(argo, flux);
    expect(argoUrl).toBe(fluxUrl);
  });
});
