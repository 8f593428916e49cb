/**
 * Async helpers around the native git CLI for tests: the independent witness of what
 * our own object writes and pushes did. Always `execFile` with an argument array (no
 * shell), and never synchronously: a test process that also serves `git http-backend`
 * would deadlock waiting on itself.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/** Fixed identity and no user/system config, so results do not depend on the machine. */
export const GIT_TEST_ENV: Readonly<Record<string, string>> = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Third Party',
  GIT_AUTHOR_EMAIL: 'third.party@example.com',
  GIT_COMMITTER_NAME: 'Third Party',
  GIT_COMMITTER_EMAIL: 'third.party@example.com',
  LC_ALL: 'C',
};

export interface GitOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** Runs `git <args>` and resolves with stdout; rejects with stderr in the message. */
export function git(args: readonly string[], opts: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      {
        cwd: opts.cwd,
        env: { ...process.env, ...GIT_TEST_ENV, ...opts.env },
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`git ${args.join(' ')} failed: ${stderr || err.message}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/**
 * Creates `<root>/<name>` as a bare repo that refuses non-fast-forward pushes and
 * accepts pushes over http-backend. With `seedDir`, its files become the first commit
 * on `branch` (written through a temporary index, no clone needed). Returns the path.
 */
export async function createBareRepo(root: string, name: string, seedDir?: string, branch = 'main'): Promise<string> {
  const bare = join(root, name);
  await mkdir(bare, { recursive: true });
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
  await git(['--git-dir', bare, 'config', 'receive.denyNonFastForwards', 'true']);
  await git(['--git-dir', bare, 'config', 'http.receivepack', 'true']);
  if (seedDir !== undefined) {
    const tmp = await mkdtemp(join(tmpdir(), 'kip-seed-index-'));
    try {
      const env = { GIT_INDEX_FILE: join(tmp, 'index') };
      await git(['--git-dir', bare, '--work-tree', seedDir, 'add', '--all', '.'], { env });
      const tree = (await git(['--git-dir', bare, 'write-tree'], { env })).trim();
      const commit = (await git(['--git-dir', bare, 'commit-tree', tree, '-m', 'seed config repo'], { env })).trim();
      await git(['--git-dir', bare, 'update-ref', `refs/heads/${branch}`, commit]);
      // Packed, like any server repo that received its history by a push; thousands of
      // loose objects would make every server-side connectivity check slow.
      await git(['--git-dir', bare, 'repack', '-a', '-d', '-q']);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return bare;
}

/** The commit id `branch` points at in a bare repo. */
export async function headOf(bareDir: string, branch = 'main'): Promise<string> {
  return (await git(['--git-dir', bareDir, 'rev-parse', '--verify', `refs/heads/${branch}^{commit}`])).trim();
}

export interface LogEntry {
  oid: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  /** Full raw message (%B). */
  message: string;
}

/** First-parent log of `branch`, newest first, read by native git. */
export async function logOf(bareDir: string, branch = 'main', max = 50): Promise<LogEntry[]> {
  // %x00 / %x01 as separators: a commit message can contain anything printable.
  const out = await git([
    '--git-dir',
    bareDir,
    'log',
    '--first-parent',
    `--max-count=${max}`,
    '--format=%H%x00%P%x00%an%x00%ae%x00%B%x01',
    `refs/heads/${branch}`,
  ]);
  return out
    .split('\x01')
    .map((chunk) => chunk.replace(/^\n/, ''))
    .filter((chunk) => chunk.length > 0)
    .map((chunk) => {
      const [oid = '', parents = '', authorName = '', authorEmail = '', message = ''] = chunk.split('\x00');
      return { oid, parents: parents.split(' ').filter(Boolean), authorName, authorEmail, message };
    });
}

/** `git show <rev>:<path>` of a bare repo, as text. */
export function showFile(bareDir: string, rev: string, path: string): Promise<string> {
  return git(['--git-dir', bareDir, 'show', `${rev}:${path}`]);
}

/** `git fsck --strict` of a repo; rejects when git finds any error. */
export function fsck(gitDir: string): Promise<string> {
  return git(['--git-dir', gitDir, 'fsck', '--strict', '--no-dangling', '--no-progress']);
}

/** Clones `url` into a new temp dir with the native CLI and returns the dir. */
export async function cloneRepo(url: string, branch = 'main'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-clone-'));
  await git(['clone', '--quiet', '--branch', branch, url, dir]);
  return dir;
}

/** In a clone: writes `path`, commits it as the third party and pushes; returns the new commit id. */
export async function commitAndPush(
  cloneDir: string,
  path: string,
  content: string,
  message: string,
  branch = 'main',
): Promise<string> {
  // A relative "dir" (say, a URL passed by mistake) would commit into whatever repo holds
  // the test's cwd: this project's own.
  if (!isAbsolute(cloneDir)) throw new Error(`commitAndPush needs a clone directory, got ${cloneDir}`);
  await mkdir(dirname(join(cloneDir, path)), { recursive: true });
  await writeFile(join(cloneDir, path), content);
  await git(['add', '--', path], { cwd: cloneDir });
  await git(['commit', '--quiet', '-m', message], { cwd: cloneDir });
  await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], { cwd: cloneDir });
  return (await git(['rev-parse', 'HEAD'], { cwd: cloneDir })).trim();
}
