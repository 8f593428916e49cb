/**
 * A double of GitHub's REST API for pull requests, over real HTTP, in front of a real
 * bare repo (host-proposals.ts). Paths, fields and status codes follow GitHub's published
 * OpenAPI description (github/rest-api-description, `descriptions/api.github.com/
 * api.github.com.json`): operations `pulls/list`, `pulls/create` (201; 422 "A pull
 * request already exists"), `pulls/get`, `pulls/update`, `pulls/merge` (200 `{sha,
 * merged, message}`; 405 not mergeable; 409 "Head branch was modified"), and
 * `issues/add-labels`; schema `pull-request` (`number`, `html_url`, `state`, `merged`,
 * `mergeable_state`, `head.sha`, …). Only what the bridge uses, field for field.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProposalStore, type StoredProposal } from './host-proposals.js';

export interface GithubPulls {
  /** The API base (KIPPER_GITHUB_API_URL). */
  url: string;
  store: ProposalStore;
  close(): Promise<void>;
}

/** Serves `/repos/{owner}/{repo}/pulls…` for the one repo `owner/repo`, whose bare repo is `bare`; requests need `token`. */
export async function startGithubPulls(opts: {
  bare: string;
  owner: string;
  repo: string;
  token: string;
  webUrl?: string;
}): Promise<GithubPulls> {
  const store = new ProposalStore(opts.bare);
  const web = opts.webUrl ?? `https://github.example.com/${opts.owner}/${opts.repo}`;
  const json = async (p: StoredProposal) => {
    const head = await store.head(p);
    const mergeable = p.state === 'open' && p.checks === 'success';
    return {
      url: `${base}/repos/${opts.owner}/${opts.repo}/pulls/${p.number}`,
      id: 1000 + p.number,
      number: p.number,
      html_url: `${web}/pull/${p.number}`,
      state: p.state === 'open' ? 'open' : 'closed',
      title: p.title,
      body: p.body,
      user: { login: p.createdBy },
      labels: p.labels.map((name, i) => ({ id: i + 1, name })),
      merged: p.state === 'merged',
      merged_at: p.state === 'merged' ? new Date().toISOString() : null,
      merge_commit_sha: p.mergeCommit,
      mergeable: p.state === 'open' ? true : null,
      // https://docs.github.com/en/graphql/reference/enums#mergestatestatus: clean, blocked, dirty, …
      mergeable_state: mergeable ? 'clean' : p.state === 'open' ? 'blocked' : 'unknown',
      head: { label: `${opts.owner}:${p.branch}`, ref: p.branch, sha: head },
      base: { label: `${opts.owner}:${p.target}`, ref: p.target, sha: (await store.headOf(p.target)) ?? '' },
    };
  };
  const prefix = `/repos/${opts.owner}/${opts.repo}`;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    store.calls.push(`${req.method} ${url.pathname}`);
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${opts.token}` && auth !== `Bearer ${opts.token}`)
      return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    const body = await readJson(req);
    if (!url.pathname.startsWith(prefix)) return send(404, { message: 'Not Found' });
    const path = url.pathname.slice(prefix.length);
    if (path === '/pulls' && req.method === 'GET') {
      const state = url.searchParams.get('state') ?? 'open';
      const head = url.searchParams.get('head');
      const baseRef = url.searchParams.get('base');
      const found = store.proposals.filter(
        (p) =>
          (state === 'all' || (state === 'open' ? p.state === 'open' : p.state !== 'open')) &&
          (head === null || head === `${opts.owner}:${p.branch}`) &&
          (baseRef === null || baseRef === p.target),
      );
      return send(200, await Promise.all(found.map(json)));
    }
    if (path === '/pulls' && req.method === 'POST') {
      const {
        title,
        head,
        base: target,
        body: text,
      } = body as { title?: string; head?: string; base?: string; body?: string };
      if (!title || !head || !target)
        return send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', code: 'missing_field' }],
        });
      if (store.openFor(head, target)) {
        return send(422, {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'PullRequest',
              code: 'custom',
              message: `A pull request already exists for ${opts.owner}:${head}.`,
            },
          ],
        });
      }
      if ((await store.headOf(head)) === null)
        return send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
        });
      return send(201, await json(store.create({ branch: head, target, title, body: text ?? '', by: 'kipper-bot' })));
    }
    const one = /^\/pulls\/(\d+)(\/merge)?$/.exec(path);
    const labels = /^\/issues\/(\d+)\/labels$/.exec(path);
    if (labels && req.method === 'POST') {
      const p = store.find(Number(labels[1]));
      if (!p) return send(404, { message: 'Not Found' });
      p.labels.push(...((body as { labels?: string[] }).labels ?? []).filter((l) => !p.labels.includes(l)));
      return send(
        200,
        p.labels.map((name, i) => ({ id: i + 1, name })),
      );
    }
    const p = one ? store.find(Number(one[1])) : undefined;
    if (!one || !p) return send(404, { message: 'Not Found' });
    if (one[2] && req.method === 'PUT') {
      const { sha, merge_method: method } = body as { sha?: string; merge_method?: 'merge' | 'squash' | 'rebase' };
      const merged = await store.merge(p, {
        ...(sha ? { sha } : {}),
        method: method ?? 'merge',
        by: { name: 'kipper-bot', email: 'bot@example.com' },
      });
      if (merged.ok)
        return send(200, { sha: merged.commit, merged: true, message: 'Pull Request successfully merged' });
      if (merged.why === 'moved')
        return send(409, { message: 'Head branch was modified. Review and try the merge again.' });
      return send(405, { message: 'Pull Request is not mergeable' });
    }
    if (!one[2] && req.method === 'GET') return send(200, await json(p));
    if (!one[2] && req.method === 'PATCH') {
      const change = body as { title?: string; body?: string; state?: string };
      if (change.title !== undefined) p.title = change.title;
      if (change.body !== undefined) p.body = change.body;
      if (change.state === 'closed' && p.state === 'open') await store.close(p);
      return send(200, await json(p));
    }
    return send(404, { message: 'Not Found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(err) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    store,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The request's JSON body, or {} without one. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : {};
}
