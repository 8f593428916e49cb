import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../config/secrets.js';
import { KipError, type KipErrorCode } from '../errors.js';

/** Calls the bridge's admin API and turns its errors into KipErrors. */
export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** A client for `baseUrl` with the admin token from KIPPER_ADMIN_TOKEN or the local data dir. */
  static async fromEnv(baseUrl: string, env: NodeJS.ProcessEnv): Promise<AdminClient> {
    let token = env.KIPPER_ADMIN_TOKEN?.trim();
    if (!token) {
      const path = join(resolve(env.KIPPER_DATA_DIR ?? './.kipper'), ADMIN_TOKEN_FILE);
      try {
        token = (await readFile(path, 'utf8')).trim();
      } catch {
        throw new KipError('ADMIN_UNAUTHORIZED', `no admin token: set KIPPER_ADMIN_TOKEN, or run kip where the bridge's data dir is (${path} not found)`);
      }
    }
    return new AdminClient(baseUrl, token);
  }

  /** Send a request; resolves with the parsed JSON of a 2xx answer. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
    } catch {
      throw new KipError('BRIDGE_UNREACHABLE', `cannot reach the bridge at ${this.baseUrl}; is \`kip serve\` running? (set KIPPER_URL)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KipError('INTERNAL', `the bridge answered ${res.status} without JSON`);
    }
    if (!res.ok) {
      const e = json as { error?: string; code?: string };
      throw new KipError((e.code as KipErrorCode) ?? 'INTERNAL', e.error ?? `the bridge answered ${res.status}`, { status: res.status, body: json });
    }
    return json as T;
  }
}
