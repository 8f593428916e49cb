import { z } from 'zod';
import { NOTIFY_EVENTS, type NotifyEventName } from './events.js';
import { isSlackIncomingWebhook } from './slack.js';

/** What a target's body is: the JSON event, or a Slack message (slack.ts). */
export const NOTIFY_FORMATS = ['json', 'slack'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** Where notifications go. */
export interface NotifyTarget {
  url: string;
  /** Only these events; absent: all of them. */
  events?: readonly NotifyEventName[] | undefined;
  /** Absent: `slack` for a Slack incoming webhook URL, else `json`. */
  format?: NotifyFormat | undefined;
}

/** The body format a target gets: its own `format`, else decided by its URL. */
export function formatOf(target: NotifyTarget): NotifyFormat {
  return target.format ?? (isSlackIncomingWebhook(target.url) ? 'slack' : 'json');
}

/**
 * Why `url` cannot be a target, or null. http is allowed, not only https: receivers
 * inside the cluster (`http://receiver.ops.svc:8080/`) are plain http, and the body is
 * signed either way. Credentials before the host (`user:pass@`) are refused because
 * fetch refuses them; a token belongs in the path or the receiver checks the signature.
 * Messages never repeat the URL: it may carry a token (Slack's does).
 */
export function urlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (u.username !== '' || u.password !== '')
    return 'must not carry a user or password before the host (put a token in the path; receivers check the signature)';
  return null;
}

/**
 * A URL as logs may show it: scheme and host only, `https://hooks.slack.com/…`. The
 * path and query often are the credential (Slack's `/services/T…/B…/<token>`).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const rest = (u.pathname !== '/' && u.pathname !== '') || u.search !== '' ? '/…' : '';
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return '(invalid URL)';
  }
}

const targetUrl = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const problem = urlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((v) => new URL(v).href);

/** One entry of kipper.yaml `notifications:`. */
export const notificationTargetSchema = z
  .object({
    url: targetUrl,
    events: z
      .array(z.enum(NOTIFY_EVENTS, { message: `must be one of ${NOTIFY_EVENTS.join(', ')}` }))
      .min(1, 'list at least one event, or leave `events` out for all of them')
      .optional(),
    format: z.enum(NOTIFY_FORMATS, { message: `must be ${NOTIFY_FORMATS.join(' or ')}` }).optional(),
  })
  .strict();

/**
 * kipper.yaml `notifications:`, for the file's schema (config/kipper-file.ts):
 *
 *   notifications:
 *     - url: http://deploy-log.ops.svc:8080/kipper
 *       events: [deployed, rolled_back, refused]   # optional filter, default all
 *     - url: https://chat.example.com/slack-proxy
 *       format: slack                              # optional, default by URL
 *
 * Absent or null is no targets. kipper.yaml is readable by everyone who can read the
 * config repo: a URL that is itself a secret (Slack's) belongs in KIPPER_NOTIFY_URL.
 */
export const notificationsSchema = z
  .array(notificationTargetSchema)
  .nullish()
  .transform((v): NotifyTarget[] => v ?? []);

/**
 * KIPPER_NOTIFY_URL, for the environment's schema (config/settings.ts): one URL, or
 * several separated by commas or whitespace (a URL with a comma in it goes in
 * kipper.yaml). Each gets every event in the format its URL says.
 */
export const notifyUrlEnvSchema = z
  .string()
  .optional()
  .transform((value, ctx): NotifyTarget[] => {
    const urls = (value ?? '').split(/[\s,]+/).filter((u) => u !== '');
    const targets: NotifyTarget[] = [];
    for (const [i, url] of urls.entries()) {
      const problem = urlProblem(url);
      if (problem)
        ctx.addIssue({
          code: 'custom',
          message: urls.length > 1 ? `URL ${i + 1} of ${urls.length} ${problem}` : problem,
        });
      else targets.push({ url: new URL(url).href });
    }
    return targets;
  });

/**
 * The targets of KIPPER_NOTIFY_URL and of kipper.yaml together. A URL in both is one
 * target, as kipper.yaml says (its event filter and format), so that a receiver never
 * gets an event twice.
 */
export function mergeTargets(fromEnv: readonly NotifyTarget[], fromFile: readonly NotifyTarget[]): NotifyTarget[] {
  const inFile = new Set(fromFile.map((t) => t.url));
  return [...fromEnv.filter((t) => !inFile.has(t.url)), ...fromFile];
}
