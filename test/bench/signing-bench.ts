/**
 * Signed commits (issue #13): deploy p50 with KIPPER_SIGNING_KEY against the same deploys
 * unsigned, in the same run, each bridge on its own copy of a 200-app repo. Target: within
 * 5 ms. Keys: SSH ed25519 and RSA 3072 (ssh-keygen's defaults), made here.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBridge } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import type { GitServer } from '../helpers/git-server.js';
import { bridgeEnv, bridgeSequential, quantile } from './deploy-timing.js';

const APPS = 200;

export interface SigningBenchResult {
  key: string;
  unsignedP50: number;
  signedP50: number;
}

async function p50(server: GitServer, repo: string, rounds: number, signingKey: string | undefined): Promise<number> {
  await createConfigRepo(server.root, repo, APPS);
  const bridge = await startBridge({ ...bridgeEnv(server.url(repo)), ...(signingKey ? { KIPPER_SIGNING_KEY: signingKey } : {}) });
  try {
    return quantile((await bridgeSequential(bridge, server, appIds(APPS), rounds, 'signed')).times, 0.5);
  } finally {
    await bridge.stop();
  }
}

/** Unsigned and signed p50, interleaved per key so that drift of the machine hits both alike. */
export async function signingBench(server: GitServer, rounds: number): Promise<SigningBenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-bench-keys-'));
  const results: SigningBenchResult[] = [];
  for (const [name, args] of [
    ['SSH ed25519', ['-t', 'ed25519']],
    ['SSH RSA 3072', ['-t', 'rsa', '-b', '3072']],
  ] as const) {
    const key = join(dir, name.replace(/\W+/g, '-'));
    await promisify(execFile)('ssh-keygen', ['-q', ...args, '-N', '', '-f', key]);
    const unsignedP50 = await p50(server, `config-unsigned-${results.length}.git`, rounds, undefined);
    const signedP50 = await p50(server, `config-signed-${results.length}.git`, rounds, key);
    results.push({ key: name, unsignedP50, signedP50 });
  }
  return results;
}
