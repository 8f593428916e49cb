import { parseTrailers, type KipperTrailers } from '../../history/trailers.js';

/** The branch that carries an app's proposal: only the bridge writes it (docs/protected-branches.md). */
export function proposalBranch(appId: string): string {
  return `kipper/${appId}`;
}

/**
 * The body of a proposal: what it deploys for a reviewer, then the commit's trailers, so
 * that a squash merge (whose message is the title and this body) still tells history
 * which app, image and trigger it was.
 */
export function proposalBody(message: string): string {
  const paragraphs = message.trimEnd().split(/\n\s*\n/);
  const trailers = paragraphs.at(-1) ?? '';
  const middle = paragraphs.slice(1, -1);
  return [
    'Opened by the Kipper bridge: merging deploys it. A newer deploy replaces this change; do not push to this branch.',
    ...middle,
    trailers,
  ].join('\n\n');
}

/** The trailers a proposal's body carries (see `proposalBody`). */
export function bodyTrailers(body: string): KipperTrailers {
  return parseTrailers(body.replace(/\r\n/g, '\n'));
}

/** The subject line of a commit message (the proposal's title). */
export function subjectOf(message: string): string {
  return message.split('\n', 1)[0] ?? '';
}
