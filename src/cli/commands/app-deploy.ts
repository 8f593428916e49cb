import type { CommitDeployAnswer, DeployAnswer } from '../../api-types.js';
import { KipError, isKipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { reasonOf, resolveApp, type AppOptions } from '../args.js';

type DeployResponse = DeployAnswer | CommitDeployAnswer;

function describe(name: string, res: DeployResponse, verb: string): string {
  // Pull-request mode: deployed once the pull request is merged.
  if (res.status === 'proposed' && res.pullRequest)
    return `✔ Proposed ${name}: ${res.image ?? res.commit} in pull request #${res.pullRequest.number}: ${res.pullRequest.url}`;
  const rev = res.revision === null ? '' : ` (revision #${res.revision})`;
  if (res.image === null) {
    // A git-source app: the commit is recorded; the cluster side now builds it.
    if (res.status === 'unchanged') return `✔ ${name} already at commit ${res.commit}${rev}: unchanged`;
    return `✔ ${verb} ${name} to commit ${res.commit}${rev}: building`;
  }
  if (res.status === 'unchanged') return `✔ ${name} already runs ${res.image}${rev}`;
  return `✔ ${verb} ${name}: ${res.image}${rev}`;
}

/**
 * `kip app update <app> --image REF [--commit SHA] [--reason TEXT]`, or `--commit SHA` for a git-source app:
 * a manual deploy (trigger `manual`). The bridge decides which the app takes; its refusals
 * are reworded here into the flags to use.
 */
export async function appUpdate(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  if (!options.image && !options.commit) {
    throw new KipError(
      'USAGE',
      'say what to deploy: kip app update <app> --image REF [--commit SHA], or --commit SHA for a git-source app',
    );
  }
  const reason = reasonOf(options, undefined);
  const body = {
    ...(options.image ? { image: options.image } : {}),
    ...(options.commit ? { commit: options.commit } : {}),
    ...(reason === undefined ? {} : { reason }),
    ...(options.direct ? { direct: true } : {}),
  };
  let res: DeployResponse;
  try {
    res = await client.request<DeployResponse>('POST', `/api/v1/apps/${id}/deploy`, body);
  } catch (err) {
    throw reworded(err, id, options);
  }
  if (options.json) return JSON.stringify(res, null, 2);
  return describe(name, res, 'Updated');
}

/** The bridge's deploy refusals speak JSON bodies; a CLI user needs the flag. */
function reworded(err: unknown, id: string, options: AppOptions): unknown {
  if (isKipError(err, 'GIT_APP_IMAGE')) {
    return new KipError(
      'GIT_APP_IMAGE',
      `${id} is a git-source app: deploy a commit with --commit SHA, without --image`,
      err.data,
    );
  }
  if (isKipError(err, 'INVALID_IMAGE') && !options.image) {
    return new KipError(
      'INVALID_IMAGE',
      `${id} is an image app: deploy with --image REF (--commit SHA then records its source commit)`,
      err.data,
    );
  }
  return err;
}

/**
 * `kip app promote <app> --project P --from ENV --to ENV [--reason TEXT]`: the current image of
 * `P-from/app` is deployed to `P-to/app` (trigger `promotion`).
 */
export async function appPromote(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const name = positionals[0];
  if (!name || !options.from || !options.to) {
    throw new KipError('USAGE', 'usage: kip app promote <app> --project P --from ENV --to ENV');
  }
  // --from/--to are environments of --project; with --namespace-style use they may be
  // whole namespaces.
  const ns = (env: string) => (options.project ? `${options.project}-${env}` : env);
  const reason = reasonOf(options, undefined);
  const res = await client.request<DeployAnswer>('POST', `/api/v1/apps/${ns(options.from)}/${name}/promote`, {
    to: ns(options.to),
    ...(reason === undefined ? {} : { reason }),
    ...(options.direct ? { direct: true } : {}),
  });
  if (options.json) return JSON.stringify(res, null, 2);
  if (res.status === 'proposed') return describe(`${name} in ${options.to}`, res, 'Promoted');
  const rev = res.revision === null ? '' : `, revision #${res.revision}`;
  if (res.status === 'unchanged')
    return `✔ ${name} in ${options.to} already runs ${res.image}${rev.replace(', ', ' (')}${rev ? ')' : ''}`;
  return `✔ Promoted ${name} from ${options.from} to ${options.to} (${res.image}${rev})`;
}
