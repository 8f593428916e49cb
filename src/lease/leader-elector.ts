import type { Logger } from '../log.js';
import { checkTiming, JITTER_FACTOR, LEASE_TIMING, type LeaseTiming } from './lease-timing.js';
import type { LeaseRecord, LeaseStore, StoredLease } from './lease-store.js';

/**
 * One config repo's writer, elected through a Kubernetes Lease (docs/running-in-a-cluster.md
 * "Replicas"), modelled on client-go's tools/leaderelection:
 *
 *   following ──tryAcquireOrRenew ok──▶ leading ──no renewal for renewDeadline──▶ following
 *
 * Every `retryPeriod` (with jitter) each replica runs `tryAcquireOrRenew`: a follower takes
 * the Lease when it is free or its record has not changed for `leaseDuration` as seen by
 * this replica's own clock (no clock comparison across machines); the holder renews it.
 * Writes to the Lease are compare-and-swaps on its resourceVersion, so two candidates never
 * both win. `mayWriteUntil` is what the write path checks: the holder stops pushing
 * `renewDeadline` after its last successful renewal began, before anyone may take over.
 */
export class LeaderElector {
  private readonly timing: LeaseTiming;
  /** The record as last read, and when (this replica's clock) it was last seen to change. */
  private observed: StoredLease | null = null;
  private observedAt = 0;
  private leading = false;
  /** When the last successful acquire or renewal began (epoch ms). */
  private renewedAt = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failing = false;

  constructor(
    private readonly store: LeaseStore,
    /** This replica's KIPPER_PEER_URL: the Lease's holderIdentity while it leads. */
    readonly identity: string,
    private readonly log: Logger,
    timing: LeaseTiming = LEASE_TIMING,
  ) {
    this.timing = checkTiming(timing);
  }

  /** Start the loop: the first try is at once. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Until when (epoch ms) this replica may push: 0 when it does not hold the Lease. */
  mayWriteUntil(now = Date.now()): number {
    const until = this.renewedAt + this.timing.renewDeadlineMs;
    return this.leading && now < until ? until : 0;
  }

  /** Whether this replica holds the Lease now (and so writes this repo itself). */
  isLeader(now = Date.now()): boolean {
    return this.mayWriteUntil(now) > 0;
  }

  /** The holder's peer URL as last seen, while its record is fresh; null when none (or it is this replica, no longer leading). */
  holder(now = Date.now()): string | null {
    const r = this.observed?.record;
    if (!r || r.holderIdentity === '' || r.holderIdentity === this.identity) return null;
    return now < this.observedAt + r.leaseDurationSeconds * 1000 ? r.holderIdentity : null;
  }

  /** Stop the loop; a holder releases the Lease (client-go's ReleaseOnCancel) so a follower takes over at its next try. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (!this.leading || !this.observed) return;
    this.leading = false;
    const released: LeaseRecord = {
      ...this.observed.record,
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: new Date(),
    };
    await this.store
      .replace(released, this.observed.resourceVersion)
      .catch((err: unknown) => this.log.warn('could not release the lease', this.fields(err)));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.leading) await this.renew();
      else await this.acquire();
      await this.pause(this.timing.retryPeriodMs * (1 + Math.random() * (JITTER_FACTOR - 1)));
    }
  }

  /** Following: one try to take the Lease. */
  private async acquire(): Promise<void> {
    if (!(await this.tryAcquireOrRenew())) return;
    this.leading = true;
    this.log.info('holding the lease: this replica writes the config repo', { lease: this.store.description });
  }

  /** Leading: renew, and step down once renewals have failed for the renew deadline. */
  private async renew(): Promise<void> {
    if (await this.tryAcquireOrRenew()) return;
    if (this.isLeader()) return;
    this.leading = false;
    this.log.warn('lost the lease: writes go to the new holder', {
      lease: this.store.description,
      renewDeadlineMs: this.timing.renewDeadlineMs,
    });
  }

  /** client-go's tryAcquireOrRenew: read, take or renew with a compare-and-swap; true when this replica holds the Lease now. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    // The renewal counts from before the read: the deadline errs on the early side.
    const started = Date.now();
    const mine = (old: LeaseRecord | null): LeaseRecord => {
      const now = new Date(started);
      const keep = old !== null && old.holderIdentity === this.identity;
      return {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.timing.leaseDurationMs / 1000,
        acquireTime: keep ? old.acquireTime : now,
        renewTime: now,
        leaseTransitions: old === null ? 0 : keep ? old.leaseTransitions : old.leaseTransitions + 1,
      };
    };
    try {
      const stored = await this.store.get();
      if (stored === null) return this.won(await this.store.create(mine(null)), started);
      if (stored.resourceVersion !== this.observed?.resourceVersion) {
        this.observed = stored;
        this.observedAt = Date.now();
      }
      const r = stored.record;
      if (
        r.holderIdentity !== '' &&
        r.holderIdentity !== this.identity &&
        this.observedAt + r.leaseDurationSeconds * 1000 > started
      )
        return this.won(false, started);
      return this.won(await this.store.replace(mine(r), stored.resourceVersion), started);
    } catch (err) {
      if (!this.failing) this.log.warn('could not reach the Kubernetes API for the lease', this.fields(err));
      this.failing = true;
      return false;
    }
  }

  private won(ok: boolean, started: number): boolean {
    this.failing = false;
    if (ok) this.renewedAt = started;
    return ok;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  private fields(err: unknown): Record<string, unknown> {
    return { lease: this.store.description, error: err instanceof Error ? err.message : String(err) };
  }
}
