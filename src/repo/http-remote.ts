/**
 * The config repo on a git server over smart HTTP (GitHub, GitLab, Gitea, http-backend).
 *
 * fetch: isomorphic-git's fetch into the local bare gitdir, shallow: writing needs only
 * the head's trees. push: a thin receive-pack request of our own, carrying only the
 * new objects, because isomorphic-git's `push` walks whole trees to find what to send
 * (DESIGN.md, "Writing to git").
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { gitFs } from './git-fs.js';
import { nativeGitAvailable, runGit } from './native-git.js';
import * as git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { KipError } from '../errors.js';
import { ObjectStore } from './object-store.js';
import { FLUSH_PKT, parsePktLines, parseReportStatus, pktLine } from './pkt-line.js';
import type { PushResult, Remote } from './remote.js';

/** Options of an HttpRemote. */
export interface HttpRemoteOptions {
  /** http(s) URL of the repo; `user:pass@` in it is accepted and never logged. */
  url: string;
  branch: string;
  /** Local bare repo used as the object store (created if missing). */
  gitdir: string;
  /**
   * Basic-auth user name. With only a token, `x-access-token` is sent: what GitHub
   * expects for app installation tokens, and accepted with personal access tokens.
   * Servers that check the name (e.g. Gitea, Bitbucket) need it set explicitly.
   */
  username?: string;
  /** Password or access token. */
  token?: string;
  /** Bound on each fetch and push, default 15 s. */
  timeoutMs?: number;
  /** Bound on `fetchFull` (the whole history can be large), default 5 min. */
  fullFetchTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_FULL_FETCH_TIMEOUT_MS = 300_000;
const AGENT = 'kipper/0.1';
/** User name sent when only a token is configured. */
export const TOKEN_ONLY_USERNAME = 'x-access-token';
/** What `git fetch --unshallow` sends as `deepen`: "everything". */
const UNSHALLOW_DEPTH = 2147483647;

/** The config repo on a git smart-HTTP server. */
export class HttpRemote implements Remote {
  readonly store: ObjectStore;
  readonly description: string;
  private readonly url: string;
  private readonly branch: string;
  private readonly timeoutMs: number;
  private readonly fullFetchTimeoutMs: number;
  private readonly authHeaders: Record<string, string> = {};
  private readonly secrets: string[] = [];
  private readonly hasCredentials: boolean;
  private initialised: Promise<void> | undefined;

  constructor(opts: HttpRemoteOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      // Not echoing the value: it may carry a password.
      throw new KipError('CONFIG_INVALID', 'KIPPER_REPO_URL is not a valid URL: use https://host/owner/repo.git');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new KipError('CONFIG_INVALID', `KIPPER_REPO_URL must be http:// or https://, not ${parsed.protocol}`);
    }
    let urlUser: string;
    let urlPassword: string;
    try {
      urlUser = decodeURIComponent(parsed.username);
      urlPassword = decodeURIComponent(parsed.password);
    } catch {
      throw new KipError('CONFIG_INVALID', 'KIPPER_REPO_URL has badly %-encoded credentials: set KIPPER_GIT_USERNAME and KIPPER_GIT_TOKEN instead');
    }
    parsed.username = '';
    parsed.password = '';
    parsed.hash = '';
    parsed.search = '';
    this.url = parsed.toString().replace(/\/+$/, '');
    this.description = this.url;
    this.branch = opts.branch;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fullFetchTimeoutMs = opts.fullFetchTimeoutMs ?? DEFAULT_FULL_FETCH_TIMEOUT_MS;
    this.store = new ObjectStore(opts.gitdir);

    const token = opts.token || urlPassword || '';
    const username = opts.username || urlUser || (token ? TOKEN_ONLY_USERNAME : '');
    this.hasCredentials = username !== '' || token !== '';
    if (this.hasCredentials) {
      const basic = Buffer.from(`${username}:${token}`, 'utf8').toString('base64');
      // Sent up front instead of through isomorphic-git's `onAuth`, which only answers
      // a 401 and so costs an extra round trip on every fetch.
      this.authHeaders.Authorization = `Basic ${basic}`;
      this.secrets.push(basic);
      if (token) this.secrets.push(token, encodeURIComponent(token));
    }
  }

  /** Fetches the branch head (depth 1 the first time, then only what is new) and returns its id. */
  fetch(signal?: AbortSignal): Promise<string> {
    return this.fetchHead(false, signal);
  }

  /** Fetches the branch's whole history (unshallows the local store) and returns the head id. */
  async fetchFull(): Promise<string> {
    if (!(await nativeGitAvailable())) return this.fetchHead(true);
    await this.init();
    // Native `git fetch --unshallow`: ~1 s and its own process for a 10,000-commit repo,
    // where isomorphic-git took 11 s and ~350 MB of this one. The credentials travel in
    // the environment (GIT_CONFIG_*), never on the command line, and gc stays off so no
    // pack disappears under isomorphic-git.
    await this.store.flush();
    const gitdir = this.store.gitdir;
    const shallow = await access(join(gitdir, 'shallow')).then(
      () => true,
      () => false,
    );
    const config: Array<[string, string]> = [
      ['gc.auto', '0'],
      ['maintenance.auto', 'false'],
      ['fetch.writeCommitGraph', 'false'],
    ];
    if (this.authHeaders.Authorization) config.push(['http.extraHeader', `Authorization: ${this.authHeaders.Authorization}`]);
    const env: Record<string, string> = { GIT_CONFIG_COUNT: String(config.length) };
    config.forEach(([k, v], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = k;
      env[`GIT_CONFIG_VALUE_${i}`] = v;
    });
    try {
      await this.store.withStablePacks(() =>
        runGit(
          ['--git-dir', gitdir, 'fetch', '--quiet', '--no-tags', '--update-head-ok', ...(shallow ? ['--unshallow'] : []), this.url, `+refs/heads/${this.branch}:refs/heads/${this.branch}`],
          { env, timeoutMs: this.fullFetchTimeoutMs },
        ),
      );
    } catch (err) {
      throw this.fetchError(new NativeFetchError(this.redact(err instanceof Error ? err.message : String(err))));
    }
    const head = await this.localHead();
    if (head === null) throw new KipError('REPO_UNAVAILABLE', `the full history of ${this.description} could not be read after fetching it`);
    return head;
  }

  /**
   * Compare-and-swap push over git's receive-pack protocol: one POST whose body is the
   * ref update `<old> <new> refs/heads/<branch>` and a pack of exactly `newObjects`.
   * git's receive-pack locks the ref and moves it only if it still equals `old`, so a
   * concurrent writer makes this `rejected`, never overwritten.
   * https://git-scm.com/docs/gitprotocol-pack#_pushing_data_to_a_server
   * https://git-scm.com/docs/gitprotocol-http#_smart_service_git_receive_pack
   */
  async push(oldOid: string, newOid: string, newObjects: string[], signal?: AbortSignal): Promise<PushResult> {
    const ref = `refs/heads/${this.branch}`;
    const pack = await this.store.pack(newObjects);
    // Capabilities ride after a NUL on the first command. No side-band: the answer
    // then comes as bare pkt-lines. gitprotocol-http has clients run ref discovery
    // (GET info/refs?service=git-receive-pack) first, to learn the old id and the
    // capabilities. We skip it: the old id is the very value we compare-and-swap on,
    // report-status is in every receive-pack, and smart HTTP is stateless, so
    // http-backend serves the POST on its own (the integration tests run exactly this).
    // One round trip and one server process fewer per deploy.
    const body = Buffer.concat([
      pktLine(`${oldOid} ${newOid} ${ref}\0report-status agent=${AGENT}`),
      FLUSH_PKT,
      Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength),
    ]);

    let status: number;
    let contentType: string;
    let bytes: Uint8Array;
    try {
      const res = await fetch(`${this.url}/git-receive-pack`, {
        method: 'POST',
        headers: {
          ...this.authHeaders,
          'Content-Type': 'application/x-git-receive-pack-request',
          Accept: 'application/x-git-receive-pack-result',
          // Some servers only speak the smart protocol to user agents starting "git/".
          'User-Agent': `git/${AGENT}`,
        },
        body,
        signal: this.deadline(signal),
      });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      const answer = networkAnswer(err);
      return unreachable(answer, this.redact(`push to ${this.description} failed: ${describeNetworkError(err, this.timeoutMs)}`));
    }

    if (status === 401 || status === 403) return unreachable(`HTTP ${status}`, this.credentialsDetail(status, 'push to'));
    if (status !== 200) return unreachable(`HTTP ${status}`, `push to ${this.description} failed: HTTP ${status}`);
    if (!contentType.startsWith('application/x-git-receive-pack-result')) {
      return unreachable(
        `HTTP 200 ${contentType || 'untyped'}`,
        `push to ${this.description} got a ${contentType || 'untyped'} answer, not git's: is KIPPER_REPO_URL the repo's clone URL?`,
      );
    }

    let report;
    try {
      report = parseReportStatus(bytes);
    } catch (err) {
      return unreachable('unreadable answer', `push to ${this.description}: unreadable answer (${(err as Error).message})`);
    }
    if (report.error !== undefined) {
      return unreachable('ERR', this.redact(`push to ${this.description}: server error: ${report.error}`));
    }
    const refStatus = report.refs.get(ref);
    if (report.unpack !== 'ok') {
      // The server answered but could not take the pack (fsck of our objects, quota):
      // not a network problem, and retrying on a fresh head is the caller's bounded loop.
      const reason = this.redact(report.unpack || 'no status');
      return { ok: false, kind: 'rejected', answer: `unpack ${reason}`, detail: `remote could not unpack the push: ${reason}` };
    }
    if (refStatus === undefined) {
      return unreachable('no ref status', `push to ${this.description}: no status for ${ref} in the answer`);
    }
    if (refStatus !== null) {
      // non-fast-forward, fetch first, failed to update ref / cannot lock ref (the CAS
      // lost), stale info, hook declined: someone else moved the branch or said no.
      const reason = this.redact(refStatus);
      return { ok: false, kind: 'rejected', answer: reason, detail: `${ref} rejected: ${reason}` };
    }
    // Our view of the remote head, so the next fetch offers it as a "have".
    await this.setLocalHead(newOid).catch(() => undefined);
    return { ok: true };
  }

  private async fetchHead(full: boolean, signal?: AbortSignal): Promise<string> {
    await this.init();
    const local = await this.localHead();
    if (!full && local !== null) {
      // The usual case before a write: nothing changed. One GET of the ref
      // advertisement answers that; only when the head moved do we pay for
      // isomorphic-git's negotiation (a second GET and a POST that packs on the server).
      const advertised = await this.advertisedHead(signal);
      if (advertised === local) return local;
    }
    // isomorphic-git reads our objects from disk (the "haves" it offers).
    await this.store.flush();
    // depth 1 the first time (what the write path needs: the head's trees); afterwards
    // no depth: our head is sent as a "have", so only new commits come. Full: deepen
    // to "everything" from the shallow boundary, like `git fetch --unshallow`.
    const depth = full ? UNSHALLOW_DEPTH : local === null ? 1 : undefined;
    const timeoutMs = full ? this.fullFetchTimeoutMs : this.timeoutMs;
    // isomorphic-git has no timeout of its own: the race answers at the deadline, and
    // the aborted signal tears its sockets down.
    const controller = new AbortController();
    const limit = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]);
    let onAbort: () => void = () => undefined;
    const timeout = new Promise<never>((_, reject) => {
      onAbort = () => {
        controller.abort();
        reject(new TimeoutError(timeoutMs));
      };
      limit.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([
        // No pack of ours is deleted (merged away) while isomorphic-git walks the packs.
        this.store.withStablePacks(() => git.fetch({
          fs: gitFs,
          http: { request: (req) => http.request({ ...req, signal: controller.signal }) },
          gitdir: this.store.gitdir,
          url: this.url,
          ref: this.branch,
          remoteRef: this.branch,
          singleBranch: true,
          tags: false,
          ...(depth === undefined ? {} : { depth }),
          headers: { ...this.authHeaders, 'User-Agent': `git/${AGENT}` },
          cache: this.store.gitCache,
        })),
        timeout,
      ]);
      if (!result.fetchHead) {
        throw new KipError('REPO_UNAVAILABLE', `${this.description} is empty: push a first commit with kipper.yaml to branch ${this.branch}`, {
          remote: this.description,
          branch: this.branch,
        });
      }
      await this.setLocalHead(result.fetchHead);
      return result.fetchHead;
    } catch (err) {
      throw this.fetchError(err);
    } finally {
      limit.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The branch head from the smart ref advertisement (`GET info/refs?service=git-upload-pack`,
   * https://git-scm.com/docs/gitprotocol-http#_smart_clients). Throws REPO_UNAVAILABLE.
   */
  private async advertisedHead(signal?: AbortSignal): Promise<string> {
    let status: number;
    let contentType: string;
    let bytes: Uint8Array;
    try {
      const res = await fetch(`${this.url}/info/refs?service=git-upload-pack`, {
        headers: { ...this.authHeaders, 'User-Agent': `git/${AGENT}` },
        signal: this.deadline(signal),
      });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw this.unavailable(networkAnswer(err), `fetch from ${this.description} failed: ${describeNetworkError(err, this.timeoutMs)}`);
    }
    if (status !== 200) throw this.statusError(status);
    if (contentType !== 'application/x-git-upload-pack-advertisement') throw this.notSmartError();
    let lines;
    try {
      lines = parsePktLines(bytes);
    } catch {
      throw this.notSmartError();
    }
    const ref = `refs/heads/${this.branch}`;
    for (const line of lines) {
      // "<oid> <ref>[\0<capabilities>]"; the "# service=…" banner and flushes are skipped.
      if (line === null || line.startsWith('#')) continue;
      const space = line.indexOf(' ');
      const name = line.slice(space + 1).split('\0')[0];
      if (space === 40 && name === ref) return line.slice(0, 40);
    }
    throw this.branchMissingError();
  }

  private init(): Promise<void> {
    this.initialised ??= (async () => {
      const gitdir = this.store.gitdir;
      await ObjectStore.init(gitdir, this.branch);
      // isomorphic-git's fetch refuses to run without a fetch refspec for its remote
      // (NoRefspecError). The URL is stored without credentials, for humans poking around.
      await git.setConfig({ fs: gitFs, gitdir, path: 'remote.origin.url', value: this.url });
      await git.setConfig({ fs: gitFs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
    })();
    return this.initialised;
  }

  /** Our last known remote head (refs/heads/<branch> in the local store), if its commit is here. */
  private async localHead(): Promise<string | null> {
    try {
      const oid = await git.resolveRef({ fs: gitFs, gitdir: this.store.gitdir, ref: `refs/heads/${this.branch}` });
      await this.store.readCommit(oid);
      return oid;
    } catch {
      return null;
    }
  }

  private async setLocalHead(oid: string): Promise<void> {
    await git.writeRef({ fs: gitFs, gitdir: this.store.gitdir, ref: `refs/heads/${this.branch}`, value: oid, force: true });
  }

  private fetchError(err: unknown): KipError {
    if (err instanceof KipError) return err;
    if (err instanceof TimeoutError) return this.unavailable('timeout', `fetch from ${this.description} timed out after ${err.ms} ms`);
    if (err instanceof NativeFetchError) return this.unavailable('git fetch failed', err.message);
    // isomorphic-git errors carry a stable `code` (its errors/BaseError.js).
    const code = (err as { code?: unknown }).code;
    if (code === 'HttpError') {
      return this.statusError((err as { data?: { statusCode?: number } }).data?.statusCode ?? 0);
    }
    // Raised by isomorphic-git when the wanted ref is not among the advertised ones.
    if (code === 'NotFoundError' && (err as { data?: { what?: unknown } }).data?.what === this.branch) {
      return this.branchMissingError();
    }
    if (code === 'SmartHttpError') return this.notSmartError();
    return this.unavailable(networkAnswer(err), `fetch from ${this.description} failed: ${describeNetworkError(err, this.timeoutMs)}`);
  }

  private statusError(status: number): KipError {
    const answer = `HTTP ${status}`;
    if (status === 401 || status === 403) return this.unavailable(answer, this.credentialsDetail(status, 'fetch from'), { status });
    if (status === 404) return this.unavailable(answer, `${this.description} was not found (HTTP 404): check KIPPER_REPO_URL`, { status });
    return this.unavailable(answer, `fetch from ${this.description} failed: HTTP ${status}`, { status });
  }

  private branchMissingError(): KipError {
    return this.unavailable('no such branch', `branch ${this.branch} does not exist in ${this.description}: check KIPPER_REPO_BRANCH`);
  }

  private notSmartError(): KipError {
    return this.unavailable('not git', `${this.description} did not answer as a git smart-HTTP server: is KIPPER_REPO_URL the repo's clone URL?`);
  }

  /** REPO_UNAVAILABLE with what the remote answered (`data.answer`, for logs), redacted. */
  private unavailable(answer: string, message: string, extra: Record<string, unknown> = {}): KipError {
    return new KipError('REPO_UNAVAILABLE', this.redact(message), { remote: this.description, branch: this.branch, answer: this.redact(answer), ...extra });
  }

  /** The remote's own time limit, cut short by the caller's `signal` (a deploy's deadline). */
  private deadline(signal: AbortSignal | undefined): AbortSignal {
    const limit = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([limit, signal]) : limit;
  }

  private credentialsDetail(status: number, action: string): string {
    return this.hasCredentials
      ? `${action} ${this.description}: the server refused the credentials (HTTP ${status}); check KIPPER_GIT_USERNAME and KIPPER_GIT_TOKEN`
      : `${action} ${this.description}: the server wants credentials (HTTP ${status}); set KIPPER_GIT_TOKEN (and KIPPER_GIT_USERNAME if needed)`;
  }

  /** Belt and braces: no secret leaves this class, whatever a lower layer put in a message. */
  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}

class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** `git fetch` (native) failed; its message is already redacted. */
class NativeFetchError extends Error {}

function unreachable(answer: string, detail: string): PushResult {
  return { ok: false, kind: 'unreachable', answer, detail };
}

/** What a failed request got, in a word: `timeout`, or the socket error's code (`ECONNREFUSED`). */
function networkAnswer(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause : err;
  return (inner as NodeJS.ErrnoException).code ?? inner.name;
}

/** One line on why a request failed: timeout, refused connection, DNS, TLS. */
function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
    // undici wraps the socket error as `cause` ("fetch failed" alone says nothing).
    const cause = (err as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? cause : err;
    const code = (inner as NodeJS.ErrnoException).code;
    return code ? `${code} ${inner.message}` : inner.message;
  }
  return String(err);
}
