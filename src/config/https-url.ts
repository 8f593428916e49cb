/** An https URL without query, fragment or credentials: what an OpenID issuer must be. */
export function isHttpsUrl(v: string): boolean {
  try {
    const url = new URL(v);
    return (
      url.protocol === 'https:' && url.search === '' && url.hash === '' && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
}
