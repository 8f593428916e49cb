import type { Request } from 'express';
import { KipError } from '../errors.js';

/** The actor of the admin token (docs/design.md "Who did it"): break-glass, one shared secret. */
export const ADMIN_ACTOR = 'admin';

/** `kip` sends who runs it (KIPPER_USER, else the git user): claimed, not verified. */
const CLAIMED_USER_HEADER = 'x-kipper-user';

/**
 * Who an admin-token request acts as: `admin`, or `admin (as <name>)` when kip said who
 * runs it. The name is only claimed (anyone with the admin token may say anything), so
 * it never stands alone as an actor. A header that is not one printable line of at most
 * 200 characters is refused: it would go into a commit trailer.
 */
export function adminActor(req: Request): string {
  const raw = req.headers[CLAIMED_USER_HEADER];
  if (raw === undefined) return ADMIN_ACTOR;
  const claimed = (Array.isArray(raw) ? raw.join(',') : raw).trim();
  // eslint-disable-next-line no-control-regex -- control characters would break the trailer line
  if (claimed === '' || claimed.length > 200 || /[\u0000-\u001f\u007f-\u009f]/.test(claimed) || /[()]/.test(claimed)) {
    throw new KipError(
      'INVALID_BODY',
      'X-Kipper-User: must be one line of at most 200 characters without parentheses (it names who runs kip)',
      {
        fields: { 'X-Kipper-User': 'must be one line of at most 200 characters' },
      },
    );
  }
  return `${ADMIN_ACTOR} (as ${claimed})`;
}
