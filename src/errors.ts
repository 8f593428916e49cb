/**
 * Typed errors with stable codes. Tests assert on `code`, never on message text;
 * the HTTP layer maps codes to statuses in one table (http/error-status.ts) and the
 * CLI maps them to exit codes in one place (cli/index.ts).
 */
export type KipErrorCode =
  // authorisation
  | 'UNAUTHORIZED' // webhook: one code for every failure, so callers cannot probe which apps exist
  | 'ADMIN_UNAUTHORIZED'
  | 'CSRF_INVALID' // a console POST without the token of its session
  | 'FORBIDDEN' // a signed-in person whose kipper.yaml `access:` role does not allow the action
  | 'TOO_MANY_REQUESTS'
  // request validation
  | 'INVALID_JSON'
  | 'INVALID_BODY'
  | 'INVALID_IMAGE'
  | 'INVALID_COMMIT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_FOUND'
  | 'READ_ONLY'
  | 'USAGE' // kip: a command line it cannot run (exit 2); never sent by the bridge
  // deploy semantics
  | 'APP_NOT_FOUND'
  | 'GIT_APP_IMAGE'
  | 'NO_IMAGE_TARGET'
  | 'AMBIGUOUS_TARGET' // `container:` names containers running different repositories: never guess which
  | 'YAML_PARSE_ERROR'
  | 'FILE_NOT_FOUND'
  | 'REVISION_NOT_FOUND'
  | 'NOTHING_TO_ROLL_BACK'
  | 'ALREADY_CURRENT'
  | 'NO_SOURCE_IMAGE'
  | 'APP_AMBIGUOUS' // two config repos list the app: none deploys it until one drops it
  | 'SUPERSEDED' // a retry of a webhook deploy that a newer revision replaced: never moves the app backwards
  | 'APP_LOCKED' // the app is locked (`kip app lock`): its webhook deploys nothing
  | 'ROLLOUT_FAILED' // ?wait=: the revision came up degraded or its sync failed
  | 'ROLLOUT_TIMEOUT' // ?wait=: it did not settle in time
  | 'PR_CLOSED' // pull-request mode: the proposal was closed unmerged
  // configuration and infrastructure
  | 'CONFIG_INVALID'
  | 'REPO_UNAVAILABLE'
  | 'PUSH_REJECTED' // the branch kept moving under us: every push lost its compare-and-swap
  | 'PUSH_DECLINED' // the remote refused the push for policy (a hook, a protected branch): never retried
  | 'SHUTTING_DOWN' // a request on a kept-alive connection after SIGTERM
  | 'BRIDGE_UNREACHABLE'
  | 'HOST_API_FAILED' // pull-request mode: the git host's API refused or failed a call
  | 'INTERNAL';

export class KipError extends Error {
  readonly code: KipErrorCode;
  readonly data: Record<string, unknown>;

  constructor(code: KipErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = 'KipError';
    this.code = code;
    this.data = data;
  }
}

/** True when `err` is a KipError, optionally with the given code. */
export function isKipError(err: unknown, code?: KipErrorCode): err is KipError {
  return err instanceof KipError && (code === undefined || err.code === code);
}
