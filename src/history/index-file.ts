import { open, readFile, rename } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { IndexSnapshot } from './revision-index.js';

/** Bump when the meaning of stored revisions changes: an old file is then ignored. */
const FORMAT = 7;
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
  return {
    head: stored.head,
    complete: stored.complete === true,
    apps: stored.apps,
    generations: stored.generations ?? {},
  };
}

/**
 * Persist the index atomically (a crash leaves the old file or the new one, never half).
 * Written app by app, 64 KB at a time, giving the event loop back in between: one
 * JSON.stringify of 100,000 revisions held it for half a second (issue #14). `snapshot`
 * must not change meanwhile (RevisionIndex.snapshot is a copy). Resolves with the ms
 * spent serialising.
 */
export async function saveIndex(dataDir: string, repo: string, snapshot: IndexSnapshot): Promise<number> {
  const path = join(dataDir, FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const { apps, ...rest } = snapshot;
  const stored: StoredIndex = { format: FORMAT, repo, ...rest, apps: {} };
  // `..."apps":{}}` without its last two characters: the apps follow.
  let chunk = JSON.stringify(stored).slice(0, -2);
  let busyMs = 0;
  let started = performance.now();
  const file = await open(tmp, 'w', 0o600);
  try {
    let first = true;
    for (const [id, state] of Object.entries(apps)) {
      chunk += `${first ? '' : ','}${JSON.stringify(id)}:${JSON.stringify(state)}`;
      first = false;
      if (chunk.length < CHUNK) continue;
      busyMs += performance.now() - started;
      await file.write(chunk);
      chunk = '';
      started = performance.now();
    }
    chunk += '}}';
    busyMs += performance.now() - started;
    await file.write(chunk);
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  return busyMs;
}

const CHUNK = 64 * 1024;
