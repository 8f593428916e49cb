import { KIPPER_FILE, type AppConfig, type KipperConfig, type Lock } from '../config/kipper-file.js';
import { setLock } from '../config/set-section-entry.js';
import { isKipError, KipError } from '../errors.js';
import { assertTakesImages, deployRequestFor } from './deploy-request.js';
import { valueAfterEdit, type LearnedValue } from '../history/app-value.js';
import { formatCommitMessage, type KipperTrailers } from '../history/trailers.js';
import { assertOneRepository } from '../manifests/assert-one-repository.js';
import type { ImageReference } from '../manifests/image-reference.js';
import { setCommit } from '../manifests/set-commit.js';
import { readingSize, type FileReading } from '../manifests/read-sites.js';
import { isWorkload, setImageFrom, type EditResult, type ImageMatch } from '../manifests/set-image.js';
import { BoundedCache } from '../repo/bounded-cache.js';
import { kipperText } from './repo-config.js';
import { supersededError } from './retried-request.js';
import type { Edit, TreeView } from './write-queue.js';

/**
 * The last reading of each file a deploy edited (read-sites.ts): the next deploy of the
 * file edits it without a parse when only one image changed since, which is what our own
 * deploys change (issue #14). Any reading is a safe start: it is used only where the text
 * outside one image scalar is byte for byte the same, so one cache serves every repo.
 */
const readings = new BoundedCache<FileReading>(8 * 1024 * 1024, readingSize);

/** Why a deploy commit was written (the `Kipper-Trigger` trailer). */
export type DeployTrigger = 'webhook' | 'manual' | 'promotion' | 'rollback';

/** Extra trailers (promotion source, rollback target, reason), an optional body paragraph, a lock to set with it. */
export interface EditExtras {
  trailers?: Pick<KipperTrailers, 'promotedFrom' | 'rollbackTo' | 'reason' | 'run' | 'idempotencyKey'>;
  body?: string;
  /** Lock the app in the same commit (`kip app rollback --lock`): kipper.yaml changes with the files. */
  lock?: Lock;
}

/** The error of a deploy the app's lock refuses (webhooks and provider events; 423). */
export function appLocked(id: string, lock: Lock): KipError {
  const who = [lock.by && `by ${lock.by}`, lock.at && `at ${lock.at}`].filter(Boolean).join(' ');
  return new KipError(
    'APP_LOCKED',
    `${id} is locked${who ? ` ${who}` : ''}: ${lock.reason}; \`kip app unlock\` lets webhooks deploy again`,
    {
      app: id,
      body: { lock },
    },
  );
}

interface DeployEditInput extends EditExtras {
  appId: string;
  /**
   * The request repeats this revision (a webhook retry, retried-request.ts): it may answer
   * "unchanged", never write, since whatever the head holds instead is newer.
   */
  retryOf?: number | undefined;
  /** Who asked for it (`Kipper-Actor`). */
  actor: string;
  sourceCommit: string | undefined;
  trigger: DeployTrigger;
  configAt: (view: TreeView) => Promise<KipperConfig>;
}

export interface ImageEditInput extends DeployEditInput {
  image: ImageReference;
}

/** The edit of one image deploy (image apps). */
export function imageEdit(input: ImageEditInput): Edit<null> {
  return deployEdit(input, {
    check: assertTakesImages,
    value: input.image.raw,
    trailers: { image: input.image.raw },
    editText: (text, app, path) => {
      const { edit, reading } = setImageFrom(
        text,
        { image: input.image, container: app.container, workload: app.workload, app: app.id },
        readings.get(path),
      );
      readings.set(path, reading);
      return edit;
    },
    checkMatches: checkNamedContainers,
    lookedFor: (app) =>
      `containers/initContainers with image repository ${input.image.repository}` +
      (app.container ? ` or named "${app.container}"` : '') +
      (app.workload ? ` in ${app.workload}` : '') +
      `, kustomize images: entries named ${input.image.repository}, Helm {repository, tag} values for it, and # {"$kipper": "${app.id}"} markers`,
    hint: (app) =>
      `set \`container\` in kipper.yaml, or add a # {"$kipper": "${app.id}"} marker after the value to set`,
  });
}

/** The edit of one commit deploy (git-source apps): the commit goes to the app's `:commit` markers. */
export function commitEdit(input: DeployEditInput & { sourceCommit: string }): Edit<null> {
  return deployEdit(input, {
    check: (app) => deployRequestFor(app, { image: undefined, commit: input.sourceCommit }),
    value: input.sourceCommit,
    trailers: {},
    editText: (text, app) => setCommit(text, { app: app.id, commit: input.sourceCommit }),
    lookedFor: (app) => `a # {"$kipper": "${app.id}:commit"} marker`,
    hint: () => 'add the marker after the revision field (e.g. an Argo CD targetRevision)',
  });
}

/**
 * `container` without `workload` must name containers of one repository across all
 * the app's files, as setImage already checks within each file: an app whose files
 * are a Deployment each with a container `server` must not deploy over all of them.
 */
function checkNamedContainers(app: AppConfig, matches: readonly ImageMatch[]): void {
  if (app.container === undefined || app.workload !== undefined) return;
  const named = matches.filter((match) => isWorkload(match.kind));
  assertOneRepository(
    named.map((match) => ({ workload: match.workload, image: match.before })),
    app.container,
  );
}

interface Flavour {
  /** Throws when the app (as kipper.yaml at this head has it) cannot take this deploy. */
  check: (app: AppConfig) => void;
  value: string;
  trailers: Pick<KipperTrailers, 'image'>;
  editText: (text: string, app: AppConfig, path: string) => EditResult;
  /** Refuses, across all the app's files, what no single file shows is wrong. */
  checkMatches?: (app: AppConfig, matches: readonly ImageMatch[]) => void;
  lookedFor: (app: AppConfig) => string;
  hint: (app: AppConfig) => string;
}

/**
 * A deploy as a pure function of the files at a head: the queue runs it again on a
 * newer head after a conflict. kipper.yaml is read at that same head, so an app removed
 * or re-pointed meanwhile is honoured.
 */
function deployEdit(input: DeployEditInput, flavour: Flavour): Edit<null> {
  return async (view) => {
    const config = await input.configAt(view);
    const app = config.apps.get(input.appId);
    if (!app) throw new KipError('APP_NOT_FOUND', `no app ${input.appId} in kipper.yaml`, { app: input.appId });
    // The lock as of this head: one pushed by another replica a moment ago counts too.
    const lock = config.locks.get(app.id);
    if (lock && input.trigger === 'webhook') throw appLocked(app.id, lock);
    // kipper.yaml at this head may have changed the app's kind since the request was
    // checked: the same rule (deploy-request.ts), again.
    flavour.check(app);
    const files = new Map<string, Uint8Array>();
    const matches: ImageMatch[] = [];
    for (const path of app.files) {
      const bytes = await view.readFile(path);
      if (!bytes) {
        throw new KipError(
          'FILE_NOT_FOUND',
          `${path} (listed for ${app.id} in kipper.yaml) is not in the config repo`,
          { app: app.id, path },
        );
      }
      const edited = inFiles(app, [path], () => flavour.editText(Buffer.from(bytes).toString('utf8'), app, path));
      matches.push(...edited.matches);
      if (edited.changed) files.set(path, Buffer.from(edited.text, 'utf8'));
    }
    inFiles(app, app.files, () => flavour.checkMatches?.(app, matches));
    if (matches.length === 0) {
      throw new KipError(
        'NO_IMAGE_TARGET',
        `nothing to update for ${app.id}: looked for ${flavour.lookedFor(app)} in ${app.files.join(', ')}; ${flavour.hint(app)}`,
        { app: app.id, files: app.files },
      );
    }
    if (files.size === 0) return { kind: 'unchanged', result: null };
    if (input.retryOf !== undefined) throw supersededError(app.id, input.retryOf, null);
    if (input.lock) {
      files.set(KIPPER_FILE, Buffer.from(setLock(await kipperText(view), app.id, input.lock), 'utf8'));
    }
    const message = formatCommitMessage(
      `deploy ${app.id}: ${flavour.value}`,
      {
        app: app.id,
        ...flavour.trailers,
        sourceCommit: input.sourceCommit,
        trigger: input.trigger,
        actor: input.actor,
        ...input.trailers,
      },
      input.body,
    );
    // History reads this deploy's value from here instead of parsing the files again.
    const value = valueAfterEdit(app, matches);
    const memo: LearnedValue | undefined = value === undefined ? undefined : { app: app.id, value };
    return { kind: 'commit', files, message, result: null, memo };
  };
}

/** Runs `edit`, saying which app and files an AMBIGUOUS_TARGET is about: the pure editor knows neither. */
function inFiles<T>(app: AppConfig, paths: readonly string[], edit: () => T): T {
  try {
    return edit();
  } catch (err) {
    if (!isKipError(err, 'AMBIGUOUS_TARGET')) throw err;
    throw new KipError(err.code, `${app.id}: ${paths.join(', ')}: ${err.message}`, {
      ...err.data,
      app: app.id,
      files: paths,
    });
  }
}
