import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KipError } from '../errors.js';
import { ZERO_OID, type Signature } from './git-objects.js';
import type { CommitSign } from './gitdir.js';
import type { LocalRemote } from './local-remote.js';

/** The example config repo shipped with the package (`fixtures/seed`). */
export const SEED_DIR = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));

/**
 * Create the first commit of an empty embedded repo from the files of `dir` (a root
 * commit written as objects, like every other commit) and create the branch with it.
 * Returns the commit id.
 */
export async function seedRepo(
  remote: LocalRemote,
  dir: string,
  message: string,
  sig: Signature,
  sign?: CommitSign,
): Promise<string> {
  const files = new Map<string, Uint8Array>();
  for (const path of await listFiles(dir)) files.set(path, await readFile(join(dir, path)));
  const { oid, newObjects } = await remote.gitdir.writeCommit({
    parent: '',
    files,
    message,
    author: sig,
    committer: sig,
    sign,
  });
  const pushed = await remote.push(ZERO_OID, oid, newObjects);
  if (!pushed.ok) throw new KipError('INTERNAL', `could not create the embedded config repo: ${pushed.detail}`);
  return oid;
}

async function listFiles(dir: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}
