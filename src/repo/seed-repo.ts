import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { Signature } from './object-store.js';

/** The example config repo shipped with the package (`fixtures/seed`). */
export const SEED_DIR = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));

/**
 * Create the first commit of an empty bare repo from the files of `dir`, written as git
 * objects (no working tree), and point `branch` at it. Returns the commit oid.
 */
export async function seedRepo(gitdir: string, branch: string, dir: string, message: string, sig: Signature): Promise<string> {
  const files = await listFiles(dir);
  // Build the tree bottom-up: a directory's tree needs its children's oids first.
  const dirs = new Map<string, Array<{ mode: string; path: string; oid: string; type: 'blob' | 'tree' }>>();
  const entriesOf = (d: string) => {
    let e = dirs.get(d);
    if (!e) dirs.set(d, (e = []));
    return e;
  };
  for (const f of files) {
    const oid = await git.writeBlob({ fs, gitdir, blob: await readFile(join(dir, f)) });
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) entriesOf(parts.slice(0, i).join('/'));
    entriesOf(parts.slice(0, -1).join('/')).push({ mode: '100644', path: parts.at(-1)!, oid, type: 'blob' });
  }
  entriesOf('');
  const ordered = [...dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  const treeOids = new Map<string, string>();
  for (const d of ordered) {
    const entries = [...entriesOf(d)];
    for (const [child, oid] of treeOids) {
      const parent = child.includes('/') ? child.slice(0, child.lastIndexOf('/')) : '';
      if (child !== '' && parent === d) entries.push({ mode: '040000', path: child.slice(child.lastIndexOf('/') + 1), oid, type: 'tree' });
    }
    treeOids.set(d, await git.writeTree({ fs, gitdir, tree: entries }));
  }
  const oid = await git.writeCommit({
    fs,
    gitdir,
    commit: { message, tree: treeOids.get('')!, parent: [], author: sig, committer: sig },
  });
  await git.writeRef({ fs, gitdir, ref: `refs/heads/${branch}`, value: oid, force: true });
  return oid;
}

async function listFiles(dir: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(relative(dir, join(dir, rel)).split(sep).join('/'));
  }
  return out.sort();
}
