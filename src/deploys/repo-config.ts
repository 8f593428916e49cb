import { KIPPER_FILE, parseKipperFile, type AppConfig, type KipperConfig } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TreeView } from './write-queue.js';

/** The longest a request waits for a look at the remote (an unknown app, a kipper.yaml that was invalid). */
const LOOK_WAIT_MS = 3_000;

/** kipper.yaml in the tree an edit is built on, as text (to splice) and parsed (to check). */
export async function kipperFileAt(view: Pick<TreeView, 'readFile'>): Promise<{ text: string; config: KipperConfig }> {
  const bytes = await view.readFile(KIPPER_FILE);
  if (!bytes) throw new KipError('CONFIG_INVALID', `${KIPPER_FILE} is missing from the config repo`);
  const text = Buffer.from(bytes).toString('utf8');
  return { text, config: parseKipperFile(text) };
}

/** The error for an app that kipper.yaml does not list (admin API: 404). */
export function appNotFound(id: string): KipError {
  return new KipError('APP_NOT_FOUND', `no app ${id} in ${KIPPER_FILE}; add it there and commit`, { app: id });
}

/**
 * kipper.yaml as the bridge knows it: parsed at the branch head (kept up to date by the
 * queue's head changes), and at any commit an edit is built on, parsed once per blob.
 */
export class RepoConfig {
  private current: KipperConfig = { apps: new Map(), webhooks: new Map(), locks: new Map(), notifications: [] };
  private invalid: KipError | null = null;
  private readonly parsed = new Map<string, KipperConfig>();
  private lastLook = 0;

  /** `refresh` looks at the remote for others' pushes (serialised with writes). */
  constructor(
    private readonly refresh: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** kipper.yaml at the head; throws CONFIG_INVALID when it is invalid there. */
  get(): KipperConfig {
    if (this.invalid) throw this.invalid;
    return this.current;
  }

  /** The last valid kipper.yaml (what authorises a request while the head's is broken). */
  known(): KipperConfig {
    return this.current;
  }

  /** Why kipper.yaml at the head cannot be used (which file, which field), or null. */
  get problem(): KipError | null {
    return this.invalid;
  }

  /**
   * The app `id`, or null. An unknown app may have been added a moment ago: the remote is
   * looked at again, at most once a second.
   */
  async findApp(id: string): Promise<AppConfig | null> {
    const found = this.current.apps.get(id);
    if (found || Date.now() - this.lastLook < 1_000) return found ?? null;
    await this.lookAgain();
    return this.current.apps.get(id) ?? null;
  }

  /**
   * Before a write: a kipper.yaml that was invalid at the last look is looked at again,
   * since its fix may have been pushed a moment ago and a stale CONFIG_INVALID must not
   * be the answer.
   */
  async beforeWrite(): Promise<void> {
    if (this.invalid) await this.lookAgain();
  }

  /** Follows the branch head (called by the write queue after the head moved). */
  async onHead(head: string, view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<void> {
    try {
      this.current = await this.at(view);
      this.invalid = null;
    } catch (err) {
      this.invalid = err instanceof KipError ? err : new KipError('CONFIG_INVALID', String(err));
      this.log.error('kipper.yaml at the head is invalid; deploys are refused until it is fixed', { head, error: this.invalid.message });
    }
  }

  /** kipper.yaml in the tree `view` shows (an edit's head), parsed once per blob. */
  async at(view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<KipperConfig> {
    const oid = await view.fileOid(KIPPER_FILE);
    if (oid === null) throw new KipError('CONFIG_INVALID', `${KIPPER_FILE} is missing from the config repo root`);
    let config = this.parsed.get(oid);
    if (!config) {
      const bytes = await view.readFile(KIPPER_FILE);
      config = parseKipperFile(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));
      if (this.parsed.size > 16) this.parsed.clear();
      this.parsed.set(oid, config);
    }
    return config;
  }

  /**
   * Looks at the remote, waiting at most LOOK_WAIT_MS: behind a push to a hanging remote
   * the look could take the remote's timeouts, longer than a deploy may wait in all.
   */
  private async lookAgain(): Promise<void> {
    this.lastLook = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, LOOK_WAIT_MS)));
    await Promise.race([this.refresh().catch(() => undefined), late]);
    clearTimeout(timer);
  }
}
