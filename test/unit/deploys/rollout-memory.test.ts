import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RolloutMemory } from '../../../src/deploys/rollout-memory.js';

describe('RolloutMemory', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  // A save from its timer was still writing when the shutdown saved: both used one
  // temporary file, one rename failed with ENOENT, and `kip serve` exited 1 on SIGTERM.
  it('saves one after the other: writes that overlap never fail, and the last state is on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kipper-rollouts-'));
    dirs.push(dir);
    const memory = new RolloutMemory(dir);
    const saves: Array<Promise<void>> = [];
    for (let i = 0; i < 20; i++) {
      memory.set('shop-test/api', `c${i}`, {
        state: 'healthy',
        revision: null,
        health: 'Healthy',
        message: `round ${i}`,
      });
      saves.push(memory.close());
    }
    await expect(Promise.all(saves)).resolves.toBeDefined();
    const stored = JSON.parse(await readFile(join(dir, 'rollouts.json'), 'utf8')) as Record<
      string,
      Record<string, { message: string }>
    >;
    expect(Object.keys(stored['shop-test/api']!)).toHaveLength(20);
    expect(stored['shop-test/api']!.c19!.message).toBe('round 19');
    expect(await readdir(dir)).toEqual(['rollouts.json']);

    const again = new RolloutMemory(dir);
    await again.load();
    expect(again.get('shop-test/api', 'c19')).toMatchObject({ state: 'healthy', message: 'round 19' });
  });
});
