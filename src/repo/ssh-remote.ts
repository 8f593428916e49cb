/**
 * The config repo on a git server over SSH (a deploy key, as Flux and Argo CD use).
 * https://git-scm.com/docs/gitprotocol-pack (the same receive-pack protocol as HTTP, over
 * one ssh session)
 *
 * The host key is checked against KIPPER_GIT_KNOWN_HOSTS alone, at startup and by ssh on
 * every connection (StrictHostKeyChecking=yes): never accepted on first use. fetch runs
 * `git fetch` over ssh (shallow the first time). push runs `ssh … git-receive-pack '<path>'`
 * itself and writes the ref update `<old> <new> <ref>` and the pack without waiting for the
 * ref advertisement: one session, and the server's ref update is a compare-and-swap on the
 * old id our edit was built on (what `git push` cannot express besides --force-with-lease,
 * which needs a second process and a negotiation).
 */
import { fetchWholeHistory } from './fetch-whole-history.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../errors.js';
import { gitEnv, runProcess, type Finished } from './git-process.js';
import { Gitdir } from './gitdir.js';
import { readPushAnswer, receivePackRequest, unreachable } from './receive-pack.js';
import type { PushResult, Remote, RoundTrip } from './remote.js';

/** Where an SSH remote is (config/ssh-url.ts reads it from the URL). */
export interface SshTarget {
  user: string | undefined;
  host: string;
  /** undefined: 22. */
  port: number | undefined;
  /** The repo path as the server's shell sees it. */
  path: string;
}

/** How known_hosts names the host: `host`, or `[host]:port` for a port other than 22. */
export function knownHostsName(target: SshTarget): string {
  return target.port === undefined || target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
}

/** Options of an SshRemote. */
export interface SshRemoteOptions {
  /** `ssh://[user@]host[:port]/path` or `user@host:path`, as git reads it. */
  url: string;
  /** The same URL taken apart. */
  target: SshTarget;
  branch: string;
  /** Local bare repo used as the object store (created if missing). */
  gitdir: string;
  /** Path of the OpenSSH private key (KIPPER_GIT_SSH_KEY). */
  key: string;
  /** Path of the known_hosts file that must name the host (KIPPER_GIT_KNOWN_HOSTS). */
  knownHosts: string;
  /**
   * Where the shared connection's socket goes (the data dir, mode 0700: whoever can open
   * it can use the connection). Unset, or too long a path for a Unix socket: a new
   * connection for every fetch and push.
   */
  controlDir?: string;
  /** Bound on each fetch and push, default 15 s. */
  timeoutMs?: number;
  /** Bound on `fetchFull`, default 5 min. */
  fullFetchTimeoutMs?: number;
}

/** What ssh and git said, in a few words for logs, and what to fix. */
interface Failure {
  answer: string;
  message: string;
}

/** The config repo on a git server reached over SSH. */
export class SshRemote implements Remote {
  readonly gitdir: Gitdir;
  readonly description: string;
  private readonly target: SshTarget;
  private readonly ref: string;
  private readonly timeoutMs: number;
  private readonly fullFetchTimeoutMs: number;
  /** The remote head as we last saw or pushed it; the local ref follows it before each `git fetch`. */
  private known: string | null | undefined;
  /** The shared connection's socket; undefined: every call connects on its own. */
  private readonly controlPath: string | undefined;
  private master: ChildProcess | null = null;
  private stopOnExit = false;

  private constructor(private readonly opts: SshRemoteOptions) {
    // A Unix socket path has at most 107 bytes on Linux.
    const socket = opts.controlDir === undefined ? undefined : join(opts.controlDir, 'ssh.sock');
    this.controlPath = socket !== undefined && Buffer.byteLength(socket) < 100 ? socket : undefined;
    this.target = opts.target;
    this.description = opts.url;
    this.ref = `refs/heads/${opts.branch}`;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.fullFetchTimeoutMs = opts.fullFetchTimeoutMs ?? 300_000;
    this.gitdir = new Gitdir(opts.gitdir, { branch: opts.branch, fsync: false });
  }

  /**
   * Checks the key and known_hosts files and that the host is in known_hosts, then makes
   * the remote. Throws CONFIG_INVALID naming the variable to fix: startup stops there.
   */
  static async open(opts: SshRemoteOptions): Promise<SshRemote> {
    const head = await firstBytes(
      opts.key,
      'KIPPER_GIT_SSH_KEY',
      'the path of the deploy key (an OpenSSH private key)',
    );
    // Only the header is looked at, and nothing of the file is ever printed.
    if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(head)) {
      throw new KipError(
        'CONFIG_INVALID',
        'KIPPER_GIT_SSH_KEY is not a private key file: give the path of an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)',
      );
    }
    await firstBytes(
      opts.knownHosts,
      'KIPPER_GIT_KNOWN_HOSTS',
      'the path of a known_hosts file with the git host’s key',
    );
    const name = knownHostsName(opts.target);
    if (!(await isKnownHost(name, opts.knownHosts))) {
      throw new KipError(
        'CONFIG_INVALID',
        `the SSH host ${name} is not in KIPPER_GIT_KNOWN_HOSTS: add the host's published key to that file (host keys are never accepted unchecked)`,
        { host: name },
      );
    }
    return new SshRemote(opts);
  }

  /** Brings the branch head here (depth 1 the first time, then only what is new) and returns its id. */
  async fetch(signal?: AbortSignal): Promise<string> {
    this.known ??= await this.gitdir.readRef(this.ref);
    await this.gitFetch(this.known === null ? ['--depth=1'] : [], this.timeoutMs, signal);
    const head = await this.gitdir.readRef(this.ref);
    if (head === null) throw this.unavailable('no head', `${this.description} gave no ${this.ref}`);
    this.known = head;
    return head;
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
   * Compare-and-swap push: one ssh session running git-receive-pack, sent `<old> <new> <ref>`
   * and a pack of exactly `newObjects` right away (the ref advertisement is read, not
   * waited for: the old id is the very value we swap on). receive-pack moves the ref only
   * if it still equals `old`.
   */
  async push(
    oldOid: string,
    newOid: string,
    newObjects: string[],
    signal?: AbortSignal,
    roundTrip?: RoundTrip,
  ): Promise<PushResult> {
    const pack = await this.gitdir.pack(newObjects);
    const request = receivePackRequest(oldOid, newOid, this.ref, pack);
    let out: Finished;
    const sent = performance.now();
    try {
      out = await this.ssh(['git-receive-pack', shellQuote(this.target.path)], request, this.timeoutMs, signal);
    } catch (err) {
      if (err instanceof Error && err.name === 'AbortError')
        return unreachable('timeout', `push to ${this.description} timed out`);
      return unreachable('no ssh', err instanceof Error ? err.message : String(err));
    }
    const answerAt = afterFirstFlush(out.stdout);
    if (answerAt === undefined) {
      // `ERR <reason>` in place of the advertisement: the server said why (a disabled repo, no access).
      const refusal = /^[0-9a-f]{4}ERR (.*)/.exec(out.stdout.toString('utf8', 0, 300))?.[1];
      const failure = this.failure(refusal ? `${refusal}\n${out.stderr}` : out.stderr, 'push to');
      return unreachable(failure.answer, failure.message);
    }
    roundTrip?.(performance.now() - sent);
    const result = readPushAnswer(out.stdout.subarray(answerAt), {
      ref: this.ref,
      description: this.description,
      redact: (s) => this.redact(s),
    });
    if (result.ok) this.known = newOid;
    return result;
  }

  /** `ssh <our options> -- [user@]host <command>`, `input` on its stdin; killed after `timeoutMs` or on `signal`. */
  private ssh(command: string[], input: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Finished> {
    this.shareConnection();
    return runProcess('ssh', [...this.sshOptions(), ...this.destination(), ...command], {
      env: gitEnv(),
      input,
      timeoutMs,
      signal,
      name: 'ssh',
      missing: 'cannot run ssh (is openssh-client installed?)',
    });
  }

  /**
   * Every ssh call's options: the host key from our known_hosts file only and never added
   * to it, our key only (no agent, no default keys), no prompt, no user ssh config.
   */
  private baseOptions(): string[] {
    const options = [
      'BatchMode=yes',
      'StrictHostKeyChecking=yes',
      `UserKnownHostsFile=${sshPath(this.opts.knownHosts)}`,
      'GlobalKnownHostsFile=/dev/null',
      'UpdateHostKeys=no',
      'IdentitiesOnly=yes',
      'IdentityAgent=none',
      `IdentityFile=${sshPath(this.opts.key)}`,
      `ConnectTimeout=${Math.max(1, Math.ceil(this.timeoutMs / 1000))}`,
      'LogLevel=ERROR',
    ];
    return ['-F', '/dev/null', ...options.flatMap((o) => ['-o', o])];
  }

  /** The options of a fetch or push: the shared connection when there is one, else one of its own. */
  private sshOptions(): string[] {
    const shared =
      this.controlPath === undefined
        ? []
        : ['-o', 'ControlMaster=no', '-o', `ControlPath=${sshPath(this.controlPath)}`];
    return [...this.baseOptions(), ...shared];
  }

  /**
   * One authenticated connection shared by every fetch and push (ssh's multiplexing): each
   * then costs a session on it, not a key exchange and an authentication (docs "How it
   * writes to git", Over SSH). It is our own child process, started on first use and again
   * after it ended (the server dropped it; it gives up after 3 × 5 s without an answer),
   * so it is reaped and stopped with the bridge: ssh's ControlPersist would fork it away,
   * an orphan that a container whose PID 1 is node never reaps.
   */
  private shareConnection(): void {
    const path = this.controlPath;
    if (
      path === undefined ||
      (this.master !== null && this.master.exitCode === null && this.master.signalCode === null)
    )
      return;
    // A socket left by a bridge that was killed would make the new master give up multiplexing.
    rmSync(path, { force: true });
    const master = spawn(
      'ssh',
      [
        ...this.baseOptions(),
        ...['-o', 'ControlMaster=yes', '-o', `ControlPath=${sshPath(path)}`, '-o', 'ControlPersist=no'],
        ...['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', '-N'],
        ...this.destination(),
      ],
      { env: gitEnv(), stdio: 'ignore' },
    );
    master.on('error', () => undefined);
    master.unref();
    this.master = master;
    if (!this.stopOnExit) {
      this.stopOnExit = true;
      process.once('exit', () => this.master?.kill());
    }
  }

  /** `[-p port] -- [user@]host`: "--" so that nothing after it is read as an option. */
  private destination(): string[] {
    const { user, host, port } = this.target;
    return [...(port === undefined ? [] : ['-p', String(port)]), '--', user === undefined ? host : `${user}@${host}`];
  }

  /** `git fetch <args> <url> +ref:into` with ssh run as GIT_SSH_COMMAND (each word quoted for git's shell). */
  private async gitFetch(args: string[], timeoutMs: number, signal?: AbortSignal, into = this.ref): Promise<void> {
    const local = await this.gitdir.readRef(this.ref);
    if (this.known && this.known !== local) await this.gitdir.updateRef(this.ref, this.known, null);
    this.shareConnection();
    const env = { GIT_SSH_COMMAND: ['ssh', ...this.sshOptions()].map(shellQuote).join(' '), GIT_SSH_VARIANT: 'ssh' };
    try {
      await this.gitdir.fetch([...args, this.opts.url, `+${this.ref}:${into}`], {
        env,
        timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'AbortError')
        throw this.unavailable('timeout', `fetch from ${this.description} timed out`);
      const stderr = (err as { stderr?: unknown }).stderr;
      const failure = this.failure(
        typeof stderr === 'string' ? stderr : err instanceof Error ? err.message : String(err),
        'fetch from',
      );
      throw this.unavailable(failure.answer, failure.message);
    }
  }

  /** What ssh or the server said, as an answer for logs and a message saying what to fix (never a key or its path). */
  private failure(stderr: string, action: string): Failure {
    const text = this.redact(stderr);
    const host = knownHostsName(this.target);
    const said = (re: RegExp) => re.test(text);
    if (said(/Host key verification failed|HOST IDENTIFICATION HAS CHANGED|host key .* not known/i))
      return {
        answer: 'host key',
        message: `${action} ${this.description}: the host key of ${host} does not match KIPPER_GIT_KNOWN_HOSTS (Host key verification failed)`,
      };
    if (said(/Permission denied/i))
      return {
        answer: 'permission denied',
        message: `${action} ${this.description}: ${host} refused the SSH key: check KIPPER_GIT_SSH_KEY is a deploy key of this repo (with write access)`,
      };
    if (said(/Load key|invalid format|bad permissions|UNPROTECTED PRIVATE KEY|passphrase/i))
      return {
        answer: 'unusable key',
        message: `${action} ${this.description}: ssh cannot use KIPPER_GIT_SSH_KEY (${firstLine(text)}): it must be an unencrypted OpenSSH private key readable only by this user`,
      };
    if (said(/couldn't find remote ref/i))
      return {
        answer: 'no such branch',
        message: `branch ${this.opts.branch} does not exist in ${this.description}: check KIPPER_REPO_BRANCH (an empty repo needs a first commit with kipper.yaml)`,
      };
    if (said(/does not appear to be a git repository|not found|does not exist/i))
      return {
        answer: 'no such repo',
        message: `${this.description} was not found: check KIPPER_REPO_URL (${firstLine(text)})`,
      };
    const network =
      /Connection refused|Connection timed out|timed out|Could not resolve|No route to host|Connection reset|Connection closed|Broken pipe/i.exec(
        text,
      );
    if (network) return { answer: network[0], message: `${action} ${this.description} failed: ${firstLine(text)}` };
    return { answer: 'ssh failed', message: `${action} ${this.description} failed: ${firstLine(text) || 'no answer'}` };
  }

  /** The key's and known_hosts' paths blanked: ssh names them in its errors. */
  private redact(text: string): string {
    return text
      .split(this.opts.key)
      .join('<KIPPER_GIT_SSH_KEY>')
      .split(this.opts.knownHosts)
      .join('<KIPPER_GIT_KNOWN_HOSTS>');
  }

  private unavailable(answer: string, message: string): KipError {
    return new KipError('REPO_UNAVAILABLE', this.redact(message), {
      remote: this.description,
      branch: this.opts.branch,
      answer: this.redact(answer),
    });
  }
}

/** `'word'` for a POSIX shell (git runs GIT_SSH_COMMAND with sh; the server runs the command with the login shell). */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A path as an ssh option value: quoted (spaces), `%` doubled (ssh expands %-tokens in these options). */
function sshPath(path: string): string {
  return `"${path.replaceAll('%', '%%')}"`;
}

/** The offset after the ref advertisement (its pkt-lines end with a flush), or undefined when there is none. */
function afterFirstFlush(data: Buffer): number | undefined {
  let pos = 0;
  while (pos + 4 <= data.length) {
    const hex = data.toString('latin1', pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) return undefined;
    const length = Number.parseInt(hex, 16);
    if (length === 0) return pos + 4;
    if (length < 4) return undefined;
    // `ERR <reason>` instead of an advertisement: the server refused the session.
    if (pos === 0 && data.toString('latin1', 4, 8) === 'ERR ') return undefined;
    pos += length;
  }
  return undefined;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}

/** The first bytes of a file that must exist (the key, known_hosts), or CONFIG_INVALID naming the variable. */
async function firstBytes(path: string, variable: string, what: string): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const buf = Buffer.alloc(64);
      const { bytesRead } = await file.read(buf, 0, 64, 0);
      return buf.toString('latin1', 0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new KipError('CONFIG_INVALID', `${variable} cannot be read (${code}): set it to ${what}`);
  }
}

/** True when `ssh-keygen -F <name> -f <file>` finds the host (hashed entries included). */
function isKnownHost(name: string, file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh-keygen', ['-F', name, '-f', file], {
      env: gitEnv(),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('error', () =>
      reject(
        new KipError(
          'CONFIG_INVALID',
          'ssh-keygen was not found: install openssh-client (SSH remotes need ssh and ssh-keygen)',
        ),
      ),
    );
    child.on('close', (code) => resolve(code === 0));
  });
}
