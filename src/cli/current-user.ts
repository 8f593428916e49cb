import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { KipError } from '../errors.js';

/** What the bridge takes as `by` (admin-routes.ts): one line, 1–200 characters. */
const MAX_LENGTH = 200;
// eslint-disable-next-line no-control-regex -- control characters are what the bridge refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

function usable(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v && v.length <= MAX_LENGTH && !CONTROL.test(v) ? v : undefined;
}

/** `git config user.email`, or undefined when git is missing, fails or has none set. */
function gitEmail(): Promise<string | undefined> {
  return new Promise((resolve) => {
    // An argument array, no shell; a hung git (a credential helper, a slow disk) must not hold kip up.
    execFile('git', ['config', '--get', 'user.email'], { timeout: 5_000, encoding: 'utf8' }, (err, stdout) =>
      resolve(err ? undefined : stdout),
    );
  });
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (a container running as an arbitrary uid).
    return undefined;
  }
}

/**
 * Who runs kip, for the `by` of a lock (docs/design.md "Locks"): KIPPER_USER, else the
 * git user's email, else the OS user name; undefined when none is known (the bridge then
 * records "admin API").
 */
export async function currentUser(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (env.KIPPER_USER !== undefined && env.KIPPER_USER.trim() !== '') {
    const user = usable(env.KIPPER_USER);
    if (!user)
      throw new KipError(
        'USAGE',
        `KIPPER_USER must be one line of at most ${MAX_LENGTH} characters (it names who locks an app)`,
      );
    return user;
  }
  return usable(await gitEmail()) ?? usable(osUser());
}
