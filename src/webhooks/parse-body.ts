import { z } from 'zod';
import { KipError, type KipErrorCode } from '../errors.js';
import { parseImageReference, type ImageReference } from '../manifests/image-reference.js';
import { checkJsonKeys } from './check-json-keys.js';

/** A validated webhook body. */
export interface WebhookBody {
  image: ImageReference | undefined;
  commit: string | undefined;
}

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

/** Parse a request body as JSON: empty, invalid, duplicate-key and prototype-key bodies are refused. */
export function parseJsonBody(raw: Buffer | undefined): unknown {
  const text = raw && raw.length > 0 ? raw.toString('utf8') : '';
  if (text.trim() === '') throw new KipError('INVALID_JSON', 'the body is empty; send {"image": "<ref>", "commit": "<sha>"}');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KipError('INVALID_JSON', 'the body is not valid JSON; send {"image": "<ref>", "commit": "<sha>"}');
  }
  checkJsonKeys(text);
  return json;
}

/**
 * Validate an already parsed `{image?, commit?}` body (webhook and admin deploy alike).
 * Problems are reported field by field (`fields: {image: "...", commit: "..."}`); the code
 * names the field when only one is wrong (INVALID_IMAGE, INVALID_COMMIT), INVALID_BODY otherwise.
 */
export function validateDeployBody(json: unknown): WebhookBody {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new KipError('INVALID_BODY', 'the body must be a JSON object like {"image": "<ref>", "commit": "<sha>"}');
  }
  const fields: Record<string, string> = {};
  const codes: KipErrorCode[] = [];
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) fields[key.slice(0, 64)] = 'is not a field of a deploy; send only image and commit';
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
