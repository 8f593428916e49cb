/** Kipper's commit trailers (docs/design.md "Commits"), in the order they are written. */
export interface KipperTrailers {
  app?: string;
  image?: string;
  sourceCommit?: string;
  trigger?: string;
  promotedFrom?: string;
  rollbackTo?: string;
  /** Why (`--reason`): also the first paragraph of the body. */
  reason?: string;
  /** Who did it (docs/design.md "Who did it"): `webhook:<ns>/<app>`, `admin`, `admin (as <name>)`, a login, an email. */
  actor?: string;
  /** The CI run that asked for it (OIDC CI), a URL. */
  run?: string;
  /** The webhook's `Idempotency-Key`: a retry with it is answered from this commit (issue #18). */
  idempotencyKey?: string;
  /** Pull-request mode: the URL of the proposal that carries the commit (docs/protected-branches.md). */
  pullRequest?: string;
}

const KEYS: Array<[keyof KipperTrailers, string]> = [
  ['app', 'Kipper-App'],
  ['image', 'Kipper-Image'],
  ['sourceCommit', 'Kipper-Source-Commit'],
  ['trigger', 'Kipper-Trigger'],
  ['promotedFrom', 'Kipper-Promoted-From'],
  ['rollbackTo', 'Kipper-Rollback-To'],
  ['reason', 'Kipper-Reason'],
  ['actor', 'Kipper-Actor'],
  ['run', 'Kipper-Run'],
  ['idempotencyKey', 'Kipper-Idempotency-Key'],
  ['pullRequest', 'Kipper-Pull-Request'],
];

/**
 * Format a commit message: subject, the reason (when there is one) and the optional body
 * as paragraphs, then the trailer block.
 */
export function formatCommitMessage(subject: string, trailers: KipperTrailers, body?: string): string {
  const lines = KEYS.filter(([k]) => trailers[k] !== undefined).map(([k, name]) => `${name}: ${trailers[k]}`);
  const paragraphs = [trailers.reason, body].filter((p): p is string => Boolean(p));
  return `${subject}\n\n${paragraphs.map((p) => `${p}\n\n`).join('')}${lines.join('\n')}\n`;
}

/** Read Kipper trailers from the last paragraph of a commit message. */
export function parseTrailers(message: string): KipperTrailers {
  const paragraphs = message.trimEnd().split(/\n\s*\n/);
  const last = paragraphs.length > 1 ? (paragraphs[paragraphs.length - 1] ?? '') : '';
  const out: KipperTrailers = {};
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const entry = KEYS.find(([, name]) => name.toLowerCase() === m[1]!.toLowerCase());
    if (entry) out[entry[0]] = m[2]!;
  }
  return out;
}

/** The sha named by git's revert message (`This reverts commit <sha>.`), if any. */
export function revertedCommit(message: string): string | undefined {
  return /^This reverts commit ([0-9a-f]{7,64})\.?\s*$/m.exec(message)?.[1];
}
