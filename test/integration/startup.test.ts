import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';

describe('kip serve on a port that is taken', () => {
  let first: BridgeProcess;
  beforeAll(async () => {
    first = await startBridge();
  });
  afterAll(async () => {
    await first?.stop();
  });

  it('says which port is in use, exits non-zero and creates nothing in its data dir', async () => {
    const port = new URL(first.url).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'kipper-second-'));
    // A `kip serve` that ignored the taken port would listen forever: killed at 20 s, its code is null.
    const res = await runKip(
      ['serve'],
      { KIPPER_PORT: port, KIPPER_HOST: '127.0.0.1', KIPPER_DATA_DIR: dataDir },
      { timeoutMs: 20_000 },
    );
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stderr.trim()).toBe(`Error: port ${port} on 127.0.0.1 is already in use (set KIPPER_PORT)`);
    expect(await readdir(dataDir)).toEqual([]);
    // A data dir that does not exist yet is not created either.
    const missing = join(dataDir, 'not-yet');
    const again = await runKip(
      ['serve'],
      { KIPPER_PORT: port, KIPPER_HOST: '127.0.0.1', KIPPER_DATA_DIR: missing },
      { timeoutMs: 20_000 },
    );
    expect(again.code).not.toBe(0);
    expect(again.code).not.toBeNull();
    expect(await readdir(dataDir)).toEqual([]);
    // The first bridge is unharmed.
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
  });
});
