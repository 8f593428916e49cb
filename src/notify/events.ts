/**
 * What a notification tells a receiver (docs/design.md "Notifications"): one flat JSON
 * object per event, the same fields for every event, null where the bridge does not know.
 */

/** Every event a target can receive (and filter on, kipper.yaml `notifications[].events`). */
export const NOTIFY_EVENTS = [
  'deployed',
  'rolled_back',
  'locked',
  'unlocked',
  'refused',
  'healthy',
  'degraded',
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** The fields every event carries, in the order they are sent. */
interface EventFields {
  /** `<namespace>/<app>`. */
  app: string;
  /** The history revision the event is about, when there is one. */
  revision: number | null;
  /** The image deployed (or rolled back to); null for a git-source app or when unknown. */
  image: string | null;
  /** The source commit the image was built from, or a git-source app's commit. */
  commit: string | null;
  /** The bridge's commit in the config repo. */
  configCommit: string | null;
  /** `webhook`, `manual`, `promotion`, `rollback`, … as history records it. */
  trigger: string | null;
  /** Why, as the person said it (`--reason`, a lock's reason). */
  reason: string | null;
  /** Who asked for it, when the bridge knows. */
  author: string | null;
  /** Who did it, as git records it (`Kipper-Actor`, docs/design.md "Who did it"). */
  actor: string | null;
  /** A link for humans: the config commit in the git host's UI, or the app in the console. */
  url: string | null;
  /** When the bridge saw it happen (ISO 8601). */
  at: string;
}

/** Any event but `refused`. */
export interface OutcomeEvent extends EventFields {
  event: Exclude<NotifyEventName, 'refused'>;
}

/** A deploy the bridge answered with a 5xx: its error answer (`code`, `error`) comes along. */
export interface RefusedEvent extends EventFields {
  event: 'refused';
  /** The stable error code (`REPO_UNAVAILABLE`, `PUSH_REJECTED`, …). */
  code: string;
  /** The error message the caller got. */
  error: string;
}

/** One notification, as POSTed to a JSON target. */
export type NotificationEvent = OutcomeEvent | RefusedEvent;

type Known = Partial<Omit<EventFields, 'app' | 'at'>> & { app: string; at?: Date | string };

/** What a caller knows about an event: the rest is null, `at` defaults to now. */
export type NotificationInput =
  (Known & { event: OutcomeEvent['event'] }) | (Known & { event: 'refused'; code: string; error: string });

/** An event with every field present (null where unknown) and `at` set. */
export function notificationEvent(input: NotificationInput): NotificationEvent {
  const at =
    input.at === undefined
      ? new Date().toISOString()
      : typeof input.at === 'string'
        ? input.at
        : input.at.toISOString();
  const fields: EventFields = {
    app: input.app,
    revision: input.revision ?? null,
    image: input.image ?? null,
    commit: input.commit ?? null,
    configCommit: input.configCommit ?? null,
    trigger: input.trigger ?? null,
    reason: input.reason ?? null,
    author: input.author ?? null,
    actor: input.actor ?? null,
    url: input.url ?? null,
    at,
  };
  return input.event === 'refused'
    ? { event: 'refused', ...fields, code: input.code, error: input.error }
    : { event: input.event, ...fields };
}

/**
 * The JSON body of `e`: exactly the documented fields in a fixed order, whatever else
 * the object carries, so that two deliveries of one event are the same bytes.
 */
export function eventJson(e: NotificationEvent): string {
  const body: Record<string, unknown> = {
    event: e.event,
    app: e.app,
    revision: e.revision,
    image: e.image,
    commit: e.commit,
    configCommit: e.configCommit,
    trigger: e.trigger,
    reason: e.reason,
    author: e.author,
    actor: e.actor,
    url: e.url,
  };
  if (e.event === 'refused') {
    body.code = e.code;
    body.error = e.error;
  }
  body.at = e.at;
  return JSON.stringify(body);
}
