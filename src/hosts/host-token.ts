import type { CredentialSource } from '../repo/credentials/credential-source.js';

/**
 * The token inside the remote's credentials (`Basic base64(user:token)`, what a token,
 * a token file or a GitHub App installation hands out), for the host's REST API: the
 * same credentials push and open pull requests, renewed and rotated the same way.
 */
export async function hostToken(credentials: Pick<CredentialSource, 'header'>): Promise<string> {
  const header = await credentials.header();
  if (!header) return '';
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme !== 'Basic') return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(colon + 1);
}
