import type { Router } from 'express';
import { deployRequestFor, validateDeployBody } from '../../deploys/deploy-request.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { KipError } from '../../errors.js';
import type { ConsoleAuth } from './console-auth.js';
import { checked, consoleAction, reasonOf, whoOf } from './console-action.js';
import { requireAccess } from '../../identity/app-access.js';
import type { Principal } from '../../identity/principal.js';
import type { ConsoleOptions } from './console-context.js';

/** Who a lock made in the console names (kipper.yaml `locks:`, the banner, `kip app history`). */
const CONSOLE_BY = 'console';
const UNCHANGED = 'Already running that: nothing to commit.';

/** The write actions of an app panel: rollback, deploy, promote, lock, unlock. */
export function actionRoutes(router: Router, bridge: Bridge, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const action = consoleAction(bridge, opts, auth);

  router.post(
    '/apps/:namespace/:app/rollback',
    ...action(async (app, body, req) => {
      const revision = Number(body.revision);
      if (!Number.isInteger(revision) || revision < 1)
        throw new KipError('INVALID_BODY', 'revision: must be a revision number');
      const answer = await bridge.deploys.rollback(app, revision, {
        ...whoOf(req),
        reason: reasonOf(body),
        ...(checked(body.lock) ? { lockBy: CONSOLE_BY } : {}),
      });
      const locked = answer.lock ? ', and the app is locked' : '';
      return {
        json: answer,
        message: `Rolled back to revision #${answer.rolledBackTo}: now revision #${answer.revision ?? '?'}${locked}.`,
      };
    }),
  );

  router.post(
    '/apps/:namespace/:app/deploy',
    ...action(async (app, body, req) => {
      const fields = Object.fromEntries(
        ['image', 'commit']
          .filter((k) => typeof body[k] === 'string' && body[k] !== '')
          .map((k) => [k, String(body[k]).trim()]),
      );
      const reason = reasonOf(body);
      const request = deployRequestFor(app, validateDeployBody(fields));
      const answer = await bridge.deploys.deploy(app, request, 'manual', {
        ...whoOf(req),
        extras: reason ? { trailers: { reason } } : {},
      });
      return {
        json: answer,
        message: answer.status === 'unchanged' ? UNCHANGED : `Deployed: revision #${answer.revision ?? '?'}.`,
      };
    }),
  );

  router.post(
    '/apps/:namespace/:app/promote',
    ...action(async (app, body, req) => {
      const to = String(body.to ?? '');
      // A promotion writes to the target: that is where the role must allow it.
      if (/^[a-z0-9-]{1,63}$/.test(to))
        requireAccess(
          bridge,
          req.res!.locals.principal as Principal,
          { id: `${to}/${app.name}`, namespace: to },
          'write',
        );
      const { actor, author } = whoOf(req);
      const answer = await bridge.deploys.promote(app, to, actor, reasonOf(body), author);
      return {
        json: answer,
        message:
          answer.status === 'unchanged'
            ? UNCHANGED
            : `Promoted to ${String(body.to)}: revision #${answer.revision ?? '?'} there.`,
      };
    }),
  );

  router.post(
    '/apps/:namespace/:app/lock',
    ...action(async (app, body, req) => {
      const reason = reasonOf(body);
      if (!reason)
        throw new KipError('INVALID_BODY', 'Reason: say why the app is locked (e.g. INC-42: bad image)', {
          fields: { reason: 'required' },
        });
      const answer = await bridge.locks.lock(app.id, reason, CONSOLE_BY, whoOf(req).actor);
      return { json: answer, message: 'Locked: its webhook deploys nothing until it is unlocked.' };
    }),
  );

  router.post(
    '/apps/:namespace/:app/unlock',
    ...action(async (app, body, req) => {
      const answer = await bridge.locks.unlock(app.id, reasonOf(body), CONSOLE_BY, whoOf(req).actor);
      return { json: answer, message: 'Unlocked: its webhook deploys again.' };
    }),
  );
}
