import {
  emptyKipperConfig,
  KIPPER_FILE,
  parseKipperFile,
  type AppConfig,
  type KipperConfig,
} from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TreeView } from './write-queue.js';

/**
 * The longest a request waits for a look at the remote (an unknown app, a kipper.yaml that
 * was invalid): behind a push to a hanging remote the look could take the remote's
 * timeouts, longer than a deploy may wait in all.
 */
const LOOK_WAIT_MS = 3_000;

/** The error for an app that kipper.yaml does not list (admin API: 404). */
export function appNotFound(id: string): KipError {
  return new KipError('APP_NOT_FOUND', `no app ${id} in ${KIPPER_FILE}; add it there and commit`, { app: id });
}

/**
 * kipper.yaml as the bridge knows it: parsed at the branch head (kept up to date by the
 * queue's head changes), and at any commit an edit is built on, parsed once per blob.
 */
export class RepoConfig {
  private current: KipperConfig = emptyKipperConfig();
  private invalid: KipError | null = null;
  private readonly parsed = new Map<string, KipperConfig>();
  private lastUnknownLook = 0;

  /**
   * `look(maxAgeMs, waitMs)` looks at the remote for others' pushes unless the last look
   * is younger than `maxAgeMs`, waiting for it at most `waitMs` (RepoStatus.freshState).
   */
  constructor(
    private readonly look: (maxAgeMs: number, waitMs: number) => Promise<void>,
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
  /**
   * The app as kipper.yaml at the last seen head has it, at once: for the webhook, whose
   * 401 must cost the same for an unknown app as for a known one (issue #18). An unknown
   * id starts a look in the background (at most once a second), so an app a person added
   * a moment ago is found by the CI job's retry.
   */
  knownApp(id: string): AppConfig | null {
    const found = this.current.apps.get(id);
    if (found || Date.now() - this.lastUnknownLook < 1_000) return found ?? null;
    this.lastUnknownLook = Date.now();
    this.look(0, LOOK_WAIT_MS).catch(() => undefined);
    return null;
  }

  async findApp(id: string): Promise<AppConfig | null> {
    const found = this.current.apps.get(id);
    // Its own once a second, not any look's: the poll's look may predate the push that added it.
    if (found || Date.now() - this.lastUnknownLook < 1_000) return found ?? null;
    this.lastUnknownLook = Date.now();
    await this.look(0, LOOK_WAIT_MS);
    return this.current.apps.get(id) ?? null;
  }

  /**
   * Before a write: a kipper.yaml that was invalid at the last look is looked at again,
   * since its fix may have been pushed a moment ago and a stale CONFIG_INVALID must not
   * be the answer.
   */
  async beforeWrite(): Promise<void> {
    if (this.invalid) await this.look(0, LOOK_WAIT_MS);
  }

  /** Follows the branch head (called by the write queue after the head moved). */
  async onHead(head: string, view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<void> {
    try {
      this.current = await this.at(view);
      this.invalid = null;
    } catch (err) {
      this.invalid = err instanceof KipError ? err : new KipError('CONFIG_INVALID', String(err));
      this.log.error('kipper.yaml at the head is invalid; deploys are refused until it is fixed', {
        head,
        error: this.invalid.message,
      });
    }
  }

  /** kipper.yaml in the tree `view` shows (an edit's head), parsed once per blob. */
  async at(view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<KipperConfig> {
    const oid = await view.fileOid(KIPPER_FILE);
    if (oid === null) throw missingFile();
    let config = this.parsed.get(oid);
    if (!config) {
      config = parseKipperFile(await kipperText(view));
      if (this.parsed.size > 16) this.parsed.clear();
      this.parsed.set(oid, config);
    }
    return config;
  }

  /** kipper.yaml in the tree an edit is built on, as text (to splice) and parsed (to check, once per blob). */
  async fileAt(view: Pick<TreeView, 'fileOid' | 'readFile'>): Promise<{ text: string; config: KipperConfig }> {
    const config = await this.at(view);
    return { text: await kipperText(view), config };
  }
}

/** kipper.yaml's text in the tree `view` shows (for an edit to splice). */
export async function kipperText(view: Pick<TreeView, 'readFile'>): Promise<string> {
  const bytes = await view.readFile(KIPPER_FILE);
  if (!bytes) throw missingFile();
  return Buffer.from(bytes).toString('utf8');
}

function missingFile(): KipError {
  return new KipError('CONFIG_INVALID', `${KIPPER_FILE} is missing from the config repo root`);
}
