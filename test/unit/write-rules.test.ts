import { describe, expect, it } from 'vitest';
import { isKipError } from '../../src/errors.js';
import { backoff, writeRules } from '../../src/deploys/write-rules.js';

describe('write queue rules', () => {
  it('takes the rules asked for and the defaults for the others (an undefined one is not asked for)', () => {
    expect(writeRules({ maxUnreachable: 5, backoffMs: 0, deployTimeoutMs: undefined })).toEqual({
      maxBatch: 200,
      maxRejections: 25,
      maxUnreachable: 5,
      backoffMs: 0,
      deployTimeoutMs: 30_000,
    });
  });

  it('refuses at construction a rule under which a batch could never be pushed or answered', () => {
    for (const bad of [
      { maxBatch: 0 },
      { maxRejections: 0 },
      { maxUnreachable: -1 },
      { backoffMs: -5 },
      { deployTimeoutMs: Number.NaN },
    ]) {
      let err: unknown;
      try {
        writeRules(bad);
      } catch (e) {
        err = e;
      }
      expect(isKipError(err, 'INTERNAL'), JSON.stringify(bad)).toBe(true);
    }
  });

  it('backs off at random between half the base and the base doubled per attempt (at most 6 doublings)', () => {
    const waits = Array.from({ length: 2000 }, () => backoff(20, 10));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...waits)).toBeLessThan(10 + 20 * 64);
    expect(new Set(waits).size).toBeGreaterThan(100);
  });
});
