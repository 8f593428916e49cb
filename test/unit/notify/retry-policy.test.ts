import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay, retryable } from '../../../src/notify/retry-policy.js';

const policy = { maxAttempts: 8, baseDelayMs: 1_000, maxDelayMs: 60_000 };

describe('retry policy', () => {
  it('doubles the wait after each failure, between half and all of it, up to the cap', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy, null, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy, null, () => 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(retryDelay(20, policy, null, () => 1)).toBe(60_000);
    expect(retryDelay(20, policy, null, () => 0)).toBe(30_000);
  });

  it('honours Retry-After up to the cap, never waiting less than the backoff', () => {
    expect(retryDelay(1, policy, 5_000, () => 0)).toBe(5_000);
    expect(retryDelay(1, policy, 0, () => 0)).toBe(500);
    expect(retryDelay(1, policy, 3_600_000, () => 0)).toBe(60_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('tries again on 408, 429 and 5xx only', () => {
    expect([408, 429, 500, 502, 503, 504].every(retryable)).toBe(true);
    expect([301, 307, 400, 401, 403, 404, 410, 413, 422].some(retryable)).toBe(false);
  });

  it('gives up after 8 attempts by default, waiting at most a minute', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual(policy);
  });
});
