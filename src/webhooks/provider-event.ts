import { z } from 'zod';
import { KipError } from '../errors.js';

/** What a git provider's event asks of an app. */
export type ProviderAction =
  | { kind: 'ping' }
  | { kind: 'push'; ref: string; commit: string }
  | { kind: 'package'; image: string; commit: string | undefined }
  | { kind: 'ignored'; reason: string }
  /** Something changed about the pull/merge request or the checks of `branch` (pull-request mode: look at it now). */
  | { kind: 'proposal'; branch: string };

const ZERO = /^0+$/;
const pushSchema = z.object({ ref: z.string(), after: z.string(), checkout_sha: z.string().nullish() }).loose();
const versionSchema = z
  .object({
    package_url: z.string().optional(),
    target_oid: z.string().nullish(),
    target_commitish: z.string().nullish(),
    container_metadata: z
      .object({
        tag: z.object({ name: z.string().optional() }).loose().optional(),
        labels: z.object({ revision: z.string().nullish() }).loose().nullish(),
      })
      .loose()
      .nullish(),
  })
  .loose();
const packageSchema = z
  .object({
    action: z.string(),
    registry_package: z
      .object({ package_type: z.string().optional(), package_version: versionSchema.optional() })
      .loose()
      .optional(),
    package: z
      .object({ package_type: z.string().optional(), package_version: versionSchema.optional() })
      .loose()
      .optional(),
  })
  .loose();

// GitHub `pull_request` and `check_suite`, GitLab `Merge Request Hook`: only the branch matters,
// the bridge asks the host's API for the rest (a webhook is a nudge, never trusted for state).
const pullRequestSchema = z
  .object({ pull_request: z.object({ head: z.object({ ref: z.string() }).loose() }).loose() })
  .loose();
const checkSuiteSchema = z.object({ check_suite: z.object({ head_branch: z.string().nullish() }).loose() }).loose();
const mergeRequestSchema = z.object({ object_attributes: z.object({ source_branch: z.string() }).loose() }).loose();

function parse<T>(schema: z.ZodType<T>, json: unknown, event: string): T {
  const r = schema.safeParse(json);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new KipError('INVALID_BODY', `not a ${event} event payload: ${detail}`);
  }
  return r.data;
}

/**
 * The action of a GitHub (`X-GitHub-Event`) or GitLab (`X-Gitlab-Event`) event, or null
 * for a plain CI request (no event header). Pure: headers and parsed JSON in.
 */
export function providerAction(
  github: string | undefined,
  gitlab: string | undefined,
  json: unknown,
): ProviderAction | null {
  if (github !== undefined) {
    switch (github) {
      case 'ping':
        return { kind: 'ping' };
      case 'push': {
        const p = parse(pushSchema, json, 'GitHub push');
        if (ZERO.test(p.after)) return { kind: 'ignored', reason: `${p.ref} was deleted` };
        return { kind: 'push', ref: p.ref, commit: p.after };
      }
      case 'registry_package':
      case 'package': {
        const p = parse(packageSchema, json, `GitHub ${github}`);
        const pkg = p.registry_package ?? p.package;
        if (p.action !== 'published')
          return { kind: 'ignored', reason: `package action "${p.action}" deploys nothing` };
        const version = pkg?.package_version;
        const type = pkg?.package_type?.toLowerCase();
        if (!version?.package_url || (type !== undefined && type !== 'container' && type !== 'docker')) {
          return { kind: 'ignored', reason: 'not a container image package' };
        }
        return { kind: 'package', image: version.package_url, commit: sourceCommitOf(version) };
      }
      case 'pull_request':
        return {
          kind: 'proposal',
          branch: parse(pullRequestSchema, json, 'GitHub pull_request').pull_request.head.ref,
        };
      case 'check_suite': {
        const branch = parse(checkSuiteSchema, json, 'GitHub check_suite').check_suite.head_branch;
        return branch ? { kind: 'proposal', branch } : { kind: 'ignored', reason: 'a check suite of no branch' };
      }
      default:
        return { kind: 'ignored', reason: `GitHub event "${github}" deploys nothing` };
    }
  }
  if (gitlab !== undefined) {
    if (gitlab === 'Merge Request Hook')
      return {
        kind: 'proposal',
        branch: parse(mergeRequestSchema, json, 'GitLab Merge Request Hook').object_attributes.source_branch,
      };
    if (gitlab !== 'Push Hook') return { kind: 'ignored', reason: `GitLab event "${gitlab}" deploys nothing` };
    const p = parse(pushSchema, json, 'GitLab Push Hook');
    const commit = p.checkout_sha ?? p.after;
    if (ZERO.test(commit)) return { kind: 'ignored', reason: `${p.ref} was deleted` };
    return { kind: 'push', ref: p.ref, commit };
  }
  return null;
}

const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/i;

/**
 * The commit a published package was built from: GitHub's `target_oid`, else the OCI
 * `org.opencontainers.image.revision` label GitHub shows as `labels.revision`, else
 * `target_commitish` when it is a SHA (usually it names a branch).
 */
function sourceCommitOf(version: z.infer<typeof versionSchema>): string | undefined {
  const candidates = [version.target_oid, version.container_metadata?.labels?.revision, version.target_commitish];
  return candidates.find((c): c is string => typeof c === 'string' && SHA.test(c))?.toLowerCase();
}

/** A login as GitHub and GitLab spell them (letters, digits, `-`, `_`, `.`), at most 100 characters. */
const LOGIN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Who sent a provider event (docs/design.md "Who did it"): GitHub's `sender.login`,
 * GitLab's `user_username` (push hooks) or `user.username`. Undefined for a plain CI
 * request or a payload without a usable login.
 */
export function providerSender(
  github: string | undefined,
  gitlab: string | undefined,
  json: unknown,
): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const body = json as { sender?: { login?: unknown }; user_username?: unknown; user?: { username?: unknown } };
  const login =
    github !== undefined
      ? body.sender?.login
      : gitlab !== undefined
        ? (body.user_username ?? body.user?.username)
        : undefined;
  return typeof login === 'string' && LOGIN.test(login) ? login : undefined;
}
