import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real `kip` binary of this checkout (built by `npm test`). */
export const KIP_BIN = fileURLToPath(new URL('../../bin/kip.js', import.meta.url));

/** A `kip serve` child process on a free loopback port. */
export interface BridgeProcess {
  url: string;
  dataDir: string;
  adminToken: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Environment for a child that must not inherit a developer's KIPPER_* settings. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KIPPER_')) env[k] = v;
  return { ...env, ...extra };
}

/** Start `kip serve` with `env` (KIPPER_PORT=0 by default) and wait until it listens. */
export async function startBridge(env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<BridgeProcess> {
  const dataDir = env.KIPPER_DATA_DIR ?? (await mkdtemp(join(tmpdir(), 'kipper-data-')));
  const fullEnv = cleanEnv({ KIPPER_PORT: '0', KIPPER_HOST: '127.0.0.1', KIPPER_DATA_DIR: dataDir, ...env });
  const child = spawn(process.execPath, [...nodeArgs, KIP_BIN, 'serve'], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start in 30 s:\n${out}`)), 30_000);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    exited
      .then((code) => {
        clearTimeout(timer);
        reject(new Error(`bridge exited with ${code} before listening:\n${out}`));
      })
      .catch(reject);
  });
  const adminToken = env.KIPPER_ADMIN_TOKEN ?? (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  return {
    url,
    dataDir,
    adminToken,
    env: fullEnv,
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Where and as what `runKip` runs `kip`. */
export interface RunKipOptions {
  /** The working directory (default: this process's). */
  cwd?: string;
  /** The script to run instead of KIP_BIN, e.g. a symlink to it as `npm install -g` makes. */
  bin?: string;
  /**
   * SIGKILL the child if it has not exited after this many ms; the result then has `code: null`.
   * Without it a `kip` that hangs runs until the test times out, and outlives it.
   */
  timeoutMs?: number;
}

/** Run the real `kip` binary; resolves with its exit code (null when killed) and output. */
export function runKip(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: RunKipOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [options.bin ?? KIP_BIN, ...args], {
      cwd: options.cwd,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** POST a webhook with the given headers and body. */
export async function postWebhook(
  base: string,
  app: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}/api/v1/webhook/${app}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, headers: res.headers };
}
