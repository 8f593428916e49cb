/**
 * The config repo on a git server over smart HTTP (GitHub, GitLab, Gitea, http-backend).
 * https://git-scm.com/docs/gitprotocol-http
 *
 * fetch: one GET of the ref advertisement answers "did the head move?", the usual
 * answer before a write being no; only when it moved does `git fetch` run (shallow the
 * first time: writing needs only the head's trees). push: a thin receive-pack POST of
 * our own carrying only the new objects, with the old id as a compare-and-swap: one
 * request, where `git push` would negotiate first (README "How it writes to git").
 */
import { exchange, type Exchanged } from './http-exchange.js';
import { fetchWholeHistory } from './fetch-whole-history.js';
import { KipError } from '../errors.js';
import { ZERO_OID } from './git-objects.js';
import { configEnv } from './git-process.js';
import { Gitdir } from './gitdir.js';
import { parsePktLines } from './pkt-line.js';
import { readPushAnswer, receivePackRequest, unreachable } from './receive-pack.js';
import type { PushResult, Remote, RoundTrip } from './remote.js';
import type { CredentialSource } from './credentials/credential-source.js';
import { RemoteCredentials } from './remote-credentials.js';

/** Options of an HttpRemote. */
export interface HttpRemoteOptions {
  /** http(s) URL of the repo; `user:pass@` in it is accepted and never logged. */
  url: string;
  branch: string;
  /** Local bare repo used as the object store (created if missing). */
  gitdir: string;
  /** Basic-auth user name (default `x-access-token` with a token alone, what GitHub expects). */
  username?: string;
  /** Password or access token. */
  token?: string;
  /** Credentials that change (a token file, a GitHub App), instead of `username`/`token`. */
  credentials?: CredentialSource;
  /** Bound on each fetch and push, default 15 s. */
  timeoutMs?: number;
  /** Bound on `fetchFull` (the whole history can be large), default 5 min. */
  fullFetchTimeoutMs?: number;
}

const AGENT = 'kipper/0.1';

/** The config repo on a git smart-HTTP server. */
export class HttpRemote implements Remote {
  readonly gitdir: Gitdir;
  readonly description: string;
  private readonly url: string;
  private readonly ref: string;
  private readonly timeoutMs: number;
  private readonly fullFetchTimeoutMs: number;
  private readonly auth: RemoteCredentials;
  private readonly branch: string;
  /** The remote head as we last saw or pushed it; the local ref follows it before each `git fetch`. */
  private known: string | null | undefined;

  constructor(opts: HttpRemoteOptions) {
    this.auth = new RemoteCredentials({ ...opts, source: opts.credentials });
    this.url = this.auth.url;
    this.description = this.url;
    this.branch = opts.branch;
    this.ref = `refs/heads/${opts.branch}`;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.fullFetchTimeoutMs = opts.fullFetchTimeoutMs ?? 300_000;
    this.gitdir = new Gitdir(opts.gitdir, { branch: opts.branch, fsync: false });
  }

  /** Brings the branch head here (depth 1 the first time, then only what is new) and returns its id. */
  async fetch(signal?: AbortSignal): Promise<string> {
    this.known ??= await this.gitdir.readRef(this.ref);
    const advertised = await this.advertisedHead(signal);
    if (advertised === this.known) return advertised;
    await this.gitFetch(this.known === null ? ['--depth=1'] : [], this.timeoutMs, signal);
    return this.afterFetch();
  }

  /** Brings the branch's whole history (unshallows the local store) and returns the head id. */
  async fetchFull(): Promise<string> {
    this.known ??= await this.gitdir.readRef(this.ref);
    return fetchWholeHistory(
      this.gitdir,
      (args, into) => this.gitFetch(args, this.fullFetchTimeoutMs, undefined, into),
      () => this.unavailable('no head', `${this.description} gave no ${this.ref}`),
    );
  }

  /**
   * Compare-and-swap push over git's receive-pack protocol: one POST whose body is the
   * ref update `<old> <new> <ref>` and a pack of exactly `newObjects`. receive-pack locks
   * the ref and moves it only if it still equals `old`, so a concurrent writer makes this
   * `rejected`, never overwritten. Ref discovery (the GET clients run first) is skipped:
   * the old id is the very value we swap on, report-status is in every receive-pack, and
   * smart HTTP is stateless. https://git-scm.com/docs/gitprotocol-pack#_pushing_data_to_a_server
   */
  async push(
    oldOid: string,
    newOid: string,
    newObjects: string[],
    signal?: AbortSignal,
    roundTrip?: RoundTrip,
  ): Promise<PushResult> {
    const pushed = await this.pushRef(this.ref, oldOid, newOid, newObjects, signal, roundTrip);
    if (pushed.ok) this.known = newOid;
    return pushed;
  }

  /**
   * The same compare-and-swap on another ref of the remote (pull-request mode's
   * `refs/heads/kipper/<namespace>/<app>`): `oldOid` ZERO_OID creates it, and only if
   * it does not exist yet.
   */
  async pushRef(
    ref: string,
    oldOid: string,
    newOid: string,
    newObjects: string[],
    signal?: AbortSignal,
    roundTrip?: RoundTrip,
  ): Promise<PushResult> {
    const pack = await this.gitdir.pack(newObjects);
    const body = receivePackRequest(oldOid, newOid, ref, pack);
    let res: Answer;
    const sent = performance.now();
    try {
      res = await this.request('git-receive-pack', signal, {
        body,
        headers: {
          'Content-Type': 'application/x-git-receive-pack-request',
          Accept: 'application/x-git-receive-pack-result',
        },
      });
    } catch (err) {
      return unreachable(
        this.auth.networkAnswer(err),
        `push to ${this.description} failed: ${this.auth.describe(err, this.timeoutMs)}`,
      );
    }
    if (res.status === 401 || res.status === 403)
      return unreachable(`HTTP ${res.status}`, this.auth.refused(res.status, 'push to', this.description, res.sent));
    if (res.status !== 200)
      return unreachable(`HTTP ${res.status}`, `push to ${this.description} failed: HTTP ${res.status}`);
    if (!res.type.startsWith('application/x-git-receive-pack-result')) {
      return unreachable(
        `HTTP 200 ${res.type || 'untyped'}`,
        `push to ${this.description} got a ${res.type || 'untyped'} answer, not git's: is KIPPER_REPO_URL the repo's clone URL?`,
      );
    }
    roundTrip?.(performance.now() - sent);
    return readPushAnswer(res.bytes, { ref, description: this.description, redact: this.auth.redact.bind(this.auth) });
  }

  /** Where `ref` points in the remote now (the ref advertisement), or null when it does not exist. */
  async lookRef(ref: string, signal?: AbortSignal): Promise<string | null> {
    let res: Answer;
    try {
      res = await this.request('info/refs?service=git-upload-pack', signal);
    } catch (err) {
      throw this.unavailable(
        this.auth.networkAnswer(err),
        `fetch from ${this.description} failed: ${this.auth.describe(err, this.timeoutMs)}`,
      );
    }
    if (res.status !== 200)
      throw this.unavailable(`HTTP ${res.status}`, `fetch from ${this.description} failed: HTTP ${res.status}`, {
        status: res.status,
      });
    for (const line of parsePktLines(res.bytes)) {
      if (line === null || line.startsWith('#')) continue;
      if (line.indexOf(' ') === 40 && line.slice(41).split('\0')[0] === ref) return line.slice(0, 40);
    }
    return null;
  }

  /** The credentials of the remote: the host's API takes the same token. */
  get credentials(): Pick<CredentialSource, 'header'> {
    return this.auth;
  }

  /** `git fetch <args> <url> +ref:ref`, credentials in the environment only; the local ref first follows our pushes. */
  private async gitFetch(args: string[], timeoutMs: number, signal?: AbortSignal, into = this.ref): Promise<void> {
    const local = await this.gitdir.readRef(this.ref);
    if (this.known && this.known !== local) await this.gitdir.updateRef(this.ref, this.known, null);
    // A transfer slower than 1 KB/s for the whole time limit is given up by git itself too.
    const settings: Array<[string, string]> = [
      ['http.lowSpeedLimit', '1000'],
      ['http.lowSpeedTime', String(Math.ceil(timeoutMs / 1000))],
    ];
    const run = async () => {
      const header = await this.auth.header();
      const env = configEnv(header ? [...settings, ['http.extraHeader', `Authorization: ${header}`]] : settings);
      try {
        await this.gitdir.fetch([...args, this.url, `+${this.ref}:${into}`], {
          env,
          timeoutMs,
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        // The token went stale between our GET and git's (revoked, rotated): fresh credentials, once.
        if (header && refusedByServer(err) && (await this.auth.refresh(header))) return false;
        throw err;
      }
      return true;
    };
    try {
      if (!(await run())) await run();
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'AbortError';
      const detail = this.auth.redact(err instanceof Error ? err.message : String(err));
      throw this.unavailable(
        timedOut ? 'timeout' : 'git fetch failed',
        timedOut ? `fetch from ${this.description} timed out` : `fetch from ${this.description}: ${detail}`,
        { detail },
      );
    }
  }

  private async afterFetch(): Promise<string> {
    const head = await this.gitdir.readRef(this.ref);
    if (head === null) throw this.unavailable('no head', `${this.description} gave no ${this.ref}`);
    this.known = head;
    return head;
  }

  /**
   * The branch head from the smart ref advertisement (`GET info/refs?service=git-upload-pack`,
   * https://git-scm.com/docs/gitprotocol-http#_smart_clients). Throws REPO_UNAVAILABLE,
   * saying what to fix (credentials, URL, branch).
   */
  private async advertisedHead(signal?: AbortSignal): Promise<string> {
    let res: Answer;
    try {
      res = await this.request('info/refs?service=git-upload-pack', signal);
    } catch (err) {
      throw this.unavailable(
        this.auth.networkAnswer(err),
        `fetch from ${this.description} failed: ${this.auth.describe(err, this.timeoutMs)}`,
      );
    }
    const answer = `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403)
      throw this.unavailable(answer, this.auth.refused(res.status, 'fetch from', this.description, res.sent), {
        status: res.status,
      });
    if (res.status === 404)
      throw this.unavailable(answer, `${this.description} was not found (HTTP 404): check KIPPER_REPO_URL`, {
        status: 404,
      });
    if (res.status !== 200)
      throw this.unavailable(answer, `fetch from ${this.description} failed: HTTP ${res.status}`, {
        status: res.status,
      });
    const notGit = () =>
      this.unavailable(
        'not git',
        `${this.description} did not answer as a git smart-HTTP server: is KIPPER_REPO_URL the repo's clone URL?`,
      );
    if (res.type !== 'application/x-git-upload-pack-advertisement') throw notGit();
    let lines;
    try {
      lines = parsePktLines(res.bytes);
    } catch {
      throw notGit();
    }
    for (const line of lines) {
      // "<oid> <ref>[\0<capabilities>]"; the "# service=…" banner and flushes are skipped.
      if (line === null || line.startsWith('#')) continue;
      const space = line.indexOf(' ');
      if (space === 40 && line.slice(space + 1).split('\0')[0] === this.ref && line.slice(0, 40) !== ZERO_OID)
        return line.slice(0, 40);
    }
    throw this.unavailable(
      'no such branch',
      `branch ${this.branch} does not exist in ${this.description}: check KIPPER_REPO_BRANCH (an empty repo needs a first commit with kipper.yaml)`,
    );
  }

  /**
   * One request with the credentials of the moment. A 401 to credentials that were sent
   * (a revoked or rotated token) gets fresh ones at once and the request is sent once
   * more: a push is safe to repeat, its ref update is a compare-and-swap.
   */
  private async request(path: string, signal: AbortSignal | undefined, init: PostInit = {}): Promise<Answer> {
    const header = await this.auth.header();
    const res = await this.requestOnce(path, signal, init, header);
    if (res.status !== 401 || header === undefined || !(await this.auth.refresh(header))) return res;
    return this.requestOnce(path, signal, init, await this.auth.header());
  }

  private async requestOnce(
    path: string,
    signal: AbortSignal | undefined,
    init: PostInit,
    header: string | undefined,
  ): Promise<Answer> {
    const res = await exchange(new URL(`${this.url}/${path}`), {
      ...(init.body ? { method: 'POST', body: init.body } : {}),
      // Some servers only speak the smart protocol to user agents starting "git/".
      headers: { ...(header ? { Authorization: header } : {}), 'User-Agent': `git/${AGENT}`, ...init.headers },
      timeoutMs: this.timeoutMs,
      signal,
    });
    return { ...res, sent: header !== undefined };
  }

  /** REPO_UNAVAILABLE with what the remote answered (`data.answer`, for logs), redacted. */
  private unavailable(answer: string, message: string, extra: Record<string, unknown> = {}): KipError {
    return new KipError('REPO_UNAVAILABLE', this.auth.redact(message), {
      remote: this.description,
      branch: this.branch,
      answer: this.auth.redact(answer),
      ...extra,
    });
  }
}

/** A remote's answer to one request; `sent`: whether it carried credentials. */
interface Answer extends Exchanged {
  /** Credentials went with it. */
  sent: boolean;
}

/** A receive-pack POST: its body and headers. */
interface PostInit {
  body?: Uint8Array;
  headers?: Record<string, string>;
}

/** git's words for a 401 (it has no credential helper and no terminal to ask on). */
function refusedByServer(err: unknown): boolean {
  const text = err instanceof Error ? err.message : String(err);
  return /Authentication failed|could not read Username|returned error: 401/i.test(text);
}
