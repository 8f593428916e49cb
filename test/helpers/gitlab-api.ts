/**
 * A double of GitLab's v4 REST API for merge requests, over real HTTP, in front of a real
 * bare repo (host-proposals.ts). Paths, fields and status codes as GitLab's REST docs
 * (https://docs.gitlab.com/api/merge_requests/) give them: `GET|POST
 * /projects/:id/merge_requests` (201; 409 "Another open merge request already exists for
 * this source branch"), `GET|PUT /projects/:id/merge_requests/:merge_request_iid`
 * (`state_event: close`), `PUT …/merge` with `sha` (200; 405 not mergeable; 409 "SHA does
 * not match HEAD of source branch"); fields `iid`, `web_url`, `state` (`opened`, `closed`,
 * `merged`), `sha`, `detailed_merge_status`, `description`, `labels`. Auth: `PRIVATE-TOKEN`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJson } from './github-pulls.js';
import { ProposalStore, type StoredProposal } from './host-proposals.js';

export interface GitlabApi {
  /** The API base, ending in /api/v4 (KIPPER_GITLAB_API_URL). */
  url: string;
  store: ProposalStore;
  close(): Promise<void>;
}

/** Serves the merge requests of project `project` (its path, e.g. `acme/config`), whose bare repo is `bare`. */
export async function startGitlabApi(opts: {
  bare: string;
  project: string;
  token: string;
  webUrl?: string;
}): Promise<GitlabApi> {
  const store = new ProposalStore(opts.bare);
  const web = opts.webUrl ?? `https://gitlab.example.com/${opts.project}`;
  const json = async (p: StoredProposal) => ({
    id: 5000 + p.number,
    iid: p.number,
    project_id: 42,
    title: p.title,
    description: p.body,
    state: p.state === 'open' ? 'opened' : p.state,
    source_branch: p.branch,
    target_branch: p.target,
    labels: p.labels,
    web_url: `${web}/-/merge_requests/${p.number}`,
    sha: await store.head(p),
    merge_commit_sha: p.mergeCommit,
    // https://docs.gitlab.com/api/merge_requests/#merge-status: mergeable, ci_still_running, not_open, …
    detailed_merge_status: p.state !== 'open' ? 'not_open' : p.checks === 'success' ? 'mergeable' : 'ci_still_running',
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    store.calls.push(`${req.method} ${url.pathname}`);
    if (req.headers['private-token'] !== opts.token) return send(401, { message: '401 Unauthorized' });
    const body = (await readJson(req)) as Record<string, unknown>;
    // The project id is its URL-encoded path (`acme%2Fconfig`).
    const prefix = `/api/v4/projects/${encodeURIComponent(opts.project)}/merge_requests`;
    const raw = req.url?.split('?')[0] ?? '';
    if (!raw.startsWith(prefix)) return send(404, { message: '404 Project Not Found' });
    const path = raw.slice(prefix.length);
    if (path === '' && req.method === 'GET') {
      const state = url.searchParams.get('state');
      const source = url.searchParams.get('source_branch');
      const target = url.searchParams.get('target_branch');
      const found = store.proposals.filter(
        (p) =>
          (state === null || state === 'all' || (state === 'opened' ? p.state === 'open' : p.state === state)) &&
          (source === null || p.branch === source) &&
          (target === null || p.target === target),
      );
      return send(200, await Promise.all(found.map(json)));
    }
    if (path === '' && req.method === 'POST') {
      const {
        source_branch: source,
        target_branch: target,
        title,
        description,
        labels,
      } = body as Record<string, string | undefined>;
      if (!source || !target || !title)
        return send(400, { message: 'source_branch, target_branch, title are missing' });
      const open = store.openFor(source, target);
      if (open)
        return send(409, {
          message: [`Another open merge request already exists for this source branch: !${open.number}`],
        });
      const p = store.create({
        branch: source,
        target,
        title,
        body: description ?? '',
        labels: labels ? labels.split(',') : [],
        by: 'kipper-bot',
      });
      return send(201, await json(p));
    }
    const one = /^\/(\d+)(\/merge)?$/.exec(path);
    const p = one ? store.find(Number(one[1])) : undefined;
    if (!one || !p) return send(404, { message: '404 Not found' });
    if (one[2] && req.method === 'PUT') {
      const merged = await store.merge(p, {
        ...(typeof body.sha === 'string' ? { sha: body.sha } : {}),
        by: { name: 'kipper-bot', email: 'bot@example.com' },
        message: gitlabMergeMessage(opts.project),
      });
      if (merged.ok) return send(200, await json(p));
      if (merged.why === 'moved') return send(409, { message: 'SHA does not match HEAD of source branch' });
      return send(405, { message: '405 Method Not Allowed' });
    }
    if (!one[2] && req.method === 'GET') return send(200, await json(p));
    if (!one[2] && req.method === 'PUT') {
      if (typeof body.title === 'string') p.title = body.title;
      if (typeof body.description === 'string') p.body = body.description;
      if (body.state_event === 'close' && p.state === 'open') await store.close(p);
      return send(200, await json(p));
    }
    return send(404, { message: '404 Not found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(err) })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v4`;
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

/** GitLab's default merge commit message (`Merge branch '<source>' into '<target>'`, the title, `See merge request <path>!<iid>`). */
export function gitlabMergeMessage(project: string): (p: StoredProposal) => string {
  return (p) =>
    `Merge branch '${p.branch}' into '${p.target}'\n\n${p.title}\n\nSee merge request ${project}!${p.number}`;
}
