import { KIPPER_FILE } from '../config/kipper-file.js';
import { setWebhookGeneration } from '../config/set-section-entry.js';
import { deriveWebhookToken } from '../config/tokens.js';
import { formatCommitMessage } from '../history/trailers.js';
import type { WriteQueue } from './write-queue.js';
import type { HistoryService } from './history-service.js';
import { appNotFound, type RepoConfig } from './repo-config.js';

/**
 * Webhook tokens: derived from the secret key and the app's generation in kipper.yaml
 * (docs/design.md "Webhook"), so nothing secret is stored but the key. Enabling writes a
 * new generation, disabling removes the entry; both are commits through the write queue.
 */
export class WebhookTokens {
  /** Tokens derived so far, by `<app>:<generation>`. */
  private readonly derived = new Map<string, string>();

  constructor(
    private readonly secretKey: string,
    private readonly config: RepoConfig,
    private readonly queue: WriteQueue,
    private readonly history: HistoryService,
  ) {}

  /** The current webhook token of an app, or null when its webhook is disabled (or it is unknown). */
  token(id: string): string | null {
    const config = this.config.known();
    const generation = config.webhooks.get(id);
    if (generation === undefined || !config.apps.has(id)) return null;
    // Derived once per app and generation, not per request (an HMAC a request, ~45 µs,
    // issue #14); a new generation is a new key, so nothing stale is ever answered.
    const key = `${id}:${generation}`;
    let token = this.derived.get(key);
    if (token === undefined) {
      if (this.derived.size >= 20_000) this.derived.clear();
      token = deriveWebhookToken(this.secretKey, id, generation);
      this.derived.set(key, token);
    }
    return token;
  }

  /** Enables (again, which regenerates the token) or disables the webhook of `id`; resolves with the token now valid. */
  async set(id: string, enable: boolean, actor: string): Promise<string | null> {
    // Generations kipper.yaml ever held come from its history.
    await this.history.revisions(id);
    await this.queue.submit(async (view) => {
      const { text, config } = await this.config.fileAt(view);
      if (!config.apps.has(id)) throw appNotFound(id);
      const current = config.webhooks.get(id);
      if (!enable && current === undefined) return { kind: 'unchanged', result: null };
      // Never a generation used before: its token may be the one that was leaked.
      const next = enable ? Math.max(current ?? 0, this.history.index.maxGeneration(id)) + 1 : null;
      const verb = enable ? (current === undefined ? 'enable' : 'regenerate') : 'disable';
      return {
        kind: 'commit',
        files: new Map([[KIPPER_FILE, Buffer.from(setWebhookGeneration(text, id, next), 'utf8')]]),
        message: formatCommitMessage(`webhook ${verb} ${id}`, { app: id, actor }),
        result: null,
      };
    });
    return this.token(id);
  }
}
