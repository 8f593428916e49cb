/**
 * Waiting in tests for something the system under test does on its own time (a poll, a
 * pipe, a push), instead of sleeping a fixed time and hoping it has happened by then.
 */
import { inspect } from 'node:util';

export interface EventuallyOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between two looks (default 50 ms). */
  intervalMs?: number;
}

/**
 * Calls `check` until it returns a truthy value and resolves with that value. After
 * `timeoutMs` it rejects with an Error naming `what` and the last value `check` returned.
 * `check` is always called at least once, and once more after the deadline has passed
 * if the previous look started before it; an error thrown by `check` is not retried
 * (it fails the wait at once: a broken check must not look like a slow system).
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = Date.now();
    const value = await check();
    if (value) return value;
    if (started >= deadline) {
      const last = inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 2_000 });
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(intervalMs, deadline - Date.now()))));
  }
}
