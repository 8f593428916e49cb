import { describe, expect, it } from 'vitest';
import { planRollback } from '../../../src/deploys/plan-rollback.js';
import { codeOf } from '../../helpers/code-of.js';
import { undoneRevisions } from '../../../src/history/undone.js';
import type { Revision } from '../../../src/history/revision-index.js';

const rev = (revision: number, image: string, extra: Partial<Revision> = {}): Revision => ({
  revision,
  value: { images: [image] },
  sourceCommit: null,
  trigger: 'webhook',
  author: 'Kipper <kipper@localhost>',
  timestamp: '2026-11-22T00:00:00.000Z',
  configCommit: `c${revision}`,
  ...extra,
});

describe('planRollback', () => {
  const base = [rev(1, 'r/a:1'), rev(2, 'r/a:2'), rev(3, 'r/a:3')];

  it('goes to the revision before the current one, as a revert of the current commit', () => {
    const plan = planRollback('ns/a', base, undefined);
    expect(plan.target.revision).toBe(2);
    expect(plan.reverts).toBe('c3');
  });

  it('keeps stepping back after a rollback instead of toggling', () => {
    const afterOne = [...base, rev(4, 'r/a:2', { trigger: 'rollback', rollbackTo: 'c2' })];
    const plan = planRollback('ns/a', afterOne, undefined);
    expect(plan.target.revision).toBe(1);
    expect(plan.reverts).toBeUndefined();
    const afterTwo = [...afterOne, rev(5, 'r/a:1', { trigger: 'rollback', rollbackTo: 'c1' })];
    expect(codeOf(() => planRollback('ns/a', afterTwo, undefined))).toBe('NOTHING_TO_ROLL_BACK');
  });

  it('goes to an explicit revision, which may be newer than the last rollback target', () => {
    const afterOne = [...base, rev(4, 'r/a:2', { trigger: 'rollback', rollbackTo: 'c2' })];
    expect(planRollback('ns/a', afterOne, 3).target.value).toEqual({ images: ['r/a:3'] });
  });

  it('refuses a missing revision, the current value and an empty history', () => {
    expect(codeOf(() => planRollback('ns/a', base, 9))).toBe('REVISION_NOT_FOUND');
    expect(codeOf(() => planRollback('ns/a', base, 0))).toBe('REVISION_NOT_FOUND');
    expect(codeOf(() => planRollback('ns/a', base, 3))).toBe('ALREADY_CURRENT');
    expect(codeOf(() => planRollback('ns/a', [...base, rev(4, 'r/a:1')], 1))).toBe('ALREADY_CURRENT');
    expect(codeOf(() => planRollback('ns/a', [], undefined))).toBe('NOTHING_TO_ROLL_BACK');
    expect(codeOf(() => planRollback('ns/a', [rev(1, 'r/a:1')], undefined))).toBe('NOTHING_TO_ROLL_BACK');
  });

  it('never brings back a revision that a git revert undid', () => {
    // Issue #9: 5 good (webhook), 6 bad (webhook), 7 good (a human's `git revert` of 6).
    const history = [
      rev(1, 'r/a:seed'),
      rev(2, 'r/a:1'),
      rev(3, 'r/a:2'),
      rev(4, 'r/a:older'),
      rev(5, 'r/a:good'),
      rev(6, 'r/a:bad'),
      rev(7, 'r/a:good', { trigger: 'revert', reverts: 'c6' }),
    ];
    const plan = planRollback('ns/a', history, undefined);
    expect(plan.target.revision).toBe(4);
    expect(plan.reverts).toBeUndefined();
    // An explicit choice still goes there.
    expect(planRollback('ns/a', history, 6).target.value).toEqual({ images: ['r/a:bad'] });
    // With nothing older that differs, it says so instead of resurrecting 6.
    expect(
      codeOf(() =>
        planRollback('ns/a', [rev(1, 'r/a:good'), rev(2, 'r/a:bad'), rev(3, 'r/a:good', { reverts: 'c2' })], undefined),
      ),
    ).toBe('NOTHING_TO_ROLL_BACK');
  });

  it('matches an abbreviated reverted sha and ignores a revert of another commit', () => {
    const history = [
      rev(1, 'r/a:1', { configCommit: 'aaaaaaa1111' }),
      rev(2, 'r/a:2', { configCommit: 'bbbbbbb2222' }),
      rev(3, 'r/a:1', { reverts: 'bbbbbbb' }),
    ];
    expect(undoneRevisions(history)).toEqual(new Set([2]));
    expect(undoneRevisions([...history.slice(0, 2), rev(3, 'r/a:3', { reverts: 'fffffff' })])).toEqual(new Set());
  });

  it('counts every revision between a rollback and its target as undone', () => {
    const history = [...base, rev(4, 'r/a:4'), rev(5, 'r/a:2', { trigger: 'rollback', rollbackTo: 'c2' })];
    expect(undoneRevisions(history)).toEqual(new Set([3, 4]));
  });

  // Issue #18: before any deploy told the app's repository, a revision holds every image of its files.
  it('goes back to a revision of several images by the one image that differs, leaving the others', () => {
    const both = (api: string, migrate: string): Partial<Revision> => ({
      value: { images: [`r/api:${api}`, `r/tools/migrate:${migrate}`] },
      trigger: 'git',
    });
    const history = [rev(1, '', both('v0', '1.4.0')), rev(2, '', both('v1', '1.4.0'))];
    const plan = planRollback('ns/api', history, 1);
    expect(plan.target).toMatchObject({ revision: 1, configCommit: 'c1', value: { images: ['r/api:v0'] } });
    expect(plan.reverts).toBe('c2');
    expect(planRollback('ns/api', history, undefined).target.value).toEqual({ images: ['r/api:v0'] });
    // Both images differ: no single image to go back to, and nothing is written.
    expect(
      codeOf(() => planRollback('ns/api', [rev(1, '', both('v0', '1.4.0')), rev(2, '', both('v1', '1.5.0'))], 1)),
    ).toBe('NOTHING_TO_ROLL_BACK');
    expect(
      codeOf(() => planRollback('ns/api', [rev(1, '', both('v0', '1.4.0')), rev(2, '', both('v0', '1.4.0'))], 1)),
    ).toBe('ALREADY_CURRENT');
  });
});
