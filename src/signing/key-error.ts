import { KipError } from '../errors.js';

/** A key file the bridge refuses to sign with: names the file and how to fix it, never the key's bytes. */
export function keyError(path: string, problem: string): KipError {
  return new KipError('CONFIG_INVALID', `KIPPER_SIGNING_KEY ${path} ${problem}`, { path });
}
