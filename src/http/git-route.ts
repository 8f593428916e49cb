import type { RequestHandler } from 'express';
import { KipError } from '../errors.js';
import { serveGitHttpBackend } from './git-http-backend.js';

/** What a read-only smart/dumb HTTP clone may ask for (git-upload-pack, never receive-pack). */
const READABLE =
  /^\/(info\/refs|git-upload-pack|HEAD|objects\/[0-9a-f]{2}\/[0-9a-f]{38}|objects\/pack\/pack-[0-9a-f]{40}\.(pack|idx)|objects\/info\/(packs|alternates|http-alternates))$/;

/**
 * `/git/config.git`: the embedded config repo, read-only over git's smart HTTP, so Argo
 * CD, Flux or `git clone` can sync from it. Pushes are refused: every write goes through
 * the bridge's queue (its compare-and-swap keeps history linear and each deploy answered).
 */
export function gitRoute(dataDir: string): RequestHandler {
  return (req, res, next) => {
    const sub = req.path;
    if (req.query.service === 'git-receive-pack' || sub === '/git-receive-pack') {
      next(
        new KipError('READ_ONLY', 'the config repo is read-only here: deploy through the webhook or `kip app update`'),
      );
      return;
    }
    if (
      !READABLE.test(sub) ||
      (req.method !== 'GET' && req.method !== 'POST') ||
      (req.method === 'POST') !== (sub === '/git-upload-pack')
    ) {
      next(new KipError('NOT_FOUND', 'not a git smart-HTTP path of /git/config.git'));
      return;
    }
    serveGitHttpBackend(req, res, { projectRoot: dataDir, pathInfo: `/config.git${sub}`, allowPush: false });
  };
}
