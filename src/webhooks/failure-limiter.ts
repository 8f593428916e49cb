/**
 * Counts authorisation failures per client address. The limit is generous on purpose:
 * a 64-hex token is not guessable anyway, so this is about noise from scanners, and a
 * CI fleet behind one NAT with a few stale tokens must still see its 401s. After `limit` failures within
 * `windowMs`, further FAILED requests from that address are answered 429 until the window
 * passes. A request with the right token is never delayed or refused by it: a CI behind
 * the same NAT as a scanner keeps deploying.
 */
export class FailureLimiter {
  private failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 50,
    private readonly windowMs = 60_000,
    private readonly maxTracked = 10_000,
  ) {}

  /** Record a failure; true when the address is now over its limit. */
  fail(address: string, now = Date.now()): boolean {
    let entry = this.failures.get(address);
    if (!entry || now - entry.since > this.windowMs) {
      entry = { count: 0, since: now };
      // Bounded memory under a spray of addresses: forget the oldest.
      if (this.failures.size >= this.maxTracked) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
    }
    entry.count++;
    this.failures.delete(address);
    this.failures.set(address, entry);
    return entry.count > this.limit;
  }

  /** Seconds until the address's window ends (for Retry-After). */
  retryAfter(address: string, now = Date.now()): number {
    const entry = this.failures.get(address);
    return entry ? Math.max(1, Math.ceil((entry.since + this.windowMs - now) / 1000)) : 1;
  }
}
