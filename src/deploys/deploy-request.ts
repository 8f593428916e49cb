import { z } from 'zod';
import type { AppConfig } from '../config/kipper-file.js';
import { KipError, type KipErrorCode } from '../errors.js';
import { parseImageReference, type ImageReference } from '../manifests/image-reference.js';

/**
 * What a deploy request may hold, decided here for every entry point (webhook, admin
 * deploy, promotion, provider events) so they cannot diverge (issue #9).
 */

/** A validated `{image?, commit?}` body, before it is matched with an app. */
export interface DeployBody {
  image: ImageReference | undefined;
  commit: string | undefined;
}

/** A deploy an app can take: an image (with the source commit it was built from), or a git-source app's commit. */
export type DeployRequest =
  { kind: 'image'; image: ImageReference; commit: string | undefined } | { kind: 'commit'; commit: string };

const COMMIT = /^[0-9a-f]{7,64}$/i;
// Anything that could split a log line or a commit trailer is refused outright.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// Strict: a field we do not know is a mistake worth telling the CI author about
// (a typo like "imgae" would otherwise deploy nothing and answer 400 for "image" anyway).
const schema = z
  .object({
    image: z.string().optional(),
    commit: z.string().optional(),
  })
  .strict();

/** True for a 7–64 hex commit SHA (what a deploy records as its source commit). */
export function isCommitSha(value: string): boolean {
  return COMMIT.test(value);
}

/**
 * The deploy `app` takes from a validated body: an image app needs an image (a commit
 * is its source commit), a git-source app a commit and no image.
 */
export function deployRequestFor(app: AppConfig, body: DeployBody): DeployRequest {
  if (body.image) return imageRequestFor(app, body.image, body.commit);
  if (app.source === 'git') {
    if (!body.commit) {
      throw new KipError('INVALID_COMMIT', 'commit: is required for a git-source app, e.g. {"commit": "abc123f"}', {
        fields: { commit: 'is required' },
      });
    }
    return { kind: 'commit', commit: body.commit };
  }
  if (!body.image) {
    throw new KipError(
      'INVALID_IMAGE',
      'image: is required for an image app, e.g. {"image": "registry.example.com/api:abc123f"}',
      {
        fields: { image: 'is required' },
      },
    );
  }
  return { kind: 'image', image: body.image, commit: body.commit };
}

/** An image deploy (a request body, a promotion, a registry event): git-source apps take none. */
export function imageRequestFor(
  app: AppConfig,
  image: ImageReference,
  commit: string | undefined,
): DeployRequest & { kind: 'image' } {
  assertTakesImages(app);
  return { kind: 'image', image, commit };
}

/** Throws GIT_APP_IMAGE (409) for a git-source app: it deploys commits, never images. */
export function assertTakesImages(app: AppConfig): void {
  if (app.source === 'git') {
    throw new KipError('GIT_APP_IMAGE', `${app.id} is a git-source app: deploy {"commit": "<sha>"} without an image`, {
      app: app.id,
    });
  }
}

/**
 * Validate an already parsed `{image?, commit?}` body (webhook and admin deploy alike).
 * Problems are reported field by field (`fields: {image: "...", commit: "..."}`); the code
 * names the field when only one is wrong (INVALID_IMAGE, INVALID_COMMIT), INVALID_BODY otherwise.
 */
export function validateDeployBody(json: unknown): DeployBody {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new KipError('INVALID_BODY', 'the body must be a JSON object like {"image": "<ref>", "commit": "<sha>"}');
  }
  const fields: Record<string, string> = {};
  const codes: KipErrorCode[] = [];
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          fields[key.slice(0, 64)] = 'is not a field of a deploy; send only image and commit';
        codes.push('INVALID_BODY');
        continue;
      }
      const key = String(issue.path[0] ?? 'body');
      fields[key] = `must be a string`;
      codes.push(key === 'image' ? 'INVALID_IMAGE' : key === 'commit' ? 'INVALID_COMMIT' : 'INVALID_BODY');
    }
    throw fieldError(fields, codes);
  }
  let image: ImageReference | undefined;
  if (parsed.data.image !== undefined) {
    try {
      image = parseImageReference(parsed.data.image);
    } catch (err) {
      fields.image = err instanceof KipError ? err.message : 'is not a valid image reference';
      codes.push('INVALID_IMAGE');
    }
  }
  const commit = parsed.data.commit;
  if (commit !== undefined) {
    if (CONTROL_OR_SPACE.test(commit)) {
      fields.commit = 'must not contain whitespace or control characters';
      codes.push('INVALID_COMMIT');
    } else if (!COMMIT.test(commit)) {
      fields.commit = 'must be a git commit SHA: 7 to 64 hexadecimal characters';
      codes.push('INVALID_COMMIT');
    }
  }
  if (codes.length > 0) throw fieldError(fields, codes);
  return { image, commit: commit?.toLowerCase() };
}

function fieldError(fields: Record<string, string>, codes: KipErrorCode[]): KipError {
  const message = Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const code = new Set(codes).size === 1 ? codes[0]! : 'INVALID_BODY';
  return new KipError(code, message, { fields });
}
