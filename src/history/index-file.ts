import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexSnapshot } from './revision-index.js';

/** Bump when the meaning of stored revisions changes: an old file is then ignored. */
const FORMAT = 6;
const FILE = 'history-index.json';

interface StoredIndex extends IndexSnapshot {
  format: number;
  /** Which repo and branch the index is of (no credentials): another one starts afresh. */
  repo: string;
}

/** The persisted revision index of `repo`, or null when there is none usable. */
export async function loadIndex(dataDir: string, repo: string): Promise<IndexSnapshot | null> {
  let stored: StoredIndex;
  try {
    stored = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as StoredIndex;
  } catch {
    return null;
  }
  if (stored.format !== FORMAT || stored.repo !== repo || typeof stored.head !== 'string') return null;
  return { head: stored.head, complete: stored.complete === true, apps: stored.apps, generations: stored.generations ?? {} };
}

/** Persist the index atomically (a crash leaves the old file or the new one, never half). */
export async function saveIndex(dataDir: string, repo: string, snapshot: IndexSnapshot): Promise<void> {
  const path = join(dataDir, FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const stored: StoredIndex = { format: FORMAT, repo, ...snapshot };
  await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 });
  await rename(tmp, path);
}
