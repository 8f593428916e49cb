import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KipError } from '../../errors.js';

/** What `kip login` keeps (mode 0600): which bridge and provider, and the refresh token. */
interface StoredLogin {
  bridge: string;
  issuer: string;
  clientId: string;
  refreshToken: string;
}

const SCOPE = 'openid email profile offline_access groups';

/** `$XDG_CONFIG_HOME/kipper/login.json`, else `~/.config/kipper/login.json`. */
export function loginFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(homedir(), '.config');
  return join(base, 'kipper', 'login.json');
}

/**
 * `kip login`: the device authorization grant (RFC 8628) with the provider the bridge names
 * (`GET /auth/oidc`): prints where to go and the code to enter, waits, and keeps the refresh
 * token. openid-client is loaded here only (kip's other commands start without it).
 */
export async function login(url: string, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<string> {
  const { issuer, clientId } = await providerOf(url);
  const oidc = await import('openid-client');
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.None()).catch((err: unknown) => {
    throw new KipError(
      'BRIDGE_UNREACHABLE',
      `cannot reach the OpenID Provider ${issuer}: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  const device = await oidc.initiateDeviceAuthorization(config, { scope: SCOPE, prompt: 'consent' });
  say(`Open ${device.verification_uri} and enter the code ${device.user_code}`);
  if (device.verification_uri_complete) say(`(or open ${device.verification_uri_complete})`);
  say('Waiting for you to sign in…');
  let tokens;
  try {
    tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
  } catch (err) {
    throw new KipError(
      'ADMIN_UNAUTHORIZED',
      `signing in did not complete: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!tokens.refresh_token)
    throw new KipError(
      'ADMIN_UNAUTHORIZED',
      `${issuer} gave no refresh token: allow the refresh_token grant (offline_access) for client ${clientId}`,
    );
  await store(env, { bridge: url, issuer, clientId, refreshToken: tokens.refresh_token });
  const claims = tokens.claims();
  const who = typeof claims?.email === 'string' ? claims.email : (claims?.sub ?? 'you');
  return `✔ Signed in to ${url} as ${who}`;
}

/** `kip logout`: forget the stored login (and revoke its refresh token at the provider, when it can be reached). */
export async function logout(env: NodeJS.ProcessEnv): Promise<string> {
  const stored = await readStored(env);
  if (!stored) return 'Not signed in: nothing to forget.';
  await rm(loginFile(env), { force: true });
  try {
    const oidc = await import('openid-client');
    const config = await oidc.discovery(new URL(stored.issuer), stored.clientId, undefined, oidc.None());
    await oidc.tokenRevocation(config, stored.refreshToken, { token_type_hint: 'refresh_token' });
  } catch {
    // Forgotten here either way; the provider lets it expire.
  }
  return '✔ Signed out';
}

/**
 * The bearer token of the stored login, refreshed (the new refresh token is kept: providers
 * rotate them), or undefined when `kip login` was never run. A JWT access token for this
 * client when the provider issues one, else the ID token: the bridge verifies either.
 */
export async function loginToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const stored = await readStored(env);
  if (!stored) return undefined;
  const oidc = await import('openid-client');
  let tokens;
  try {
    const config = await oidc.discovery(new URL(stored.issuer), stored.clientId, undefined, oidc.None());
    tokens = await oidc.refreshTokenGrant(config, stored.refreshToken);
  } catch (err) {
    throw new KipError(
      'ADMIN_UNAUTHORIZED',
      `your login has ended (${err instanceof Error ? err.message : String(err)}): run \`kip login\` again`,
    );
  }
  if (tokens.refresh_token && tokens.refresh_token !== stored.refreshToken)
    await store(env, { ...stored, refreshToken: tokens.refresh_token });
  if (isJwtFor(tokens.access_token, stored.clientId)) return tokens.access_token;
  if (!tokens.id_token)
    throw new KipError(
      'ADMIN_UNAUTHORIZED',
      `${stored.issuer} returned no ID token on refresh: run \`kip login\` again`,
    );
  return tokens.id_token;
}

async function providerOf(url: string): Promise<{ issuer: string; clientId: string }> {
  let res: Response;
  try {
    res = await fetch(`${url}/auth/oidc`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new KipError(
      'BRIDGE_UNREACHABLE',
      `cannot reach the bridge at ${url}; is \`kip serve\` running? (set KIPPER_URL)`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { issuer?: unknown; clientId?: unknown; error?: unknown };
  if (res.status !== 200 || typeof body.issuer !== 'string' || typeof body.clientId !== 'string') {
    throw new KipError(
      'NOT_FOUND',
      typeof body.error === 'string' ? body.error : `the bridge at ${url} has no single sign-on (KIPPER_OIDC_ISSUER)`,
    );
  }
  return { issuer: body.issuer, clientId: body.clientId };
}

async function readStored(env: NodeJS.ProcessEnv): Promise<StoredLogin | undefined> {
  let text: string;
  try {
    text = await readFile(loginFile(env), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as Partial<StoredLogin>;
    if (
      typeof s.issuer === 'string' &&
      typeof s.clientId === 'string' &&
      typeof s.refreshToken === 'string' &&
      typeof s.bridge === 'string'
    )
      return s as StoredLogin;
  } catch {
    // below
  }
  throw new KipError(
    'CONFIG_INVALID',
    `${loginFile(env)} is not kip's login: delete it (kip logout) and run kip login`,
  );
}

/** Written to a temporary file of mode 0600 first, then renamed: never a moment with the token readable by others, or half written. */
async function store(env: NodeJS.ProcessEnv, login: StoredLogin): Promise<void> {
  const file = loginFile(env);
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

function isJwtFor(token: string, clientId: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    const { aud } = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { aud?: unknown };
    return aud === clientId || (Array.isArray(aud) && aud.includes(clientId));
  } catch {
    return false;
  }
}
