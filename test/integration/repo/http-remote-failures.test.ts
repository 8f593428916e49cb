import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKipError, KipError } from '../../../src/errors.js';
import { HttpRemote, type HttpRemoteOptions } from '../../../src/repo/http-remote.js';
import { createBareRepo, headOf } from '../../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../../helpers/git-server.js';
import { KIPPER_SIG, makeAppsDir, utf8 } from './apps-fixture.js';

const TOKEN = 'ghp_s3cr3tT0kenThatMustNeverLeak0123456789';
const TIMEOUT_MS = 1_500;

let seedDir: string;
const cleanup: string[] = [];

async function store(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-store-'));
  cleanup.push(dir);
  return dir;
}

async function remoteFor(opts: Omit<HttpRemoteOptions, 'gitdir' | 'branch'>): Promise<HttpRemote> {
  return new HttpRemote({ branch: 'main', gitdir: await store(), timeoutMs: TIMEOUT_MS, ...opts });
}

/** Awaits a rejection and returns it as a KipError (fails the test otherwise). */
async function kipErrorOf(promise: Promise<unknown>): Promise<KipError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKipError(err)) throw new Error(`expected a KipError, got ${String(err)}`);
  return err;
}

/** The command lines (args joined by spaces) of the running processes whose command line contains `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited since the listing
    }
    const line = cmdline.split('\0').join(' ').trim();
    if (line.includes(text)) found.push(`${pid}: ${line}`);
  }
  return found;
}

/** A fetched remote with one commit written locally, ready to push. */
async function readyToPush(remote: HttpRemote) {
  const head = await remote.fetch();
  const written = await remote.gitdir.writeCommit({
    parent: head,
    files: new Map([['apps/a/deployment.yaml', utf8('image: x:2\n')]]),
    message: 'deploy',
    author: KIPPER_SIG,
    committer: KIPPER_SIG,
  });
  // Another reader of the same gitdir reads the disk: wait for the writes.
  await remote.gitdir.flush();
  return { head, ...written };
}

beforeAll(async () => {
  seedDir = await makeAppsDir(5);
  cleanup.push(seedDir);
});

afterAll(async () => {
  await Promise.all(cleanup.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })));
});

describe('HttpRemote when the server is not there', () => {
  it('fetch from a closed port throws REPO_UNAVAILABLE quickly; push answers unreachable', async () => {
    const server = await startGitServer();
    cleanup.push(server.root);
    await createBareRepo(server.root, 'r.git', seedDir);
    const remote = await remoteFor({ url: server.url('r.git') });
    const { head, oid, newObjects } = await readyToPush(remote);
    await server.close();

    const started = Date.now();
    const err = await kipErrorOf(remote.fetch());
    expect(err.code).toBe('REPO_UNAVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.data).toMatchObject({ remote: server.url('r.git'), branch: 'main' });
    expect(await remote.push(head, oid, newObjects)).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('a server answering 503 makes fetch throw REPO_UNAVAILABLE and push unreachable', async () => {
    const server = await startGitServer();
    cleanup.push(server.root);
    try {
      const bare = await createBareRepo(server.root, 'r.git', seedDir);
      const remote = await remoteFor({ url: server.url('r.git') });
      const { head, oid, newObjects } = await readyToPush(remote);
      server.setDown(true);
      expect((await kipErrorOf(remote.fetch())).data).toMatchObject({ status: 503 });
      const result = await remote.push(head, oid, newObjects);
      expect(result).toMatchObject({ ok: false, kind: 'unreachable' });
      expect(!result.ok && result.detail).toContain('HTTP 503');
      expect(await headOf(bare)).toBe(head);
      // Back up: the same push goes through.
      server.setDown(false);
      expect(await remote.push(head, oid, newObjects)).toEqual({ ok: true });
    } finally {
      await server.close();
    }
  });

  it('a server that never answers is cut off after timeoutMs, for fetch and for push', async () => {
    const git = await startGitServer();
    cleanup.push(git.root);
    await createBareRepo(git.root, 'r.git', seedDir);
    const remote0 = await remoteFor({ url: git.url('r.git') });
    const { head, oid, newObjects } = await readyToPush(remote0);
    await git.close();

    // Accepts connections and requests, answers nothing.
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const remote = new HttpRemote({
        url: `http://127.0.0.1:${port}/r.git`,
        branch: 'main',
        gitdir: remote0.gitdir.path,
        timeoutMs: TIMEOUT_MS,
      });
      let started = Date.now();
      const err = await kipErrorOf(remote.fetch());
      expect(err.code).toBe('REPO_UNAVAILABLE');
      expect(err.message).toContain('timed out');
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);

      // First fetch into an empty store: `git fetch`, bounded by the same timeout.
      const fresh = await remoteFor({ url: `http://127.0.0.1:${port}/r.git` });
      started = Date.now();
      expect((await kipErrorOf(fresh.fetch())).message).toContain('timed out');
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);

      started = Date.now();
      const result = await remote.push(head, oid, newObjects);
      expect(result).toMatchObject({ ok: false, kind: 'unreachable' });
      expect(!result.ok && result.detail).toContain('timed out');
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1_000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a git fetch given up for a server that stops mid-way leaves no git process behind', async () => {
    const server = await startGitServer();
    cleanup.push(server.root);
    await createBareRepo(server.root, 'r.git', seedDir);
    // The ref advertisement answers (from the real server); the fetch's POST never does.
    // While that POST hangs, the git processes sending it are alive: seen then, the detector works.
    let whilePending: Promise<string[]> | undefined;
    let mark = '';
    const halfway: Server = createServer((req, res) => {
      if (req.method !== 'GET') {
        whilePending ??= processesMentioning(mark);
        return;
      }
      fetch(server.url(req.url!.slice(1)))
        .then(async (r) => {
          res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') ?? '' });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => halfway.listen(0, '127.0.0.1', resolve));
    const { port } = halfway.address() as AddressInfo;
    mark = `127.0.0.1:${port}`;
    try {
      const remote = await remoteFor({ url: `http://127.0.0.1:${port}/r.git` });
      expect((await kipErrorOf(remote.fetch())).code).toBe('REPO_UNAVAILABLE');
      const seen = await whilePending;
      expect(seen, 'the fetch never sent its POST').toBeDefined();
      expect(seen!.length, 'no process named the server while the POST hung').toBeGreaterThan(0);
      // git fetch ran `git remote-http` for the transfer: it must be gone with it (given up to 5 s to exit).
      const deadline = Date.now() + 5_000;
      let left = await processesMentioning(mark);
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        left = await processesMentioning(mark);
      }
      expect(left).toEqual([]);
    } finally {
      halfway.closeAllConnections();
      await new Promise<void>((resolve) => halfway.close(() => resolve()));
      await server.close();
    }
  });

  it('a missing branch or repo is REPO_UNAVAILABLE with what to fix', async () => {
    const server = await startGitServer();
    cleanup.push(server.root);
    try {
      await createBareRepo(server.root, 'r.git', seedDir);
      const noBranch = await remoteFor({ url: server.url('r.git') });
      const wrongBranch = new HttpRemote({
        url: server.url('r.git'),
        branch: 'nope',
        gitdir: noBranch.gitdir.path,
        timeoutMs: TIMEOUT_MS,
      });
      const err = await kipErrorOf(wrongBranch.fetch());
      expect(err.code).toBe('REPO_UNAVAILABLE');
      expect(err.message).toContain('KIPPER_REPO_BRANCH');
      const missingRepo = await kipErrorOf((await remoteFor({ url: server.url('missing.git') })).fetch());
      expect(missingRepo.code).toBe('REPO_UNAVAILABLE');
      expect(missingRepo.data).toMatchObject({ status: 404 });
    } finally {
      await server.close();
    }
  });
});

describe('HttpRemote credentials', () => {
  let server: GitServer;
  let bare: string;

  beforeAll(async () => {
    server = await startGitServer({ auth: { username: 'x-access-token', password: TOKEN } });
    cleanup.push(server.root);
    bare = await createBareRepo(server.root, 'private.git', seedDir);
  });

  afterAll(async () => {
    await server.close();
  });

  it('a token alone is sent as x-access-token and can fetch and push', async () => {
    const remote = await remoteFor({ url: server.url('private.git'), token: TOKEN });
    const { head, oid, newObjects } = await readyToPush(remote);
    expect(await remote.push(head, oid, newObjects)).toEqual({ ok: true });
    expect(await headOf(bare)).toBe(oid);
    expect(remote.description).toBe(server.url('private.git'));
    expect(remote.description).not.toContain(TOKEN);
  });

  it('credentials inside the URL work and never show in description', async () => {
    const url = server.url('private.git').replace('http://', `http://x-access-token:${TOKEN}@`);
    const remote = await remoteFor({ url });
    expect(await remote.fetch()).toBe(await headOf(bare));
    expect(remote.description).toBe(server.url('private.git'));
  });

  it('wrong credentials give a clear error that never contains the secret', async () => {
    const wrong = `${TOKEN}-wrong`;
    const remote = await remoteFor({ url: server.url('private.git'), username: 'someone', token: wrong });
    const err = await kipErrorOf(remote.fetch());
    expect(err.code).toBe('REPO_UNAVAILABLE');
    expect(err.message).toMatch(/refused the credentials \(HTTP 401\).*KIPPER_GIT_TOKEN/);
    expect(err.data).toMatchObject({ status: 401 });
    const everything = `${err.message} ${JSON.stringify(err.data)} ${err.stack ?? ''} ${remote.description}`;
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(Buffer.from(`someone:${wrong}`).toString('base64'));

    // Push with the objects of a working remote, through the wrong credentials.
    const good = await remoteFor({ url: server.url('private.git'), token: TOKEN });
    const { head, oid, newObjects } = await readyToPush(good);
    const badPusher = new HttpRemote({
      url: server.url('private.git'),
      branch: 'main',
      gitdir: good.gitdir.path,
      token: wrong,
      timeoutMs: TIMEOUT_MS,
    });
    const result = await badPusher.push(head, oid, newObjects);
    expect(result).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(!result.ok && result.detail).toContain('refused the credentials');
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('no credentials at all says which variable to set', async () => {
    const err = await kipErrorOf((await remoteFor({ url: server.url('private.git') })).fetch());
    expect(err.code).toBe('REPO_UNAVAILABLE');
    expect(err.message).toContain('set KIPPER_GIT_TOKEN');
  });

  it('an unusable URL is CONFIG_INVALID without echoing it', async () => {
    const gitdir = await store();
    expect(() => new HttpRemote({ url: `not a url ${TOKEN}`, branch: 'main', gitdir })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.not.stringContaining(TOKEN) }),
    );
    expect(() => new HttpRemote({ url: 'ssh://git@example.com/repo.git', branch: 'main', gitdir })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
