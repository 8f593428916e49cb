import type { NotificationEvent, NotifyEventName } from './events.js';

/**
 * A Slack incoming webhook: `https://hooks.slack.com/services/T…/B…/…`
 * (https://api.slack.com/messaging/webhooks). Those take a message (`text`, `blocks`) and
 * answer 400 `invalid_payload` to anything else, so they get slack.ts's format.
 *
 * Workflow Builder webhooks (`hooks.slack.com/triggers/…`, formerly `/workflows/…`) are
 * not: they take the workflow's own variables as flat JSON, which is what the JSON
 * event is, so they get it unchanged. Anything else that wants Slack's format (a proxy,
 * GovSlack) says `format: slack` in kipper.yaml.
 */
export function isSlackIncomingWebhook(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'https:' && u.hostname === 'hooks.slack.com' && u.pathname.startsWith('/services/');
}

/** A Slack message: `text` is the one-line fallback (notifications, screen readers), `blocks` what is shown. */
export interface SlackMessage {
  text: string;
  blocks: Array<{ type: 'section'; text: { type: 'mrkdwn'; text: string } }>;
}

const LABELS: Record<NotifyEventName, string> = {
  deployed: 'deployed',
  rolled_back: 'rolled back',
  locked: 'locked',
  unlocked: 'unlocked',
  refused: 'deploy refused',
  healthy: 'healthy',
  degraded: 'degraded',
};

// Block Kit: a section's text is 1 to 3000 characters
// (https://docs.slack.dev/reference/block-kit/blocks/section-block), counted after
// escaping. Each value is cut to its share, and the lines that do not fit are cut or
// left out, the link kept.
const SECTION_MAX = 3_000;
const LINK_MAX = 500;
const SHORT = 200;
const LONG = 1_000;

/**
 * The Slack message for `e`: the one-line summary as `text`, and one mrkdwn section
 * with what is known (image, revision, commits, trigger, reason, author, error, link).
 */
export function slackMessage(e: NotificationEvent): SlackMessage {
  const summary = escapeCut(summaryOf(e), SHORT);
  const lines = [`*${summary}*`];
  const field = (name: string, value: string | number | null, max = SHORT, code = false): void => {
    if (value === null || value === '') return;
    const text = escapeCut(oneLine(String(value)), max);
    lines.push(`*${name}:* ${code ? `\`${text.replace(/`/g, "'")}\`` : text}`);
  };
  field('Image', e.image, SHORT, true);
  field('Revision', e.revision);
  field('Commit', e.commit, SHORT, true);
  field('Config commit', e.configCommit, SHORT, true);
  field('Trigger', e.trigger);
  field('Reason', e.reason, LONG);
  field('Author', e.author);
  if (e.event === 'refused') field('Error', `${e.error} (${e.code})`, LONG);
  const link = linkOf(e.url);
  return { text: summary, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: fit(lines, link) } }] };
}

/** The lines joined within SECTION_MAX, room kept for the link: the first line that does not fit is cut, the rest left out. */
function fit(lines: string[], link: string | null): string {
  const max = SECTION_MAX - (link ? link.length + 1 : 0);
  let text = '';
  for (const line of lines) {
    const joined = text ? `${text}\n${line}` : line;
    if (joined.length <= max) {
      text = joined;
      continue;
    }
    const room = max - text.length - 1;
    if (room > 40) text = `${text}\n${cutEscaped(line, room)}`;
    break;
  }
  return link ? `${text}\n${link}` : text;
}

/** `team/api deployed revision 12: ghcr.io/acme/api:1.4.2`, in one line. */
function summaryOf(e: NotificationEvent): string {
  const revision = e.revision === null ? '' : ` revision ${e.revision}`;
  const what = e.image ?? (e.commit ? `commit ${e.commit.slice(0, 12)}` : null);
  const state =
    e.event === 'healthy' || e.event === 'degraded'
      ? `${revision.trimStart() || 'rollout'} is ${LABELS[e.event]}`
      : `${LABELS[e.event]}${revision}`;
  return oneLine(`${e.app} ${state}${what ? `: ${what}` : ''}`);
}

/** `<url|Open>` for an http(s) link; Slack's link syntax has no escape for `|` and `>`, so they are percent-encoded. */
function linkOf(url: string | null): string | null {
  if (!url || !/^https?:\/\//i.test(url) || url.length > LINK_MAX) return null;
  const safe = url.replace(/[|<>\s]/g, (c) => encodeURIComponent(c));
  return `<${safe}|Open>`;
}

/** Slack's mrkdwn reserves `&`, `<` and `>`: https://api.slack.com/reference/surfaces/formatting#escaping */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `text` escaped, at most `max` characters once escaped. */
function escapeCut(text: string, max: number): string {
  return cutEscaped(escape(text), max);
}

/** Escaped text cut to `max` characters with `…`, never inside an entity or a surrogate pair. */
function cutEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text
    .slice(0, max - 1)
    .replace(/&[a-z]*$/, '')
    .replace(/[\ud800-\udbff]$/, '');
  return `${cut}…`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ');
}
