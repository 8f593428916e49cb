import { KipError } from '../errors.js';

/**
 * The timing rules of leader election, named once (as client-go's
 * tools/leaderelection/leaderelection.go): a holder renews every `retryPeriodMs`, gives up
 * leading when it has not renewed for `renewDeadlineMs`, and a candidate may take a Lease
 * whose record it has seen unchanged for `leaseDurationMs`.
 */
export interface LeaseTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's defaults for controllers: lease 15 s, renew deadline 10 s, retry 2 s. */
export const LEASE_TIMING: LeaseTiming = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** client-go's JitterFactor: retries wait `retryPeriod` to `retryPeriod × 1.2`. */
export const JITTER_FACTOR = 1.2;

/**
 * The rules that make one writer safe, checked at construction (client-go's NewLeaderElector):
 * - renewDeadline < leaseDuration: a holder that cannot renew stops pushing (after
 *   renewDeadline since its last renewal began) before another may take the Lease (after
 *   leaseDuration since it last saw the record change, which is after that renewal began);
 *   the difference is the margin for a push that is already on the wire.
 * - retryPeriod × jitter < renewDeadline: a holder gets at least one more try before it
 *   gives up.
 */
export function checkTiming(t: LeaseTiming): LeaseTiming {
  if (!(t.renewDeadlineMs < t.leaseDurationMs))
    throw new KipError(
      'CONFIG_INVALID',
      `lease duration (${t.leaseDurationMs} ms) must be greater than the renew deadline (${t.renewDeadlineMs} ms)`,
    );
  if (!(t.retryPeriodMs * JITTER_FACTOR < t.renewDeadlineMs))
    throw new KipError(
      'CONFIG_INVALID',
      `renew deadline (${t.renewDeadlineMs} ms) must be greater than retry period × ${JITTER_FACTOR} (${t.retryPeriodMs} ms)`,
    );
  if (!(t.retryPeriodMs > 0)) throw new KipError('CONFIG_INVALID', 'retry period must be above 0');
  return t;
}
