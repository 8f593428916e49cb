import type { KipError } from '../errors.js';
import type { WriteQueue } from './write-queue.js';

/** How often others' pushes are looked for when idle. */
export const POLL_INTERVAL_MS = 5_000;
/** ...and while a console page watches for live updates, which should show a push within 5 s. */
const WATCHED_POLL_MS = 2_000;
/** A look at the remote that takes longer than this makes the bridge unready: it hangs. */
const HANG_MS = 5_000;

/**
 * The bridge's view of its config repo over time: looks at the remote (every few seconds,
 * and when asked), and says from that state whether the bridge should get traffic.
 */
export class RepoStatus {
  private poll: NodeJS.Timeout | undefined;
  private watchers = 0;
  private lastLook = 0;
  /** When the look at the remote that is still running started (null: none runs). */
  private lookingSince: number | null = null;
  private lastPushAt = Date.now();
  /** Set once shutdown started: new API requests are answered 503 SHUTTING_DOWN. */
  closing = false;

  constructor(
    private readonly queue: WriteQueue,
    private readonly configProblem: () => KipError | null,
  ) {}

  /** Looks for others' pushes every POLL_INTERVAL_MS (faster while watched) until `stop`. */
  start(): void {
    const next = () => {
      this.poll = setTimeout(
        () => {
          void this.refresh()
            .catch(() => undefined)
            .finally(() => {
              if (!this.closing) next();
            });
        },
        this.watchers > 0 ? WATCHED_POLL_MS : POLL_INTERVAL_MS,
      );
      this.poll.unref();
    };
    next();
  }

  /** A live view opened (+1) or closed (-1). */
  watch(delta: 1 | -1): void {
    this.watchers += delta;
  }

  stop(): void {
    this.closing = true;
    clearTimeout(this.poll);
  }

  /** A push went out (for "the write queue is moving"). */
  pushed(): void {
    this.lastPushAt = Date.now();
  }

  /** Look for others' pushes now (serialised with writes). */
  async refresh(): Promise<void> {
    const started = Date.now();
    this.lastLook = started;
    this.lookingSince ??= started;
    try {
      await this.queue.refresh();
    } finally {
      if (this.lookingSince === started) this.lookingSince = null;
    }
  }

  /**
   * Look for others' pushes now, for answers a human reads right after pushing (history,
   * rollback, promote). Never fails: with the remote down the index still answers, and a
   * write finds out at its compare-and-swap.
   */
  async refreshQuietly(): Promise<void> {
    await this.refresh().catch(() => undefined);
  }

  /**
   * Look at the remote when the last look is older than `maxAgeMs`, waiting for the answer
   * at most `waitMs`: a quick remote gives fresh state, a hanging one costs the caller
   * `waitMs` and is judged by what the poll and the writes last saw.
   */
  async freshState(maxAgeMs: number, waitMs: number): Promise<void> {
    if (Date.now() - this.lastLook < maxAgeMs) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
    await Promise.race([this.refreshQuietly(), late]);
    clearTimeout(timer);
  }

  /** The last push, when the remote declined it for policy (/readyz detail); null once a push lands. */
  declined(): { error: string; remote: string; at: string } | null {
    const d = this.queue.remote.declined;
    return d
      ? { error: d.error.message, remote: String((d.error.data.body as { remote?: string }).remote ?? ''), at: d.at }
      : null;
  }

  /** Why the bridge should not get traffic now, with its code, or null when it is ready (/readyz). State only. */
  unready(): { reason: string; code: 'CONFIG_INVALID' | 'REPO_UNAVAILABLE' } | null {
    const unavailable = (reason: string) => ({ reason, code: 'REPO_UNAVAILABLE' as const });
    if (this.queue.remote.current === null) return unavailable('the config repo has not been fetched yet');
    const config = this.configProblem();
    if (config)
      return {
        reason: `${config.message} (at ${this.queue.head.slice(0, 12)}); deploys answer 422 CONFIG_INVALID until it is fixed`,
        code: 'CONFIG_INVALID',
      };
    if (this.queue.remote.lastError) return unavailable(this.queue.remote.lastError.message);
    const waitingMs = this.lookingSince === null ? 0 : Date.now() - this.lookingSince;
    if (waitingMs > HANG_MS)
      return unavailable(`the config repo has not answered for ${Math.round(waitingMs / 1000)} s`);
    const silentMs = Date.now() - this.queue.remote.lastContact;
    if (silentMs > 3 * POLL_INTERVAL_MS)
      return unavailable(`the config repo has not answered for ${Math.round(silentMs / 1000)} s`);
    if (this.queue.depth > 0 && Date.now() - this.lastPushAt > 60_000)
      return unavailable('the write queue has not pushed for a minute');
    return null;
  }
}
