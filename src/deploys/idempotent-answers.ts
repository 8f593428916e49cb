import type { AppConfig } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import { firstImage } from '../history/app-value.js';
import type { HistoryService } from './history-service.js';
import { RETRY_WINDOW_MS, revisionOfKey } from './retried-request.js';

/** An answer as the webhook gave it: status and JSON body. */
export interface GivenAnswer {
  status: number;
  body: unknown;
}

/** `Idempotency-Key`: 1–255 printable ASCII characters (it goes into a commit trailer). */
const KEY = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** The request's `Idempotency-Key`, undefined without one; 400 for one that is not 1–255 printable characters. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = (Array.isArray(header) ? header.join(', ') : header).trim();
  if (!KEY.test(key)) {
    const message = 'Idempotency-Key: must be 1 to 255 printable ASCII characters (e.g. the CI job id)';
    throw new KipError('INVALID_BODY', message, { fields: { 'Idempotency-Key': message } });
  }
  return key;
}

/**
 * Webhook answers by `Idempotency-Key` (docs/design.md "Retries never move an app
 * backwards"): the same key for the same app within 24 h gets the first answer again and
 * never a second commit. Git is the store every replica shares and a restart keeps: a
 * deploy that committed carries its key in `Kipper-Idempotency-Key`, and the history
 * index finds it. Answers without a commit (`unchanged`, a 4xx) are kept here, in memory:
 * elsewhere (another replica, after a restart) such a retry is judged again, where the
 * value check and SUPERSEDED keep it from writing anything older.
 */
export class IdempotentAnswers {
  private readonly given = new Map<string, { answer: GivenAnswer; at: number }>();
  private readonly inFlight = new Map<string, Promise<GivenAnswer>>();

  constructor(
    private readonly history: HistoryService,
    private readonly max = 20_000,
  ) {}

  /** The first answer to `key` for `app`, if one was given in the last 24 h (waiting for one in flight). */
  async replay(app: AppConfig, key: string, deadline: number): Promise<GivenAnswer | undefined> {
    const id = `${app.id}\n${key}`;
    const kept = this.given.get(id);
    if (kept && Date.now() - kept.at <= RETRY_WINDOW_MS) return kept.answer;
    if (kept) this.given.delete(id);
    const running = this.inFlight.get(id);
    if (running) return running.catch(() => undefined);
    const revisions = await this.history.revisionsWithin(app.id, deadline);
    const r = revisions && revisionOfKey(revisions, key);
    if (!r) return undefined;
    // The answer the deploy gave, rebuilt from its commit: the same fields, the same values.
    const body =
      'commit' in r.value
        ? {
            status: 'building',
            app: app.id,
            image: null,
            commit: r.value.commit,
            revision: r.revision,
            configCommit: r.configCommit,
          }
        : {
            status: 'deployed',
            app: app.id,
            image: r.deployed ?? firstImage(r.value),
            commit: r.sourceCommit,
            revision: r.revision,
            configCommit: r.configCommit,
          };
    return { status: 200, body };
  }

  /**
   * Runs `handle` as the first request with `key`: a concurrent one with the same key
   * waits for its answer. Answers below 500 are kept, refusals too (`refusal` turns an
   * error into the answer it becomes); a 5xx (nothing written, or not known) leaves the
   * key free for a real retry.
   */
  async first(
    app: AppConfig,
    key: string,
    handle: () => Promise<GivenAnswer>,
    refusal: (err: unknown) => GivenAnswer,
  ): Promise<GivenAnswer> {
    const id = `${app.id}\n${key}`;
    const p = handle();
    this.inFlight.set(id, p);
    try {
      const answer = await p;
      this.keep(id, answer);
      return answer;
    } catch (err) {
      this.keep(id, refusal(err));
      throw err;
    } finally {
      this.inFlight.delete(id);
    }
  }

  private keep(id: string, answer: GivenAnswer): void {
    if (answer.status >= 500) return;
    this.given.delete(id);
    this.given.set(id, { answer, at: Date.now() });
    if (this.given.size > this.max) this.given.delete(this.given.keys().next().value!);
  }
}
