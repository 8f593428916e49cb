import type { KipperConfig } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import { formatCommitMessage, type KipperTrailers } from '../history/trailers.js';
import type { ImageReference } from '../manifests/image-reference.js';
import { setImage } from '../manifests/set-image.js';
import type { Edit, TreeView } from '../repo/write-queue.js';

/** Why a deploy commit was written (the `Kipper-Trigger` trailer). */
export type DeployTrigger = 'webhook' | 'manual' | 'promotion' | 'rollback';

export interface ImageEditInput {
  appId: string;
  image: ImageReference;
  sourceCommit: string | undefined;
  trigger: DeployTrigger;
  /** Extra trailers (promotion source, rollback target) and an optional body paragraph. */
  trailers?: Pick<KipperTrailers, 'promotedFrom' | 'rollbackTo'>;
  body?: string;
  configAt: (view: TreeView) => Promise<KipperConfig>;
}

/**
 * The edit of one image deploy, as a pure function of the files at a head: the queue runs
 * it again on a newer head after a conflict. kipper.yaml is read at that same head, so an
 * app removed or re-pointed meanwhile is honoured.
 */
export function imageEdit(input: ImageEditInput): Edit<null> {
  return async (view) => {
    const config = await input.configAt(view);
    const app = config.apps.get(input.appId);
    if (!app) throw new KipError('APP_NOT_FOUND', `no app ${input.appId} in kipper.yaml`, { app: input.appId });
    if (app.source === 'git') {
      throw new KipError('GIT_APP_IMAGE', `${app.id} is a git-source app: post {"commit": "<sha>"} without an image`, { app: app.id });
    }
    const files = new Map<string, Uint8Array>();
    let matches = 0;
    for (const path of app.files) {
      const bytes = await view.readFile(path);
      if (!bytes) {
        throw new KipError('FILE_NOT_FOUND', `${path} (listed for ${app.id} in kipper.yaml) is not in the config repo`, { app: app.id, path });
      }
      const text = Buffer.from(bytes).toString('utf8');
      const edited = setImage(text, { image: input.image, container: app.container });
      matches += edited.matches.length;
      if (edited.changed) files.set(path, Buffer.from(edited.text, 'utf8'));
    }
    if (matches === 0) {
      const lookedFor = app.container ? `container "${app.container}"` : `an image of repository ${input.image.repository}`;
      throw new KipError(
        'NO_IMAGE_TARGET',
        `no image target for ${app.id}: looked for ${lookedFor} in ${app.files.join(', ')}; set \`container\` in kipper.yaml or add a # {"$kipper": "${app.id}"} marker`,
        { app: app.id, files: app.files, repository: input.image.repository },
      );
    }
    if (files.size === 0) return { kind: 'unchanged', result: null };
    const message = formatCommitMessage(
      `deploy ${app.id}: ${input.image.raw}`,
      {
        app: app.id,
        image: input.image.raw,
        sourceCommit: input.sourceCommit,
        trigger: input.trigger,
        ...input.trailers,
      },
      input.body,
    );
    return { kind: 'commit', files, message, result: null };
  };
}
