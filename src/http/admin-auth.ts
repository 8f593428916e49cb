import type { RequestHandler } from 'express';
import { KipError } from '../errors.js';
import { safeEqual } from '../config/tokens.js';

/** Require `Authorization: Bearer <admin token>`, compared in constant time. */
export function adminAuth(adminToken: string): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !safeEqual(m[1]!, adminToken)) {
      next(new KipError('ADMIN_UNAUTHORIZED', 'missing or wrong admin token: send Authorization: Bearer $KIPPER_ADMIN_TOKEN'));
      return;
    }
    next();
  };
}
