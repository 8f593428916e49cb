// What the run URL is built from goes into a commit trailer: one line, no surprises.
const NUMBER = /^\d{1,20}$/;
const PROJECT = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

/**
 * The URL of the CI run a verified ID token names (`Kipper-Run`), or undefined when the
 * token is neither GitHub's nor GitLab's shape. GitHub: `<server_url>/<repository>/actions/runs/<run_id>`,
 * where the token has no server URL: github.com for its issuer (with or without an
 * enterprise slug), `https://<host>` for GitHub Enterprise Server (`https://<host>/_services/token`),
 * `https://<name>.ghe.com` for `https://token.actions.<name>.ghe.com`. GitLab:
 * `<issuer>/<project_path>/-/pipelines/<pipeline_id>`.
 */
export function ciRunUrl(claims: Record<string, unknown>): string | undefined {
  const { iss, repository, run_id: runId, project_path: projectPath, pipeline_id: pipelineId } = claims;
  if (typeof iss !== 'string') return undefined;
  if (typeof repository === 'string' && PROJECT.test(repository) && typeof runId === 'string' && NUMBER.test(runId)) {
    const server = githubServer(iss);
    return server && `${server}/${repository}/actions/runs/${runId}`;
  }
  const pipeline = typeof pipelineId === 'number' ? String(pipelineId) : pipelineId;
  if (
    typeof projectPath === 'string' &&
    PROJECT.test(projectPath) &&
    typeof pipeline === 'string' &&
    NUMBER.test(pipeline)
  ) {
    return `${iss.replace(/\/+$/, '')}/${projectPath}/-/pipelines/${pipeline}`;
  }
  return undefined;
}

function githubServer(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return undefined;
  }
  if (url.host === 'token.actions.githubusercontent.com') return 'https://github.com';
  const ghe = /^token\.actions\.([a-z0-9-]+)\.ghe\.com$/.exec(url.host);
  if (ghe) return `https://${ghe[1]}.ghe.com`;
  return `${url.origin}${url.pathname.replace(/\/?_services\/token\/?$/, '').replace(/\/+$/, '')}`;
}
