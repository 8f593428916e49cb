import { KipError } from '../errors.js';
import { checkJsonKeys } from './check-json-keys.js';

/** Parse a request body as JSON: empty, invalid, duplicate-key and prototype-key bodies are refused. */
export function parseJsonBody(raw: Buffer | undefined): unknown {
  const text = raw && raw.length > 0 ? raw.toString('utf8') : '';
  if (text.trim() === '')
    throw new KipError('INVALID_JSON', 'the body is empty; send {"image": "<ref>", "commit": "<sha>"}');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KipError('INVALID_JSON', 'the body is not valid JSON; send {"image": "<ref>", "commit": "<sha>"}');
  }
  checkJsonKeys(text);
  return json;
}
