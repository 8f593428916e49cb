/** `git log` of a first-parent history, and how its output is read. */

/** One first-parent commit, with the paths it changed against its first parent. */
export interface LoggedCommit {
  oid: string;
  parents: string[];
  author: { name: string; email: string; timestamp: number };
  message: string;
  /** Paths changed against the first parent; null when it has none here (a root commit, the edge of a shallow clone). */
  changed: string[] | null;
  /** For a commit this process wrote: what its writer knew of it (`CommitInput.memo`), opaque here. */
  memo?: unknown;
}

/**
 * Oldest first, NUL-separated, each commit's diff against its first parent (also for a
 * merge), renames as delete + add. Records start with RS and fields end with US: a
 * commit message may hold anything printable.
 */
export const LOG_ARGS = [
  '--first-parent',
  '--reverse',
  '-z',
  '--diff-merges=first-parent',
  '--no-renames',
  '--name-only',
  '--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%B%x1f',
];

/**
 * Cuts `git log ${LOG_ARGS}` output into commits as it arrives: `push` takes the next piece
 * of text and returns the commits it completed, `end` the last one.
 */
export class LogRecords {
  private rest = '';

  push(text: string): LoggedCommit[] {
    const parts = (this.rest + text).split('\x1e');
    this.rest = parts.pop()!;
    return parts.filter((p) => p !== '').map(parseRecord);
  }

  end(): LoggedCommit[] {
    const last = this.rest;
    this.rest = '';
    return last === '' ? [] : [parseRecord(last)];
  }
}

/** One record (without its leading RS). */
function parseRecord(record: string): LoggedCommit {
  const [oid = '', parents = '', name = '', email = '', at = '0', message = '', rest = ''] = record.split('\x1f');
  const paths = rest
    .split('\0')
    .map((p) => p.replace(/^\n/, ''))
    .filter((p) => p !== '');
  return {
    oid,
    parents: parents === '' ? [] : parents.split(' '),
    author: { name, email, timestamp: Number(at) },
    // As git stores it: exactly one trailing newline (what readCommit gives for our own commits).
    message: message.replace(/\n*$/, '\n'),
    changed: parents === '' ? null : paths,
  };
}
