import { isKipError } from '../../src/errors.js';

/** The KipError code `fn` throws ('not a KipError' for anything else), or undefined when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isKipError(err) ? err.code : 'not a KipError';
  }
  return undefined;
}
