/**
 * Signed commits (issues #13, #22): deploy p50 with KIPPER_SIGNING_KEY against the same
 * deploys unsigned, in the same run, each bridge on its own copy of a 200-app repo, and
 * what one signature costs in process (one per deploy commit), which machine noise hides
 * less. Target: within 5 ms (#13); #22: the signer's own cost ≤ +2 ms per deploy for
 * ed25519 keys, SSH and OpenPGP. Keys: SSH ed25519 and RSA 3072 (ssh-keygen's defaults)
 * and OpenPGP ed25519 (gpg's default), made here.
 *
 * Alone: `npx tsx test/bench/signing-bench.ts` (BENCH_ROUNDS, default 40), after
 * `node bin/build-if-stale.js`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadSigner } from '../../src/signing/load-signer.js';
import { startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { sendWebhook } from './webhook-client.js';
import { appIds, createConfigRepo } from '../helpers/config-repo.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';
import { bridgeEnv, ms, quantile, WARMUP } from './deploy-timing.js';

const APPS = 200;
/** Signatures timed in process per key, after as many warm-up ones. */
const SIGNATURES = 200;
const run = promisify(execFile);
const HAS_GPG = spawnSync('gpg', ['--version']).status === 0;

export interface SigningBenchResult {
  key: string;
  unsignedP50: number;
  signedP50: number;
  /** The median of (signed − unsigned) over deploys made one right after the other. */
  extraP50: number;
  /** One sign() of a deploy commit's payload in this process, in ms (median). */
  signMs: number;
}

/** A deploy commit's payload as the bridge signs it: git's commit object without gpgsig. */
const PAYLOAD = Buffer.from(
  'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 8d0e41234f24b6da002d962a26c2495ea16a425f\n' +
    'author Kipper <kipper@localhost> 1700000000 +0000\ncommitter Kipper <kipper@localhost> 1700000000 +0000\n\n' +
    'deploy team-test/app-0001: registry.example.com/app-0001:abc123f\n\nKipper-App: team-test/app-0001\n' +
    'Kipper-Image: registry.example.com/app-0001:abc123f\nKipper-Trigger: webhook\n',
);

/** A deploy through `bridge`'s webhook, in ms. */
async function deploy(bridge: BridgeProcess, app: string, tag: string): Promise<number> {
  const t0 = performance.now();
  const res = await sendWebhook(
    bridge.url,
    app,
    { image: `registry.example.com/${app.split('/')[1]}:${tag}` },
    { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, app, 1) },
  );
  const dt = performance.now() - t0;
  if (res.status !== 200 || res.json.status !== 'deployed')
    throw new Error(`deploy failed: ${JSON.stringify(res.json)}`);
  return dt;
}

/**
 * An unsigned and a signed bridge side by side, each on its own copy of the repo, deploys
 * alternating between them (which goes first alternates too), so that whatever else the
 * machine does hits both alike. The extra is the median of the paired differences.
 */
async function paired(
  server: GitServer,
  n: number,
  rounds: number,
  signingKey: string,
): Promise<Omit<SigningBenchResult, 'key' | 'signMs'>> {
  const repos = [`config-unsigned-${n}.git`, `config-signed-${n}.git`];
  for (const repo of repos) await createConfigRepo(server.root, repo, APPS);
  const unsigned = await startBridge(bridgeEnv(server.url(repos[0]!)));
  const signed = await startBridge({ ...bridgeEnv(server.url(repos[1]!)), KIPPER_SIGNING_KEY: signingKey });
  try {
    const apps = appIds(APPS);
    const times = { unsigned: [] as number[], signed: [] as number[], extra: [] as number[] };
    for (let i = 0; i < rounds + WARMUP; i++) {
      const app = apps[i % apps.length]!;
      const tag = `paired-${n}-${i}`;
      let u: number;
      let s: number;
      if (i % 2 === 0) {
        u = await deploy(unsigned, app, tag);
        s = await deploy(signed, app, tag);
      } else {
        s = await deploy(signed, app, tag);
        u = await deploy(unsigned, app, tag);
      }
      if (i < WARMUP) continue;
      times.unsigned.push(u);
      times.signed.push(s);
      times.extra.push(s - u);
    }
    return {
      unsignedP50: quantile(times.unsigned, 0.5),
      signedP50: quantile(times.signed, 0.5),
      extraP50: quantile(times.extra, 0.5),
    };
  } finally {
    await Promise.all([unsigned.stop(), signed.stop()]);
  }
}

/** The median time of one signature with the key at `path`, in ms. */
async function signMs(path: string): Promise<number> {
  const signer = await loadSigner(path);
  const times: number[] = [];
  for (let i = 0; i < 2 * SIGNATURES; i++) {
    const t0 = performance.now();
    await signer.sign(PAYLOAD);
    if (i >= SIGNATURES) times.push(performance.now() - t0);
  }
  return quantile(times, 0.5);
}

/** The keys, made in `dir`: SSH with ssh-keygen, OpenPGP with gpg in a scratch home (when gpg is installed). */
async function makeKeys(dir: string): Promise<Array<{ name: string; path: string }>> {
  const keys: Array<{ name: string; path: string }> = [];
  for (const [name, args] of [
    ['SSH ed25519', ['-t', 'ed25519']],
    ['SSH RSA 3072', ['-t', 'rsa', '-b', '3072']],
  ] as const) {
    const path = join(dir, name.replace(/\W+/g, '-'));
    await run('ssh-keygen', ['-q', ...args, '-N', '', '-f', path]);
    keys.push({ name, path });
  }
  if (HAS_GPG) {
    const home = join(dir, 'gnupg');
    await mkdir(home, { mode: 0o700 });
    const gpg = (args: string[]) =>
      run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
        env: { ...process.env, GNUPGHOME: home },
      });
    await gpg(['--quick-gen-key', 'Kipper <kipper@localhost>', 'ed25519', 'sign', 'never']);
    const path = join(dir, 'openpgp-ed25519.asc');
    await writeFile(path, (await gpg(['--armor', '--export-secret-keys', 'kipper@localhost'])).stdout);
    spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
    keys.push({ name: 'OpenPGP ed25519', path });
  }
  return keys;
}

/** Per key: unsigned and signed deploy p50, paired, and the cost of one signature in process. */
export async function signingBench(server: GitServer, rounds: number): Promise<SigningBenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-bench-keys-'));
  const results: SigningBenchResult[] = [];
  for (const { name, path } of await makeKeys(dir)) {
    results.push({ key: name, ...(await paired(server, results.length, rounds, path)), signMs: await signMs(path) });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startGitServer();
  try {
    for (const r of await signingBench(server, Number(process.env.BENCH_ROUNDS ?? 40))) {
      const extra = `${r.extraP50 >= 0 ? '+' : ''}${ms(r.extraP50)}`;
      console.log(
        `${r.key.padEnd(16)} deploy p50 ${ms(r.signedP50)} (unsigned ${ms(r.unsignedP50)}, paired ${extra}); sign() ${(r.signMs * 1000).toFixed(0)} µs`,
      );
    }
  } finally {
    await server.close();
  }
}
