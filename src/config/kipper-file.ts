import { parse as parseYaml, parseDocument, visit, isScalar, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { KipError } from '../errors.js';
import { WORKLOAD_KINDS } from '../manifests/find-workload-images.js';

/** The path of the bridge's own config file at the config repo root. */
export const KIPPER_FILE = 'kipper.yaml';

// Kubernetes namespace and object names are DNS-1123 labels; we use the same for
// Kipper namespaces and apps so a name can never smuggle a path segment (`..`, `/`).
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// `<Kind>/<metadata.name>` of a workload the finder knows; a name is a DNS-1123 subdomain.
const WORKLOAD = new RegExp(`^(?:${WORKLOAD_KINDS.join('|')})/[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$`);

const workloadRef = z
  .string()
  .regex(WORKLOAD, `must be <Kind>/<name> of one workload in the app's files, e.g. Deployment/api (Kind: ${WORKLOAD_KINDS.join(', ')})`);

const repoPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'), {
    message: 'must be a relative path inside the repo (no leading /, no . or .. segments)',
  })
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), { message: 'must not contain control characters or line breaks' });

const appSchema = z
  .object({
    namespace: z.string().regex(DNS_LABEL, 'must be a DNS label (lowercase letters, digits, -; at most 63)'),
    name: z.string().regex(DNS_LABEL, 'must be a DNS label (lowercase letters, digits, -; at most 63)'),
    source: z.enum(['image', 'git']).default('image'),
    files: z.array(repoPath).min(1, 'list at least one YAML file'),
    container: z.string().min(1).optional(),
    workload: workloadRef.optional(),
    branch: z.string().min(1).optional(),
  })
  .loose();

const webhookEntry = z.object({ generation: z.number().int().min(1) }).loose();

const fileSchema = z
  .object({
    apps: z.array(appSchema).default([]),
    webhooks: z
      .record(z.string(), webhookEntry)
      .nullish()
      .transform((v) => v ?? {}),
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
}

/** kipper.yaml, parsed and checked. */
export interface KipperConfig {
  apps: Map<string, AppConfig>;
  /** Webhook generations by app id; a missing entry means the webhook is disabled. */
  webhooks: Map<string, number>;
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
    });
  }
  const webhooks = new Map<string, number>();
  for (const [id, entry] of Object.entries(parsed.data.webhooks)) webhooks.set(id, entry.generation);
  return { apps, webhooks };
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
  if (doc.errors.length > 0 || doc.warnings.length > 0 || hasDuplicateKeys(doc)) return parseYaml(text, { prettyErrors: true });
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
