/**
 * Answers already given per GitHub delivery id (`X-GitHub-Delivery`). GitHub redelivers
 * with the same id; answering from here keeps a redelivery from writing a second commit
 * even for an event whose deploy is not idempotent by value. Bounded, in memory, per
 * replica (another replica answers `unchanged` through the value check).
 */
export class DeliveryCache {
  private answers = new Map<string, { status: number; body: unknown }>();
  private inFlight = new Map<string, Promise<{ status: number; body: unknown }>>();

  constructor(private readonly max = 2_000) {}

  /** Run `handle` once per delivery id; concurrent and later repeats get its answer. */
  async once(id: string | undefined, handle: () => Promise<{ status: number; body: unknown }>) {
    if (id === undefined) return handle();
    const done = this.answers.get(id);
    if (done) return done;
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const p = handle();
    this.inFlight.set(id, p);
    try {
      const answer = await p;
      // Only successful answers are remembered: a 503 must be retried for real.
      if (answer.status < 300) {
        this.answers.set(id, answer);
        if (this.answers.size > this.max) this.answers.delete(this.answers.keys().next().value!);
      }
      return answer;
    } finally {
      this.inFlight.delete(id);
    }
  }
}
