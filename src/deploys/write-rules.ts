import { KipError } from '../errors.js';
import type { PendingEdit } from './write-batch.js';

/**
 * The write queue's rules, named once and checked at construction: how big a batch may
 * get, how many lost races and how many unanswered attempts one batch may meet, the base
 * of the random backoff between its attempts, and how long an edit may wait in all.
 */
export interface WriteRules {
  /** Edits carried by one push at most. */
  maxBatch: number;
  /** Pushes rejected because someone else moved the branch, before giving up (PUSH_REJECTED). */
  maxRejections: number;
  /** Attempts while the remote is unreachable, before answering 503 (REPO_UNAVAILABLE). */
  maxUnreachable: number;
  /** Base of the random backoff between attempts, in ms. */
  backoffMs: number;
  /** The longest an edit waits in all (queue, pushes, retries) before it is answered 503. */
  deployTimeoutMs: number;
}

const DEFAULTS: WriteRules = {
  maxBatch: 200,
  maxRejections: 25,
  maxUnreachable: 3,
  backoffMs: 20,
  deployTimeoutMs: 30_000,
};

/** A lost push is looked for among this many newest commits of the fetched head. */
export const LANDED_WITHIN = 200;

/** The rules asked for, defaults for the others; a queue that could never push is refused here, not found hanging later. */
export function writeRules(asked: Partial<WriteRules>): WriteRules {
  const rules = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as Array<keyof WriteRules>) {
    const value = asked[name];
    if (value === undefined) continue;
    const least = name === 'backoffMs' ? 0 : 1;
    if (!Number.isFinite(value) || value < least)
      throw new KipError('INTERNAL', `the write queue's ${name} must be a number ≥ ${least}, not ${value}`);
    rules[name] = value;
  }
  return rules;
}

/** Random backoff that grows with the attempt: without the randomness one writer starves the others. */
export function backoff(base: number, attempt: number): number {
  const cap = base * 2 ** Math.min(attempt, 6);
  return Math.floor(base / 2 + Math.random() * cap);
}

/** Ms until the earliest deadline of `edits` (at least 1): a request that serves them is of no use after that. */
export function timeLeft(edits: readonly PendingEdit[]): number {
  const earliest = Math.min(...edits.map((p) => p.deadline));
  return Math.max(1, earliest - Date.now());
}

/** Aborts at the earliest deadline of `edits`. */
export function deadlineSignal(edits: readonly PendingEdit[]): AbortSignal {
  return AbortSignal.timeout(timeLeft(edits));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
