import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../errors.js';

/** File names of the generated secrets in the data dir. */
export const SECRET_KEY_FILE = 'secret-key';
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * Return `fromEnv` when set; otherwise the value stored in `<dataDir>/<name>`, generating
 * 32 random bytes (hex) into a new mode-0600 file the first time. A stored file readable
 * or writable by group or others is refused: a webhook-token key in a world-readable file
 * is as good as published.
 */
export async function loadOrCreateSecret(dataDir: string, name: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv !== undefined) return fromEnv;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, name);
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      const value = randomBytes(32).toString('hex');
      await handle.writeFile(`${value}\n`);
      await handle.sync();
      return value;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readSecretFile(path);
}

/** Read a secret file, refusing one that group or others may read. */
export async function readSecretFile(path: string): Promise<string> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    throw new KipError(
      'CONFIG_INVALID',
      `${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
    );
  }
  const value = (await readFile(path, 'utf8')).trim();
  if (value.length < 16) throw new KipError('CONFIG_INVALID', `${path} is empty or too short; delete it to regenerate`);
  return value;
}
