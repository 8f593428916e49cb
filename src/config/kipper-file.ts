import { parse as parseYaml, parseDocument, visit, isScalar, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { KipError } from '../errors.js';
import { isHttpsUrl } from './https-url.js';
import { WORKLOAD_KINDS } from '../manifests/find-workload-images.js';
import { notificationsSchema, type NotifyTarget } from '../notify/targets.js';

/** The path of the bridge's own config file at the config repo root. */
export const KIPPER_FILE = 'kipper.yaml';

// Kubernetes namespace and object names are DNS-1123 labels; we use the same for
// Kipper namespaces and apps so a name can never smuggle a path segment (`..`, `/`).
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// `<namespace>/<app>`, both DNS-1123 labels.
const APP_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// `<Kind>/<metadata.name>` of a workload the finder knows; a name is a DNS-1123 subdomain.
const WORKLOAD = new RegExp(
  `^(?:${WORKLOAD_KINDS.join('|')})/[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$`,
);

const workloadRef = z
  .string()
  .regex(
    WORKLOAD,
    `must be <Kind>/<name> of one workload in the app's files, e.g. Deployment/api (Kind: ${WORKLOAD_KINDS.join(', ')})`,
  );

const repoPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'), {
    message: 'must be a relative path inside the repo (no leading /, no . or .. segments)',
  })
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), { message: 'must not contain control characters or line breaks' });

// `<namespace>/<name>` of a Flux object (both DNS-1123).
const NAMESPACED = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\/[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/;
const namespaced = z.string().regex(NAMESPACED, 'must be <namespace>/<name>, e.g. flux-system/apps');

/** Who applies the app's commits to the cluster: an Argo CD Application, or a Flux Kustomization or HelmRelease. */
const argocdSchema = z
  .object({
    application: z.string().regex(/^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/, 'must be the Argo CD Application name'),
    namespace: z
      .string()
      .regex(DNS_LABEL, 'must be the namespace of the Application (default argocd)')
      .default('argocd'),
  })
  .strict();
const fluxSchema = z
  .object({ kustomization: namespaced.optional(), helmRelease: namespaced.optional() })
  .strict()
  .refine((f) => (f.kustomization === undefined) !== (f.helmRelease === undefined), {
    message: 'name exactly one of kustomization or helmRelease',
  });

const appSchema = z
  .object({
    namespace: z.string().regex(DNS_LABEL, 'must be a DNS label (lowercase letters, digits, -; at most 63)'),
    name: z.string().regex(DNS_LABEL, 'must be a DNS label (lowercase letters, digits, -; at most 63)'),
    source: z.enum(['image', 'git']).default('image'),
    files: z.array(repoPath).min(1, 'list at least one YAML file'),
    container: z.string().min(1).optional(),
    workload: workloadRef.optional(),
    branch: z.string().min(1).optional(),
    argocd: argocdSchema.optional(),
    flux: fluxSchema.optional(),
    // Pull-request mode (docs/protected-branches.md): propose deploys instead of pushing to the branch.
    write: z.enum(['direct', 'pull-request'], { message: 'must be direct or pull-request' }).default('direct'),
    autoMerge: z.boolean({ message: 'must be true or false' }).default(false),
    labels: z
      .array(z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'))
      .max(20, 'at most 20 labels')
      .default([]),
  })
  .loose()
  .refine((a) => a.argocd === undefined || a.flux === undefined, {
    message: 'an app is synced by Argo CD or by Flux, not both',
    path: ['flux'],
  });

const webhookEntry = z.object({ generation: z.number().int().min(1) }).loose();

/** Why an app is locked, or a deploy was made: one line a human reads in git log and the console. */
export const reasonSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .refine((r) => !/[\u0000-\u001f\u007f]/.test(r), { message: 'must be one line, without control characters' });

// Written by the bridge (`kip app lock`); `by` and `at` may be missing where a human wrote one.
const lockEntry = z
  .object({ reason: reasonSchema, by: z.string().max(200).nullish(), at: z.string().max(64).nullish() })
  .loose();

// `trust:` (docs/identity-and-access.md "CI with OIDC"): which CI ID tokens may deploy which apps.
const claimValue = z
  .union([z.string(), z.number(), z.boolean()])
  .transform(String)
  .refine((v) => v.length > 0 && v.length <= 500, { message: 'must be 1 to 500 characters' });

const trustRuleSchema = z
  .object({
    issuer: z.string().refine(isHttpsUrl, {
      message:
        "must be the https URL of the token issuer, exactly as its tokens' iss says, e.g. https://token.actions.githubusercontent.com",
    }),
    audience: z.string().min(1, 'must not be empty; leave it out for KIPPER_PUBLIC_URL').max(500).optional(),
    claims: z
      .record(z.string().min(1), claimValue)
      // Without a claim that narrows it down, every repository on github.com could deploy.
      .refine((c) => Object.values(c).some((v) => !/^\**$/.test(v)), {
        message:
          'list at least one claim that is not only *, e.g. repository: acme/api (otherwise every project on the issuer could deploy)',
      }),
    apps: z
      .array(z.string().regex(APP_ID, 'must be <namespace>/<app>, e.g. shop-prod/api'))
      .min(1, 'list the apps these tokens may deploy, e.g. [shop-test/api]'),
  })
  .strict();

// `access:` (docs/identity-and-access.md "People: SSO and roles"): who of the OpenID Provider's people may do what.
export const ROLES = ['viewer', 'deployer', 'admin'] as const;
/** viewer: read; deployer: also deploy, rollback, promote, lock, webhooks (within `namespaces`); admin: everything. */
export type Role = (typeof ROLES)[number];

const accessRuleSchema = z
  .object({
    user: z.string().min(1).max(300).optional(),
    group: z.string().min(1).max(300).optional(),
    role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }),
    namespaces: z
      .array(z.string().regex(DNS_LABEL, 'must be a namespace (a DNS label), e.g. shop-test'))
      .min(1, 'list a namespace, or leave namespaces out for all')
      .optional(),
  })
  .strict()
  .refine((r) => (r.user === undefined) !== (r.group === undefined), {
    message: 'name exactly one of user (an email or sub) or group',
  });

const fileSchema = z
  .object({
    apps: z.array(appSchema).default([]),
    webhooks: z
      .record(z.string(), webhookEntry)
      .nullish()
      .transform((v) => v ?? {}),
    locks: z
      .record(z.string(), lockEntry)
      .nullish()
      .transform((v) => v ?? {}),
    notifications: notificationsSchema,
    trust: z
      .array(trustRuleSchema)
      .nullish()
      .transform((v) => v ?? []),
    access: z
      .array(accessRuleSchema)
      .nullish()
      .transform((v) => v ?? []),
  })
  .loose();

/** One deployable app of kipper.yaml. */
export interface AppConfig {
  /** `<namespace>/<name>`: how the app is addressed everywhere. */
  id: string;
  namespace: string;
  name: string;
  source: 'image' | 'git';
  files: string[];
  container: string | undefined;
  /**
   * `<Kind>/<name>`: only that workload's containers are targets. Needed when
   * `container` names containers of several workloads that run different images.
   */
  workload: string | undefined;
  branch: string;
  /** Who applies its commits to the cluster, for rollout status (none: state `unknown`). */
  syncer: Syncer | undefined;
  /** `pull-request`: deploys open or update one pull/merge request from `kipper/<namespace>/<app>` (docs/protected-branches.md). */
  write: 'direct' | 'pull-request';
  /** Merge the proposal through the host once it reports it mergeable. */
  autoMerge: boolean;
  /** Labels put on the proposal. */
  labels: string[];
}

/** An Argo CD Application, or a Flux Kustomization or HelmRelease, that syncs an app. */
export type Syncer =
  | { kind: 'argocd'; application: string; namespace: string }
  | { kind: 'kustomization' | 'helmrelease'; namespace: string; name: string };

/** A syncer as one string (a key for watchers, and for humans). */
export function syncerId(s: Syncer): string {
  return s.kind === 'argocd' ? `argocd:${s.namespace}/${s.application}` : `${s.kind}:${s.namespace}/${s.name}`;
}

/** An app's lock (`locks:`): its webhook deploys nothing until it is unlocked. */
export interface Lock {
  reason: string;
  /** Who locked it, as they said (the CLI sends the git user), or "" where kipper.yaml does not say. */
  by: string;
  /** When (ISO 8601), or "" where kipper.yaml does not say. */
  at: string;
}

/**
 * A `trust:` rule: an OIDC ID token (a CI job's) from `issuer`, for `audience`, whose
 * claims match `claims` (exact, or `*` globs), may deploy `apps`.
 */
export interface TrustRule {
  issuer: string;
  /** The required `aud`; undefined means KIPPER_PUBLIC_URL. */
  audience: string | undefined;
  /** Claim name to value, where `*` in a value matches any characters. */
  claims: Record<string, string>;
  /** `<namespace>/<app>` ids, only those this kipper.yaml lists under `apps:`. */
  apps: string[];
}

/** An `access:` rule: a user (email or `sub`) or a group of the groups claim has `role`, on `namespaces` or on every app of this file. */
export interface AccessRule {
  user?: string | undefined;
  group?: string | undefined;
  role: Role;
  namespaces?: string[] | undefined;
}

/** kipper.yaml, parsed and checked. */
export interface KipperConfig {
  apps: Map<string, AppConfig>;
  /** Webhook generations by app id; a missing entry means the webhook is disabled. */
  webhooks: Map<string, number>;
  /** Locked apps by id. */
  locks: Map<string, Lock>;
  /** Where the bridge posts its events (`notifications:`), besides KIPPER_NOTIFY_URL. */
  notifications: NotifyTarget[];
  /** Which CI ID tokens may deploy which apps (`trust:`). */
  trust: TrustRule[];
  /** Which signed-in people may see and change which apps (`access:`); the admin token ignores it. */
  access: AccessRule[];
}

/** kipper.yaml with nothing in it: what the bridge knows before its first read. */
export function emptyKipperConfig(): KipperConfig {
  return { apps: new Map(), webhooks: new Map(), locks: new Map(), notifications: [], trust: [], access: [] };
}

/** The app id for a namespace and name. */
export function appId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Parse kipper.yaml text. An invalid file is a CONFIG_INVALID error whose message names
 * the file and every bad field as `kipper.yaml: apps[0].files: …`.
 */
export function parseKipperFile(text: string): KipperConfig {
  let raw: unknown;
  try {
    raw = readYaml(text) ?? {};
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new KipError('CONFIG_INVALID', `${KIPPER_FILE}: not valid YAML: ${msg}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${KIPPER_FILE}: ${formatPath(i.path)}: ${i.message}`);
    throw new KipError('CONFIG_INVALID', issues.join('; '), { issues });
  }
  const apps = new Map<string, AppConfig>();
  for (const [i, a] of parsed.data.apps.entries()) {
    const id = appId(a.namespace, a.name);
    if (apps.has(id)) {
      throw new KipError('CONFIG_INVALID', `${KIPPER_FILE}: apps[${i}]: duplicate app ${id}`);
    }
    apps.set(id, {
      id,
      namespace: a.namespace,
      name: a.name,
      source: a.source,
      files: a.files,
      container: a.container,
      workload: a.workload,
      branch: a.branch ?? 'main',
      syncer: syncerOf(a),
      write: a.write,
      autoMerge: a.autoMerge,
      labels: a.labels,
    });
  }
  const webhooks = new Map<string, number>();
  for (const [id, entry] of Object.entries(parsed.data.webhooks)) webhooks.set(id, entry.generation);
  const locks = new Map<string, Lock>();
  for (const [id, entry] of Object.entries(parsed.data.locks))
    locks.set(id, { reason: entry.reason, by: entry.by ?? '', at: entry.at ?? '' });
  // A rule trusts tokens for this file's apps only: with several config repos behind one
  // bridge, one repo's kipper.yaml must never let a token deploy another repo's app.
  const trust = parsed.data.trust.map((r) => ({
    issuer: r.issuer,
    audience: r.audience,
    claims: r.claims,
    apps: r.apps.filter((id) => apps.has(id)),
  }));
  return { apps, webhooks, locks, notifications: parsed.data.notifications, trust, access: parsed.data.access };
}

function syncerOf(a: z.infer<typeof appSchema>): Syncer | undefined {
  if (a.argocd) return { kind: 'argocd', application: a.argocd.application, namespace: a.argocd.namespace };
  const ref = a.flux?.kustomization ?? a.flux?.helmRelease;
  if (!ref) return undefined;
  const [namespace, name] = ref.split('/') as [string, string];
  return { kind: a.flux?.kustomization ? 'kustomization' : 'helmrelease', namespace, name };
}

/**
 * `parse` of the yaml package, read the same way in linear time. Its duplicate-key check
 * compares every key with every key before it: 50 million comparisons and 2-3 s for a
 * kipper.yaml of 10,000 apps (issue #14). So keys are checked with a Set, and a file with
 * a duplicate key, an error or a warning is parsed again by `parse` itself, which then
 * throws (or warns) exactly as it always did.
 */
function readYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0 || doc.warnings.length > 0 || hasDuplicateKeys(doc))
    return parseYaml(text, { prettyErrors: true });
  return doc.toJS();
}

/** Whether any mapping holds two scalar keys of equal value (what `uniqueKeys` refuses). */
function hasDuplicateKeys(doc: ReturnType<typeof parseDocument>): boolean {
  let found = false;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          found = true;
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return found;
}

function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}
