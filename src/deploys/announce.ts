import type { NotificationInput } from '../notify/events.js';

/**
 * Tells whoever listens (the notifier: docs/design.md "Notifications") what happened,
 * after it is in the remote. Never throws, never waits: a deploy's answer does not depend
 * on any receiver.
 */
export type Announce = (event: NotificationInput) => void;
