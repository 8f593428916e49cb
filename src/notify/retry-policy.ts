/** How often and how patiently a notification is tried again. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The wait after the first failed attempt; it doubles after each. */
  baseDelayMs: number;
  /** No wait is longer, Retry-After included. */
  maxDelayMs: number;
}

/** Waits of about 1 s, 2 s, 4 s … 60 s: a receiver may be away one to two minutes before an event is given up. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1_000, maxDelayMs: 60_000 };

/**
 * Whether an answer is worth another attempt: the receiver is down or overloaded (5xx),
 * asks us to slow down (429) or timed out reading us (408). Any other 4xx (and a 3xx:
 * redirects are not followed, so the body never goes where it was not sent) will be
 * the same next time, so it is not tried again.
 */
export function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The wait before attempt `failed + 1`: exponential backoff with "equal jitter" (half
 * fixed, half random), so receivers coming back up are not hit by every bridge at once
 * while no wait falls below half the schedule.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * A Retry-After the receiver sent is honoured up to `maxDelayMs`: a wait longer than
 * that would hold back every later event for the same target, which keeps their order.
 */
export function retryDelay(
  failed: number,
  policy: RetryPolicy,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failed - 1));
  const backoff = exp / 2 + (exp / 2) * random();
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, policy.maxDelayMs);
  return Math.round(Math.max(backoff, asked));
}

/** Retry-After as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
