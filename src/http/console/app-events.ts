import type { Router } from 'express';
import type { Bridge } from '../../deploys/open-bridge.js';
import type { ConsoleAuth } from './console-auth.js';
import { appOf } from './console-context.js';
import { lockKey } from './lock-controls.js';

/**
 * Server-sent events: `revision` whenever the app's newest revision changes (a deploy,
 * another replica's, a fetched push); `lock` when its lock does (a commit to kipper.yaml
 * moves the head too, and the config is read before the history hears of it).
 */
export function appEvents(router: Router, bridge: Bridge, auth: ConsoleAuth): void {
  router.get('/apps/:namespace/:app/events', auth.signedIn, async (req, res) => {
    const app = await appOf(bridge, req);
    const newest = () => bridge.history.index.revisions(app.id).length;
    const lockNow = () => lockKey(bridge.locks.of(app.id));
    let sent = newest();
    let sentLock = lockNow();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 3000\nevent: revision\ndata: ${JSON.stringify({ revision: sent })}\n\n`);
    // The lock as it is now: the page may be older than the stream (a reconnect).
    res.write(`event: lock\ndata: ${JSON.stringify({ key: sentLock })}\n\n`);
    const unsubscribe = bridge.history.onChange(() => {
      if (lockNow() !== sentLock) {
        sentLock = lockNow();
        res.write(`event: lock\ndata: ${JSON.stringify({ key: sentLock })}\n\n`);
      }
      if (newest() === sent) return;
      sent = newest();
      res.write(`event: revision\ndata: ${JSON.stringify({ revision: sent })}\n\n`);
    });
    // The syncer's view changes too (a rollout coming up): the rows show it.
    const unwatch = bridge.rollouts.view(app, () =>
      res.write(`event: rollout\ndata: ${JSON.stringify({ revision: sent })}\n\n`),
    );
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 20_000);
    bridge.status.watch(1);
    // Shutdown ends the stream (the browser reconnects to whoever serves next).
    const end = () => res.end();
    bridge.closing.addEventListener('abort', end);
    res.on('close', () => {
      bridge.closing.removeEventListener('abort', end);
      unsubscribe();
      unwatch();
      clearInterval(heartbeat);
      bridge.status.watch(-1);
    });
  });
}
