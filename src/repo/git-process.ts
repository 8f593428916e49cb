/**
 * The git binary, which owns the gitdir (gitdir.ts): one call per command, and one
 * long-lived `git cat-file --batch` for reads. Never a shell, never an interpolated
 * string; credentials only ever travel in the environment (GIT_CONFIG_*).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { KipError } from '../errors.js';

/** Environment for a git child: no user or system config, never a credential prompt. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...extra,
  };
}

/** `-c`-style settings passed through the environment (kept off the command line, where `ps` shows them). */
export function configEnv(settings: Array<[string, string]>): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(settings.length) };
  settings.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** A git command that exited non-zero: its exit code and the last line it wrote to stderr. */
export class GitError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${command} failed: ${stderr.trim().split('\n').pop() || `exit ${exitCode}`}`);
  }
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Written to the command's stdin. */
  input?: Uint8Array;
  /** Killed after this long (default 120 s) or when `signal` aborts; rejects with an AbortError. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** How a child process ended. */
export interface Finished {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `program <args>` (git, ssh) and resolves with how it ended, whatever its exit code.
 * It runs in a process group of its own: `git fetch` runs `git remote-http` below it,
 * which must go too when the command is given up (it holds a socket and the credentials);
 * the group is killed after `timeoutMs` (default 120 s) or when `signal` aborts, and the
 * call rejects with an AbortError saying `name` was stopped. `missing`: the error when the
 * program cannot be run at all.
 */
export function runProcess(
  program: string,
  args: string[],
  opts: Omit<RunOptions, 'env'> & { env: NodeJS.ProcessEnv; name: string; missing: string },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const limit = AbortSignal.timeout(opts.timeoutMs ?? 120_000);
    const signal = opts.signal ? AbortSignal.any([limit, opts.signal]) : limit;
    const child = spawn(program, args, { env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const onAbort = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      reject(Object.assign(new Error(`${opts.name} was stopped: no answer in time`), { name: 'AbortError' }));
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', (e) => reject(new KipError('INTERNAL', `${opts.missing}: ${e.message}`)));
    child.on('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (!signal.aborted) resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    // The program may stop reading early (a refused ssh key, a missing repo): its answer tells why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input);
  });
}

/** Runs `git <args>` and resolves with its stdout; a non-zero exit rejects with a GitError. */
export async function runGit(args: string[], opts: RunOptions = {}): Promise<Buffer> {
  const command = args.find((a) => !a.startsWith('-') && !a.includes('/')) ?? args[0] ?? '';
  const done = await runProcess('git', args, {
    ...opts,
    env: gitEnv(opts.env),
    name: `git ${command}`,
    missing: 'cannot run git (is it installed?)',
  });
  if (done.code !== 0) throw new GitError(command, done.code, done.stderr);
  return done.stdout;
}

/**
 * Runs `git <args>` and hands its stdout to `each` as text, chunk by chunk, reading the
 * next chunk only once `each` is done with the last (git waits meanwhile): a long output
 * is never all in memory. `each` returns false to stop git early. Rejects like `runGit`.
 */
export async function streamGit(args: string[], each: (text: string) => Promise<boolean>): Promise<void> {
  const command = args.find((a) => !a.startsWith('-') && !a.includes('/')) ?? args[0] ?? '';
  const child = spawn('git', args, { env: gitEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new KipError('INTERNAL', `cannot run git (is it installed?): ${e.message}`)));
    child.on('close', (code) => resolve(code));
  });
  // Not an unhandled rejection while the loop below is still reading.
  exited.catch(() => undefined);
  const decoder = new StringDecoder('utf8');
  let stopped = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      if (!(await each(decoder.write(chunk)))) {
        stopped = true;
        break;
      }
    }
    if (!stopped) await each(decoder.end());
  } finally {
    if (stopped || child.exitCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  const code = await exited;
  if (!stopped && code !== 0) throw new GitError(command, code, err);
}

/** True when a `git` binary runs here. */
export async function gitVersion(): Promise<string | null> {
  try {
    return (await runGit(['--version'], { timeoutMs: 5_000 })).toString().trim();
  } catch {
    return null;
  }
}

/** An object as `cat-file` reports it. */
export interface RawObject {
  type: string;
  content: Buffer;
}

/**
 * A long-lived `git cat-file --batch`: objects by id or `<commit>:<path>`, answered in
 * order, tens of microseconds each (a spawn per read would cost ~1.3 ms of this process's
 * CPU). git looks for packs again when an object is missing, so packs that fetches and
 * `index-pack` add later are found. A process that dies is replaced on the next read.
 */
export class CatFile {
  private child: ChildProcessWithoutNullStreams | null = null;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: Array<{ resolve: (o: RawObject | null) => void; reject: (e: Error) => void }> = [];
  /** Names asked for in this tick, written to git together (one write, not one each). */
  private outgoing: string[] = [];

  constructor(private readonly gitdir: string) {}

  /** The object named `name` (an id, or `<commit>:<path>`), or null when there is none. */
  read(name: string): Promise<RawObject | null> {
    // One request per line: a name with a line break would answer for two.
    if (/[\n\r\0]/.test(name))
      return Promise.reject(
        new KipError('INTERNAL', `cannot read ${JSON.stringify(name)}: a line break in an object name`),
      );
    const child = this.start();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.outgoing.push(`${name}\n`);
      if (this.outgoing.length === 1) queueMicrotask(() => this.send(child));
    });
  }

  private send(child: ChildProcessWithoutNullStreams): void {
    // A process that stopped meanwhile failed these reads already (and cleared them).
    if (this.child !== child) return;
    const names = this.outgoing.join('');
    this.outgoing = [];
    child.stdin.write(names);
  }

  close(): void {
    this.child?.stdin.end();
    this.child = null;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn('git', ['--git-dir', this.gitdir, 'cat-file', '--batch'], { env: gitEnv() });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.drain();
    });
    const fail = (err: Error) => {
      if (this.child === child) {
        this.child = null;
        this.outgoing = [];
      }
      this.chunks = [];
      this.buffered = 0;
      for (const w of this.waiting.splice(0))
        w.reject(new KipError('INTERNAL', `git cat-file stopped: ${err.message}`));
    };
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`exit ${code}`)));
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', () => undefined);
    return child;
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.buffered > 0) {
      // The header is in the first chunk almost always; a big object spans many chunks,
      // which are joined once, when all of it is here.
      let data = this.chunks[0]!;
      let nl = data.indexOf(10);
      if (nl < 0) {
        data = this.joined();
        nl = data.indexOf(10);
        if (nl < 0) return;
      }
      // "<oid> <type> <size>" and the content, else "<name> missing" (or "ambiguous"),
      // where the name may hold spaces: only a well-formed header is an object.
      const found = /^([0-9a-f]{40}|[0-9a-f]{64}) ([a-z]+) (\d+)$/.exec(data.toString('latin1', 0, nl));
      if (!found) {
        this.keep(this.joined().subarray(nl + 1));
        this.waiting.shift()!.resolve(null);
        continue;
      }
      const size = Number(found[3]);
      if (this.buffered < nl + 1 + size + 1) return;
      data = this.joined();
      const content = Buffer.from(data.subarray(nl + 1, nl + 1 + size));
      this.keep(data.subarray(nl + 1 + size + 1));
      this.waiting.shift()!.resolve({ type: found[2]!, content });
    }
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private keep(rest: Buffer): void {
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
  }
}
