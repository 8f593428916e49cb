/**
 * SSH remote URLs as git reads them (https://git-scm.com/docs/git-clone#_git_urls):
 * `ssh://[user@]host[:port]/path` and the scp-like `user@host:path`.
 */

/** Where an SSH remote is: the login, the host, the port (undefined: 22) and the repo path as the server's shell sees it. */
export interface SshUrl {
  user: string | undefined;
  host: string;
  port: number | undefined;
  path: string;
}

// A host or user starting with "-" would be read by ssh as an option.
const USER = '[A-Za-z0-9._][A-Za-z0-9._+-]*';
const HOST = '\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_][A-Za-z0-9._-]*';
const SSH_URL = new RegExp(`^ssh://(?:(${USER})@)?(${HOST})(?::(\\d{1,5}))?(/[^\\s]*)$`);
const SCP_LIKE = new RegExp(`^(${USER})@(${HOST}):([^\\s/][^\\s]*|/[^\\s]+)$`);

/** True when `url` is an SSH remote URL (it may still be invalid: see parseSshUrl). */
export function isSshUrl(url: string): boolean {
  return url.startsWith('ssh://') || (!url.includes('://') && SCP_LIKE.test(url));
}

/** The parts of an SSH URL, or undefined when it is not one git and ssh would both read the same way. */
export function parseSshUrl(url: string): SshUrl | undefined {
  const full = SSH_URL.exec(url);
  if (full) {
    const port = full[3] === undefined ? undefined : Number(full[3]);
    if (port !== undefined && (port < 1 || port > 65535)) return undefined;
    // git: ssh://host/~user/repo is ~user/repo on the server (the path after the host, less its "/").
    const path = full[4]!.startsWith('/~') ? full[4]!.slice(1) : full[4]!;
    return { user: full[1], host: unbracket(full[2]!), port, path };
  }
  if (url.includes('://')) return undefined;
  const scp = SCP_LIKE.exec(url);
  if (scp) return { user: scp[1], host: unbracket(scp[2]!), port: undefined, path: scp[3]! };
  return undefined;
}

function unbracket(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
