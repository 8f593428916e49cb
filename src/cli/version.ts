import { readFileSync } from 'node:fs';

/** The version of the installed package: dist/cli/version.js reads ../../package.json. */
export function kipVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
