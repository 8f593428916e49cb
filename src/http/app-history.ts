import type { HistoryAnswer, HistoryRevision } from '../api-types.js';
import type { AppConfig } from '../config/kipper-file.js';
import type { Bridge } from '../deploys/open-bridge.js';
import { historyJson } from '../history/history-json.js';

/** An app's history as the API answers it: every revision with its rollout, and the drift if any. */
export async function appHistory(bridge: Bridge, app: AppConfig): Promise<HistoryAnswer> {
  const revisions = await bridge.history.revisions(app.id);
  const { rollouts, drift } = await bridge.rollouts.ofHistory(app, revisions);
  const rows: HistoryRevision[] = historyJson(revisions).map((r) => ({ ...r, rollout: rollouts.get(r.revision)! }));
  return {
    app: app.id,
    repo: bridge.repoOf(app.id).name,
    revisions: rows,
    ...(drift ? { drift } : {}),
    lock: bridge.locks.of(app.id),
  };
}
