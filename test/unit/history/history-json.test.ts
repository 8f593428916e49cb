import { describe, expect, it } from 'vitest';
import { currentRevisionJson, historyJson } from '../../../src/history/history-json.js';
import type { Revision } from '../../../src/history/revision-index.js';

const base = { trigger: 'git', author: 'A <a@example.com>', timestamp: '2026-11-22T00:00:00.000Z' };
/** A commit the bridge did not write names its author as the actor. */
const shown = { ...base, actor: 'A' };

// Issue #10: values are typed; the API keeps `image` (the first) and adds `images` where there are several.
describe('historyJson', () => {
  it('shows image apps, several images and git-source commits in the documented fields', () => {
    const revisions: Revision[] = [
      {
        ...base,
        revision: 1,
        value: { images: ['r/a:1'] },
        sourceCommit: 'abc1234',
        configCommit: 'c1',
        reason: 'INC-1',
      },
      { ...base, revision: 2, value: { images: ['r/a:2', 'r/b:2'] }, sourceCommit: null, configCommit: 'c2' },
      {
        ...base,
        revision: 3,
        value: { commit: 'def5678' },
        sourceCommit: null,
        configCommit: 'c3',
        trigger: 'rollback',
        rollbackTo: 'c1',
      },
    ];
    expect(historyJson(revisions)).toEqual([
      {
        ...shown,
        revision: 3,
        image: null,
        commit: 'def5678',
        configCommit: 'c3',
        trigger: 'rollback',
        rolledBackTo: 1,
        current: true,
        undone: false,
        reason: null,
      },
      {
        ...shown,
        revision: 2,
        image: 'r/a:2',
        images: ['r/a:2', 'r/b:2'],
        commit: null,
        configCommit: 'c2',
        current: false,
        undone: true,
        reason: null,
      },
      {
        ...shown,
        revision: 1,
        image: 'r/a:1',
        commit: 'abc1234',
        configCommit: 'c1',
        current: false,
        undone: false,
        reason: 'INC-1',
      },
    ]);
  });

  // The console's Apps page converts only the newest revision of each app.
  it('converts the current revision alone exactly as the whole history shows it', () => {
    const revisions: Revision[] = [
      { ...base, revision: 1, value: { images: ['r/a:1'] }, sourceCommit: null, configCommit: 'c1' },
      { ...base, revision: 2, value: { images: ['r/a:2'] }, sourceCommit: null, configCommit: 'c2' },
      {
        ...base,
        revision: 3,
        value: { images: ['r/a:1'] },
        sourceCommit: null,
        configCommit: 'c3',
        trigger: 'rollback',
        rollbackTo: 'c1',
        reason: 'bad',
      },
    ];
    expect(currentRevisionJson(revisions)).toEqual(historyJson(revisions)[0]);
    expect(currentRevisionJson(revisions)).toMatchObject({
      revision: 3,
      rolledBackTo: 1,
      current: true,
      undone: false,
      reason: 'bad',
    });
    expect(currentRevisionJson([])).toBeUndefined();
  });

  // Issue #18/#21: who did it. The bridge's commits say it in `Kipper-Actor`.
  it('shows the Kipper-Actor of the bridge’s commits, and the author of the others', () => {
    const revisions: Revision[] = [
      { ...base, revision: 1, value: { images: ['r/a:1'] }, sourceCommit: null, configCommit: 'c1' },
      {
        ...base,
        revision: 2,
        value: { images: ['r/a:2'] },
        sourceCommit: null,
        configCommit: 'c2',
        trigger: 'manual',
        actor: 'admin (as ana)',
      },
    ];
    expect(historyJson(revisions).map((r) => r.actor)).toEqual(['admin (as ana)', 'A']);
  });
});
