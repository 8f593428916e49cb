/**
 * Keeping one syncer object in view while someone waits on it or looks at it: through its
 * watch stream when it has one (Argo CD), by polling otherwise and whenever the stream is
 * not delivering. The states and their transitions, once:
 *
 *   polling ──stream delivers its first object──▶ live (no polling)
 *   live ──stream ends──▶ polling (one look at once, then every `pollMs`), reconnect after a backoff
 *   polling ──a stream that never delivered ends──▶ polling, reconnect after a longer backoff
 *   polling ──backoff elapsed──▶ polling, with the stream connecting again
 *   any ──stop──▶ stopped (stream closed, timers cleared)
 *
 * The backoff doubles from `firstBackoffMs` up to `maxBackoffMs` and starts again from the
 * first after a stream that stayed up at least `steadyMs` (a stream a proxy cuts every
 * minute reconnects at once; one that fails at once is not retried in a hot loop).
 */

/** What a stream tells its follower. */
export interface StreamSignals {
  /** An object arrived (its content goes to whoever opened the stream). */
  delivered(): void;
  /** The stream is gone, with why; called at most once. */
  ended(reason: string): void;
}

/** Opens a stream; returns the function that closes it (after which it signals nothing). */
export type OpenStream = (signals: StreamSignals) => () => void;

export interface FollowOptions {
  pollMs: number;
  /** One look (a GET); the follower never waits on it. */
  poll: () => void;
  open?: OpenStream | undefined;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  steadyMs?: number;
  /** The stream went away (for a log line). */
  dropped?: (reason: string) => void;
}

export class Follower {
  private timer: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private close: (() => void) | undefined;
  private liveSince: number | undefined;
  private backoffMs: number;
  private stopped = true;

  constructor(private readonly o: FollowOptions) {
    this.backoffMs = o.firstBackoffMs ?? 1_000;
  }

  /** The stream is delivering: its last object is the syncer's state now, no poll needed. */
  get live(): boolean {
    return this.liveSince !== undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startPolling();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
    clearTimeout(this.reconnect);
    this.reconnect = undefined;
    this.close?.();
    this.close = undefined;
    this.liveSince = undefined;
  }

  private connect(): void {
    if (!this.o.open || this.stopped) return;
    this.reconnect = undefined;
    this.close = this.o.open({
      delivered: () => {
        if (this.stopped || this.liveSince !== undefined) return;
        this.liveSince = Date.now();
        this.stopPolling();
      },
      ended: (reason) => this.ended(reason),
    });
  }

  private ended(reason: string): void {
    if (this.stopped) return;
    const wasLive = this.liveSince !== undefined;
    const upMs = wasLive ? Date.now() - this.liveSince! : 0;
    this.close = undefined;
    this.liveSince = undefined;
    this.o.dropped?.(reason);
    const first = this.o.firstBackoffMs ?? 1_000;
    if (upMs >= (this.o.steadyMs ?? 10_000)) this.backoffMs = first;
    // What changed since a live stream went quiet is not known: look now, then poll meanwhile.
    // (A stream that never delivered leaves nothing to catch up on: polling never stopped.)
    this.startPolling();
    if (wasLive) this.o.poll();
    this.reconnect = setTimeout(() => this.connect(), this.backoffMs);
    this.reconnect.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 30_000);
  }

  private startPolling(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.o.poll(), this.o.pollMs);
    this.timer.unref();
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
