import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKipError } from '../../../src/errors.js';
import { HttpRemote } from '../../../src/repo/http-remote.js';
import { LocalRemote } from '../../../src/repo/local-remote.js';
import type { PushResult, Remote } from '../../../src/repo/remote.js';
import { WriteQueue, type Edit } from '../../../src/deploys/write-queue.js';
import { cloneRepo, commitAndPush, createBareRepo, fsck, headOf, logOf, showFile } from '../../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../../helpers/git-server.js';
import { KIPPER_SIG, makeAppsDir, utf8 } from '../repo/apps-fixture.js';

/** An edit that writes `content` to `path`, or reports unchanged when it is already there. */
function write(path: string, content: string): Edit<string> {
  return async (view) => {
    const current = await view.readFile(path);
    if (current && Buffer.from(current).toString('utf8') === content) return { kind: 'unchanged', result: path };
    return { kind: 'commit', files: new Map([[path, utf8(content)]]), message: `write ${path}\n`, result: path };
  };
}

const signature = () => ({ ...KIPPER_SIG });
let root: string;
let seedDir: string;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kip-write-queue-'));
  seedDir = await makeAppsDir(10);
});
/** Every gitdir a test made: their background stores must end before the dirs go. */
const stores: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  await rm(seedDir, { recursive: true, force: true });
});

describe('WriteQueue on the embedded repo', () => {
  it('turns a burst into chained commits, one per edit, in few pushes', async () => {
    const bare = await createBareRepo(root, `q-${++n}.git`, seedDir);
    const remote = new LocalRemote({ gitdir: bare, branch: 'main' });
    stores.push(remote.gitdir);
    const pushes: number[] = [];
    const queue = new WriteQueue(remote, { signature, onPush: (e) => pushes.push(e.commits) });
    await queue.refresh();
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => queue.submit(write(`notes/n${i}.txt`, `${i}\n`))),
    );
    const log = await logOf(bare, 'main', 100);
    expect(log).toHaveLength(31);
    expect(new Set(outcomes.map((o) => o.configCommit)).size).toBe(30);
    for (const o of outcomes) expect(log.some((c) => c.oid === o.configCommit)).toBe(true);
    expect(pushes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(pushes.length).toBeLessThan(30);
    expect(await headOf(bare)).toBe(queue.head);
    await fsck(bare);
  });

  it('answers unchanged without a commit, and fails a throwing edit alone', async () => {
    const bare = await createBareRepo(root, `q-${++n}.git`, seedDir);
    const local = new LocalRemote({ gitdir: bare, branch: 'main' });
    stores.push(local.gitdir);
    const queue = new WriteQueue(local, { signature });
    await queue.refresh();
    const first = await queue.submit(write('notes/x.txt', 'x\n'));
    const head = await headOf(bare);
    const boom: Edit<null> = async () => {
      throw new Error('boom');
    };
    const [again, failed, other] = await Promise.allSettled([
      queue.submit(write('notes/x.txt', 'x\n')),
      queue.submit(boom),
      queue.submit(write('notes/y.txt', 'y\n')),
    ]);
    expect(first.configCommit).toBe(head);
    expect(again).toMatchObject({ status: 'fulfilled', value: { configCommit: null } });
    expect(failed).toMatchObject({ status: 'rejected' });
    expect(other.status).toBe('fulfilled');
    expect((await logOf(bare)).length).toBe(3);
  });
});

describe('WriteQueue on an HTTP remote', () => {
  let server: GitServer;
  beforeAll(async () => {
    server = await startGitServer({ root });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A fresh remote repo and an HttpRemote on it. */
  async function freshRemote(timeoutMs?: number) {
    const name = `q-${++n}.git`;
    const bare = await createBareRepo(root, name, seedDir);
    const real = new HttpRemote({
      url: server.url(name),
      branch: 'main',
      gitdir: join(root, `${name}-cache`),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    stores.push(real.gitdir);
    return { name, bare, real };
  }

  /** `real` with faults injected at the boundary (the real remote is tested as is elsewhere). */
  function faulty(real: HttpRemote, over: Partial<Pick<Remote, 'fetch' | 'push'>>): Remote {
    return {
      gitdir: real.gitdir,
      description: real.description,
      fetch: () => real.fetch(),
      fetchFull: () => real.fetchFull(),
      push: (o, nw, objs) => real.push(o, nw, objs),
      ...over,
    };
  }

  it('re-applies pending edits on top of a third party push (compare-and-swap)', async () => {
    const name = `q-${++n}.git`;
    const bare = await createBareRepo(root, name, seedDir);
    const remote = new HttpRemote({ url: server.url(name), branch: 'main', gitdir: join(root, `${name}-cache`) });
    stores.push(remote.gitdir);
    const results: string[] = [];
    const queue = new WriteQueue(remote, { signature, onPush: (e) => results.push(e.result) });
    await queue.refresh();
    await commitAndPush(await cloneRepo(server.url(name)), 'third-party.txt', 'hello\n', 'third party');
    const outcome = await queue.submit(write('notes/ours.txt', 'ours\n'));
    expect(results).toEqual(['rejected', 'ok']);
    expect(outcome.configCommit).toBe(await headOf(bare));
    expect(await showFile(bare, 'main', 'third-party.txt')).toBe('hello\n');
    expect(await showFile(bare, 'main', 'notes/ours.txt')).toBe('ours\n');
  });

  it('a push whose answer was lost but that landed resolves as committed, not unchanged', async () => {
    const { bare, real } = await freshRemote();
    // The push reaches the real server, then the answer is "lost" (a dropped connection).
    let drop = true;
    const lossy = faulty(real, {
      push: async (o, nw, objs): Promise<PushResult> => {
        const r = await real.push(o, nw, objs);
        if (r.ok && drop) {
          drop = false;
          return { ok: false, kind: 'unreachable', answer: 'ECONNRESET', detail: 'connection reset' };
        }
        return r;
      },
    });
    const queue = new WriteQueue(lossy, { signature });
    await queue.refresh();
    const outcome = await queue.submit(write('notes/once.txt', 'once\n'));
    expect(outcome.configCommit).not.toBeNull();
    expect(outcome.configCommit).toBe(await headOf(bare));
    const log = await logOf(bare);
    expect(log.filter((c) => c.message.startsWith('write notes/once.txt'))).toHaveLength(1);
  });

  it('a landed push whose answer was lost is found even when the next fetch fails first', async () => {
    const { bare, real } = await freshRemote();
    let drop = true;
    let failFetch = 0;
    const lossy = faulty(real, {
      fetch: async () => {
        if (failFetch-- > 0) throw new Error('network down');
        return real.fetch();
      },
      push: async (o, nw, objs): Promise<PushResult> => {
        const r = await real.push(o, nw, objs);
        if (r.ok && drop) {
          drop = false;
          failFetch = 1;
          return { ok: false, kind: 'unreachable', answer: 'ECONNRESET', detail: 'connection reset' };
        }
        return r;
      },
    });
    const queue = new WriteQueue(lossy, { signature, backoffMs: 5, maxUnreachable: 5 });
    await queue.refresh();
    const outcome = await queue.submit(write('notes/sticky.txt', 'sticky\n'));
    expect(outcome.configCommit).toBe(await headOf(bare));
    expect((await logOf(bare)).filter((c) => c.message.startsWith('write notes/sticky.txt'))).toHaveLength(1);
  });

  it('answers REPO_UNAVAILABLE when the push throws, and keeps serving afterwards', async () => {
    const { bare, real } = await freshRemote();
    let explode = true;
    const flaky = faulty(real, {
      push: async (o, nw, objs): Promise<PushResult> => {
        if (explode) {
          explode = false;
          throw new Error('ENOSPC: no space left on device');
        }
        return real.push(o, nw, objs);
      },
    });
    const queue = new WriteQueue(flaky, { signature });
    await queue.refresh();
    const head = await headOf(bare);
    const failed = await queue.submit(write('notes/a.txt', 'a\n')).catch((e: unknown) => e);
    expect(isKipError(failed, 'REPO_UNAVAILABLE')).toBe(true);
    expect(await headOf(bare)).toBe(head);
    const ok = await queue.submit(write('notes/b.txt', 'b\n'));
    expect(ok.configCommit).toBe(await headOf(bare));
  });

  it('gives up with REPO_UNAVAILABLE after bounded attempts, and writes nothing later', async () => {
    const name = `q-${++n}.git`;
    const bare = await createBareRepo(root, name, seedDir);
    const remote = new HttpRemote({
      url: server.url(name),
      branch: 'main',
      gitdir: join(root, `${name}-cache`),
      timeoutMs: 2000,
    });
    stores.push(remote.gitdir);
    const queue = new WriteQueue(remote, { signature, backoffMs: 5 });
    await queue.refresh();
    const head = await headOf(bare);
    server.setDown(true);
    let err: unknown;
    try {
      await queue.submit(write('notes/never.txt', 'never\n'));
    } catch (e) {
      err = e;
    } finally {
      server.setDown(false);
    }
    expect(isKipError(err, 'REPO_UNAVAILABLE')).toBe(true);
    await queue.refresh();
    await queue.idle();
    expect(await headOf(bare)).toBe(head);
  });

  // Review of issue #10: withdrawals and deadlines around pushes.
  it('never pushes an edit withdrawn while the batch was being rebuilt for another withdrawal', async () => {
    const { bare, real } = await freshRemote();
    const queue = new WriteQueue(real, { signature });
    await queue.refresh();
    const gone = { a: new AbortController(), b: new AbortController() };
    let runsOfB = 0;
    // A's caller leaves while A is first built; B's while the batch is built again without A.
    const a: Edit<string> = async (view) => {
      gone.a.abort();
      return write('notes/a.txt', 'a\n')(view);
    };
    const b: Edit<string> = async (view) => {
      if (++runsOfB === 2) gone.b.abort();
      return write('notes/b.txt', 'b\n')(view);
    };
    const c = queue.submit(write('notes/c.txt', 'c\n'));
    const results = await Promise.allSettled([
      queue.submit(a, { signal: gone.a.signal }),
      queue.submit(b, { signal: gone.b.signal }),
      c,
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    const log = await logOf(bare);
    expect(log.map((e) => e.message.trim())).toContain('write notes/c.txt');
    expect(log.some((e) => /notes\/(a|b)\.txt/.test(e.message))).toBe(false);
  });

  it('answers a landed edit with its commit even when its deadline passed while the head was being followed', async () => {
    const { bare, real } = await freshRemote();
    // Roomy enough for a whole real push on a busy box; the listener then holds the answer
    // until the deadline is well past, so it passes while the head is being followed.
    let deadline = Number.POSITIVE_INFINITY; // none yet: the refresh below is not held
    let followedPastDeadline = false;
    const onHead = async () => {
      const until = deadline;
      if (until === Number.POSITIVE_INFINITY) return;
      await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 100));
      followedPastDeadline = Date.now() > until;
    };
    const queue = new WriteQueue(real, { signature, onHead });
    await queue.refresh();
    deadline = Date.now() + 2_000;
    const outcome = await queue.submit(write('notes/slow.txt', 'slow\n'), { deadline });
    expect(followedPastDeadline).toBe(true);
    expect(Date.now()).toBeGreaterThan(deadline);
    expect(outcome.configCommit).toBe(await headOf(bare));
  });

  it('does not answer unchanged from a head that someone else moved since', async () => {
    const { name, bare, real } = await freshRemote();
    const queue = new WriteQueue(real, { signature });
    await queue.refresh();
    await queue.submit(write('notes/value.txt', 'mine\n'));
    // A human changes the value; the queue has not looked since.
    await commitAndPush(await cloneRepo(server.url(name)), 'notes/value.txt', 'theirs\n', 'human edit');
    const again = await queue.submit(write('notes/value.txt', 'mine\n'));
    expect(again.configCommit).not.toBeNull();
    expect(await showFile(bare, 'main', 'notes/value.txt')).toBe('mine\n');
  });
});
