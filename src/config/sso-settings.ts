import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KipError } from '../errors.js';
import { isHttpsUrl } from './https-url.js';

/** Single sign-on for people (docs/identity-and-access.md "People: SSO and roles"); undefined: the admin token alone. */
export interface SsoSettings {
  /** KIPPER_OIDC_ISSUER: the OpenID Provider, https. */
  issuer: string;
  /** KIPPER_OIDC_CLIENT_ID: the console's client, and the audience of the tokens `kip login` holds. */
  clientId: string;
  /** From KIPPER_OIDC_CLIENT_SECRET_FILE; undefined: a public client (PKCE alone). */
  clientSecret: string | undefined;
  /** KIPPER_OIDC_GROUPS_CLAIM (default `groups`). */
  groupsClaim: string;
  /** KIPPER_OIDC_SESSION_CHECK: how often (seconds) a console session is checked again with the provider (default 300). */
  sessionCheckSeconds: number;
}

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const ssoEnv = z.object({
  KIPPER_OIDC_ISSUER: optional.refine((v) => v === undefined || isHttpsUrl(v), {
    message:
      "must be the https URL of the OpenID Provider, exactly as its tokens' iss says (a private CA: NODE_EXTRA_CA_CERTS)",
  }),
  KIPPER_OIDC_CLIENT_ID: optional,
  KIPPER_OIDC_CLIENT_SECRET_FILE: optional,
  KIPPER_OIDC_GROUPS_CLAIM: optional,
  KIPPER_OIDC_SESSION_CHECK: optional.refine(
    (v) => v === undefined || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 3600),
    {
      message: 'must be a number of seconds from 1 to 3600',
    },
  ),
});

/** SSO from the environment, checked; every problem as `VAR: message`, the secret never in one. */
export function loadSsoSettings(env: NodeJS.ProcessEnv): SsoSettings | undefined {
  const parsed = ssoEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new KipError('CONFIG_INVALID', `invalid environment: ${lines.join('; ')}`, { issues: lines });
  }
  const e = parsed.data;
  const set = [
    e.KIPPER_OIDC_CLIENT_ID,
    e.KIPPER_OIDC_CLIENT_SECRET_FILE,
    e.KIPPER_OIDC_GROUPS_CLAIM,
    e.KIPPER_OIDC_SESSION_CHECK,
  ].some((v) => v !== undefined);
  if (e.KIPPER_OIDC_ISSUER === undefined) {
    if (set)
      throw new KipError(
        'CONFIG_INVALID',
        'invalid environment: KIPPER_OIDC_* is set without KIPPER_OIDC_ISSUER: set the issuer, or unset them',
      );
    return undefined;
  }
  if (e.KIPPER_OIDC_CLIENT_ID === undefined)
    throw new KipError(
      'CONFIG_INVALID',
      'invalid environment: KIPPER_OIDC_CLIENT_ID: required with KIPPER_OIDC_ISSUER (the client registered for the bridge)',
    );
  let clientSecret: string | undefined;
  if (e.KIPPER_OIDC_CLIENT_SECRET_FILE !== undefined) {
    try {
      clientSecret = readFileSync(e.KIPPER_OIDC_CLIENT_SECRET_FILE, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new KipError(
        'CONFIG_INVALID',
        `invalid environment: KIPPER_OIDC_CLIENT_SECRET_FILE: cannot read ${e.KIPPER_OIDC_CLIENT_SECRET_FILE} (${code})`,
      );
    }
    if (clientSecret === '')
      throw new KipError('CONFIG_INVALID', 'invalid environment: KIPPER_OIDC_CLIENT_SECRET_FILE: the file is empty');
  }
  return {
    issuer: e.KIPPER_OIDC_ISSUER,
    clientId: e.KIPPER_OIDC_CLIENT_ID,
    clientSecret,
    groupsClaim: e.KIPPER_OIDC_GROUPS_CLAIM ?? 'groups',
    sessionCheckSeconds: e.KIPPER_OIDC_SESSION_CHECK === undefined ? 300 : Number(e.KIPPER_OIDC_SESSION_CHECK),
  };
}
