import type { RequestHandler, Response } from 'express';
import { KipError } from '../errors.js';
import { safeEqual } from '../config/tokens.js';
import type { PersonTokens } from '../identity/person-tokens.js';
import type { Principal } from '../identity/principal.js';
import type { Logger } from '../log.js';
import { adminActor } from './request-actor.js';

const UNAUTHORIZED =
  'missing or wrong admin token: send Authorization: Bearer $KIPPER_ADMIN_TOKEN, or a token of your sign-in (`kip login`)';

/**
 * Who calls the admin API (docs/identity-and-access.md "Security model"): the admin token
 * (compared in constant time; actor `admin`), or with SSO a token of the OpenID Provider
 * (what `kip login` holds), verified against its keys. `res.locals.principal` says who.
 * A refused token is one 401 whatever failed; the log says which check.
 */
export function adminAuth(adminToken: string, personTokens: PersonTokens | undefined): RequestHandler {
  return (req, res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return next(new KipError('ADMIN_UNAUTHORIZED', UNAUTHORIZED));
    const token = m[1]!;
    if (safeEqual(token, adminToken)) {
      try {
        res.locals.principal = { kind: 'admin', actor: adminActor(req) } satisfies Principal;
      } catch (err) {
        return next(err);
      }
      return next();
    }
    if (!personTokens || token.split('.').length !== 3) return next(new KipError('ADMIN_UNAUTHORIZED', UNAUTHORIZED));
    personTokens.verify(token).then(
      (result) => {
        if ('failed' in result) {
          (res.locals.log as Logger | undefined)?.warn('admin API token refused', { check: result.failed });
          return next(new KipError('ADMIN_UNAUTHORIZED', UNAUTHORIZED));
        }
        res.locals.principal = result.person satisfies Principal;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** Who the request comes from (set by adminAuth, or the console's session). */
export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new KipError('ADMIN_UNAUTHORIZED', UNAUTHORIZED);
  return p;
}
