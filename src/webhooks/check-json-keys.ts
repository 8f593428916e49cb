import { KipError } from '../errors.js';

/** Keys that mean an attempt at prototype pollution, never a deploy. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Refuse JSON text whose objects repeat a key or use a prototype key, at any depth.
 * `JSON.parse` silently keeps the last of two `"image"` keys, so a proxy or a log that
 * reads the first one would disagree with us about what was deployed. Runs on text that
 * `JSON.parse` accepted, so only strings, escapes and nesting need tracking.
 */
export function checkJsonKeys(text: string): void {
  const stack: Array<Set<string> | null> = []; // a Set per open object, null per open array
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '{') {
      stack.push(new Set());
      i++;
    } else if (c === '[') {
      stack.push(null);
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j + 1;
      // A string directly followed by ':' is a key of the innermost object.
      let k = i;
      while (k < text.length && /\s/.test(text[k]!)) k++;
      const keys = stack.at(-1);
      if (text[k] === ':' && keys) {
        const key = JSON.parse(raw) as string;
        if (FORBIDDEN.has(key)) throw new KipError('INVALID_BODY', `the key "${key}" is not allowed`);
        if (keys.has(key))
          throw new KipError('INVALID_JSON', `the key "${key.slice(0, 40)}" appears twice in one object`);
        keys.add(key);
      }
    } else {
      i++;
    }
  }
}
