import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../config/secrets.js';
import type { ErrorAnswer } from '../api-types.js';
import { KipError, type KipErrorCode } from '../errors.js';

/** How long kip waits for an answer: `?wait=`-less deploys finish well within it. */
const TIMEOUT_MS = 120_000;

/** Calls the bridge's admin API and turns its errors into KipErrors. */
export class AdminClient {
  private token: Promise<string> | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly readToken: () => Promise<string>,
    /** Who runs kip (KIPPER_USER), sent as `X-Kipper-User`: the bridge records `admin (as <name>)`. */
    private readonly user?: string,
  ) {}

  /**
   * A client for `baseUrl` with the admin token from KIPPER_ADMIN_TOKEN, else from
   * `admin-token` in the bridge's data dir (KIPPER_DATA_DIR, else ./.kipper). The token is
   * read at the first request, so a usage error is reported before a missing token.
   */
  static fromEnv(baseUrl: string, env: NodeJS.ProcessEnv): AdminClient {
    return new AdminClient(baseUrl, () => adminToken(env), claimedUser(env));
  }

  /** Send a request; resolves with the parsed JSON of a 2xx answer. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    this.token ??= this.readToken();
    const token = await this.token;
    let res: { status: number; text: string };
    try {
      res = await send(
        new URL(`${this.baseUrl}${path}`),
        method,
        token,
        body === undefined ? undefined : JSON.stringify(body),
        this.user,
      );
    } catch {
      throw new KipError(
        'BRIDGE_UNREACHABLE',
        `cannot reach the bridge at ${this.baseUrl}; is \`kip serve\` running? (set KIPPER_URL)`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      throw new KipError('INTERNAL', `the bridge answered ${res.status} without JSON`);
    }
    if (res.status < 200 || res.status > 299) {
      const e = json as Partial<ErrorAnswer>;
      throw new KipError((e.code as KipErrorCode) ?? 'INTERNAL', e.error ?? `the bridge answered ${res.status}`, {
        status: res.status,
        body: json,
      });
    }
    return json as T;
  }
}

/**
 * One HTTP request with node:http(s), not fetch: fetch loads undici on first use, which
 * costs a one-shot CLI about 25 ms of CPU and 8 MB (issue #18, "Load only what a command needs").
 */
async function send(
  url: URL,
  method: string,
  token: string,
  body: string | undefined,
  user: string | undefined,
): Promise<{ status: number; text: string }> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(user === undefined ? {} : { 'x-kipper-user': user }),
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * KIPPER_USER, when set: who runs kip, as the bridge records it (docs/design.md "Who did
 * it": claimed, not verified). Only what HTTP can carry in a header; a name kip's lock
 * `by` refuses is refused there (current-user.ts).
 */
function claimedUser(env: NodeJS.ProcessEnv): string | undefined {
  const user = env.KIPPER_USER?.trim();
  return user && user.length <= 200 && /^[\x20-\x7e]+$/.test(user) && !/[()]/.test(user) ? user : undefined;
}

/**
 * The bearer token: KIPPER_ADMIN_TOKEN, else the login `kip login` keeps (refreshed), else
 * the admin token in the data dir; the error says where it looked.
 */
async function adminToken(env: NodeJS.ProcessEnv): Promise<string> {
  const token = env.KIPPER_ADMIN_TOKEN?.trim();
  if (token) return token;
  // Loaded only when needed: openid-client is for signed-in people only.
  const { loginToken } = await import('./commands/login.js');
  const personal = await loginToken(env);
  if (personal) return personal;
  const dataDir = env.KIPPER_DATA_DIR?.trim();
  const path = join(resolve(dataDir || './.kipper'), ADMIN_TOKEN_FILE);
  const where = dataDir
    ? `${path} (from KIPPER_DATA_DIR)`
    : `${path} (the default data dir ./.kipper, from the current directory)`;
  let problem: string;
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (text) return text;
    problem = 'is empty';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`;
  }
  throw new KipError(
    'ADMIN_UNAUTHORIZED',
    `no admin token: KIPPER_ADMIN_TOKEN is not set and ${where} ${problem}; set KIPPER_ADMIN_TOKEN, or KIPPER_DATA_DIR to the data dir of the bridge kip talks to`,
  );
}
