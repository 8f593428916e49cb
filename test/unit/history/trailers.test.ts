import { describe, expect, it } from 'vitest';
import { formatCommitMessage, parseTrailers, revertedCommit } from '../../../src/history/trailers.js';

describe('commit trailers', () => {
  it('round-trip through a commit message in docs/design.md order', () => {
    const msg = formatCommitMessage('deploy a/b: r/x:1', {
      app: 'a/b',
      image: 'r/x:1',
      sourceCommit: 'abc123f',
      trigger: 'webhook',
    });
    expect(msg).toBe(
      'deploy a/b: r/x:1\n\nKipper-App: a/b\nKipper-Image: r/x:1\nKipper-Source-Commit: abc123f\nKipper-Trigger: webhook\n',
    );
    expect(parseTrailers(msg)).toEqual({ app: 'a/b', image: 'r/x:1', sourceCommit: 'abc123f', trigger: 'webhook' });
  });

  it('ignore trailer-like lines outside the last paragraph', () => {
    expect(parseTrailers('Kipper-App: a/b\n')).toEqual({});
    expect(parseTrailers('subject\n\nKipper-App: a/b\n\nplain text\n')).toEqual({});
  });

  it('recognise git revert messages', () => {
    const sha = 'a'.repeat(40);
    expect(revertedCommit(`Revert "deploy"\n\nThis reverts commit ${sha}.\n`)).toBe(sha);
    expect(revertedCommit('deploy\n')).toBeUndefined();
  });
});
