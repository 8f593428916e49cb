import { readFile, stat } from 'node:fs/promises';
import { KipError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { basicAuth, SecretRing, type CredentialSource } from './credential-source.js';

/** The file's identity: a rotation changes at least one of these, whether rewritten, renamed over or swapped through a symlink. */
type Stamp = string;

/**
 * KIPPER_GIT_TOKEN_FILE: the token in a file, re-read when the file changes. A mounted
 * Kubernetes secret rotates by swapping the `..data` symlink to a new directory
 * (https://kubernetes.io/docs/concepts/configuration/secret/#mounted-secrets-are-updated-automatically),
 * so the file's path stays and its inode changes: one `stat` (which follows the symlinks)
 * before each request sees it, with no watcher to lose events across the swap.
 */
export class TokenFile implements CredentialSource {
  readonly refusedHint: string;
  private stamp: Stamp | undefined;
  private value: string | undefined;
  private readonly ring = new SecretRing();
  private reading: Promise<void> | undefined;

  private constructor(
    private readonly path: string,
    private readonly username: string,
    private readonly log: Logger | undefined,
  ) {
    this.refusedHint = `check the token in KIPPER_GIT_TOKEN_FILE (${path})${username === 'x-access-token' ? '' : ' and KIPPER_GIT_USERNAME'}`;
  }

  /** Reads the file once: a missing, unreadable or empty file stops the start (CONFIG_INVALID). */
  static async open(path: string, username: string, log?: Logger): Promise<TokenFile> {
    const source = new TokenFile(path, username, log);
    try {
      await source.reload(true);
    } catch (err) {
      throw new KipError('CONFIG_INVALID', `KIPPER_GIT_TOKEN_FILE: ${(err as Error).message}`);
    }
    return source;
  }

  async header(): Promise<string | undefined> {
    await this.reloadQuietly(false);
    return this.value;
  }

  async refresh(failed: string | undefined): Promise<boolean> {
    await this.reloadQuietly(true);
    return this.value !== failed;
  }

  secrets(): readonly string[] {
    return this.ring.list();
  }

  /** A file caught mid-rotation (gone, empty) keeps the token we have: the next request looks again. */
  private async reloadQuietly(force: boolean): Promise<void> {
    try {
      await this.reload(force);
    } catch {
      if (this.value === undefined)
        throw new KipError('REPO_UNAVAILABLE', `KIPPER_GIT_TOKEN_FILE ${this.path} cannot be read`);
    }
  }

  private reload(force: boolean): Promise<void> {
    // Concurrent requests share one read.
    this.reading ??= this.read(force).finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(force: boolean): Promise<void> {
    let stamp: Stamp;
    try {
      const s = await stat(this.path);
      stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (err) {
      throw new Error(
        `cannot read ${this.path} (${(err as NodeJS.ErrnoException).code ?? 'error'}): mount the token file there`,
        { cause: err },
      );
    }
    if (!force && stamp === this.stamp) return;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new Error(
        `cannot read ${this.path} (${(err as NodeJS.ErrnoException).code ?? 'error'}): mount the token file there`,
        { cause: err },
      );
    }
    const token = text.trim();
    if (token === '') throw new Error(`${this.path} is empty: put the token in it`);
    if (/[\s\p{Cc}]/u.test(token)) throw new Error(`${this.path} must hold one token on one line`);
    const { header, secrets } = basicAuth(this.username, token);
    this.ring.add(secrets);
    if (this.value !== undefined && header !== this.value)
      this.log?.info('the git token file changed: using the new token', { path: this.path });
    this.value = header;
    this.stamp = stamp;
  }
}
