import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The bridge's Prometheus metrics, on a registry of its own (served at /metrics). */
export class Metrics {
  readonly registry = new Registry();
  readonly webhookRequests = new Counter({
    name: 'kipper_webhook_requests_total',
    help: 'Webhook requests answered, by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly deployDuration = new Histogram({
    name: 'kipper_deploy_duration_seconds',
    help: 'From webhook received to its commit pushed (deployed answers only)',
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly pushAttempts = new Counter({
    name: 'kipper_push_attempts_total',
    help: 'Pushes to the config repo, by result (ok, rejected: someone else moved the branch, declined: a hook or branch protection refused it, error: unreachable)',
    labelNames: ['result', 'repo'] as const,
    registers: [this.registry],
  });
  readonly pushRoundTrip = new Histogram({
    name: 'kipper_push_round_trip_seconds',
    help: "The config repo's answer time for a push: from sending it to its answer read (network and the git server)",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });
  readonly commitsPerPush = new Histogram({
    name: 'kipper_commits_per_push',
    help: 'Deploy commits carried by one successful push (group commit)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200],
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });

  readonly rollouts = new Counter({
    name: 'kipper_rollouts_total',
    help: 'Revisions whose rollout settled, by state (healthy, degraded, failed, superseded)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly rolloutDuration = new Histogram({
    name: 'kipper_rollout_duration_seconds',
    help: 'From a revision committed and pushed to its syncer reporting it healthy',
    buckets: [5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'kipper_notifications_total',
    help: 'Notification deliveries (one per event and target), by result: delivered, retried (an attempt failed, another follows), dropped',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly notificationsDropped = new Counter({
    name: 'kipper_notifications_dropped_total',
    help: 'Notification deliveries given up, by reason (queue_full, rejected, exhausted, shutdown, error)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** `repos`: the config repos, each measured under its `repo` label (docs/design.md "Several config repos"). */
  constructor(
    repos: () => ReadonlyArray<{
      name: string;
      queue: { depth: number; remote: { declined: unknown } };
      history: { index: { size(): number } };
    }>,
  ) {
    const perRepo = (name: string, help: string, value: (r: ReturnType<typeof repos>[number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['repo'] as const,
        registers: [this.registry],
        collect() {
          for (const r of repos()) this.set({ repo: r.name }, value(r));
        },
      });
    perRepo(
      'kipper_push_declined',
      '1 while the last push was declined by the remote (a hook, a protected branch), until a push lands',
      (r) => (r.queue.remote.declined === null ? 0 : 1),
    );
    perRepo('kipper_write_queue_depth', 'Edits waiting for or in a push', (r) => r.queue.depth);
    perRepo('kipper_history_index_revisions', 'Revisions held by the history index, over all apps', (r) =>
      r.history.index.size(),
    );
    collectDefaultMetrics({ register: this.registry, prefix: 'kipper_' });
  }

  /** Count one push attempt as the write queue reports it. */
  observePush(
    e: { commits: number; result: 'ok' | 'rejected' | 'declined' | 'unreachable'; roundTripMs?: number },
    repo: string,
  ): void {
    this.pushAttempts.inc({ result: e.result === 'unreachable' ? 'error' : e.result, repo });
    if (e.roundTripMs !== undefined) this.pushRoundTrip.observe({ repo }, e.roundTripMs / 1000);
    if (e.result === 'ok') this.commitsPerPush.observe({ repo }, e.commits);
  }
}
