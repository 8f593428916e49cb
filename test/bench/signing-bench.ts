/**
 * Signed commits (issue #13): deploy p50 with KIPPER_SIGNING_KEY against the same deploys
 * unsigned, in the same run, each bridge on its own copy of a 200-app repo. Target: within
 * 5 ms. Keys: SSH ed25519 and RSA 3072 (ssh-keygen's defaults), made here.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { postWebhook, startBridge } from '../helpers/bridge-process.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import type { GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const APPS = 200;
const WARMUP = 5;

export interface SigningBenchResult {
  key: string;
  unsignedP50: number;
  signedP50: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function p50(server: GitServer, repo: string, rounds: number, signingKey: string | undefined): Promise<number> {
  await createConfigRepo(server.root, repo, APPS);
  const bridge = await startBridge({
    KIPPER_REPO_URL: server.url(repo),
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KIPPER_LOG_LEVEL: 'warn',
    ...(signingKey ? { KIPPER_SIGNING_KEY: signingKey } : {}),
  });
  try {
    const apps = appIds(APPS);
    const times: number[] = [];
    for (let i = 0; i < rounds + WARMUP; i++) {
      const app = apps[i % apps.length]!;
      const t0 = performance.now();
      const res = await postWebhook(
        bridge.url,
        app,
        { image: `registry.example.com/${app.split('/')[1]}:signed-${i}` },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
      );
      if (res.status !== 200 || res.json.status !== 'deployed') throw new Error(`deploy failed: ${JSON.stringify(res.json)}`);
      if (i >= WARMUP) times.push(performance.now() - t0);
    }
    return median(times);
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
