import { basicAuth, type CredentialSource } from './credential-source.js';

/** KIPPER_GIT_USERNAME / KIPPER_GIT_TOKEN (or `user:pass@` in the URL): the same header on every request. */
export class StaticToken implements CredentialSource {
  readonly refusedHint = 'check KIPPER_GIT_USERNAME and KIPPER_GIT_TOKEN';
  private readonly value: string | undefined;
  private readonly all: string[] = [];

  constructor(username: string, token: string) {
    if (username !== '' || token !== '') {
      const { header, secrets } = basicAuth(username, token);
      this.value = header;
      this.all.push(...secrets);
    }
  }

  header(): Promise<string | undefined> {
    return Promise.resolve(this.value);
  }

  /** Nothing fresher to get: a 401 with a static token is final. */
  refresh(): Promise<boolean> {
    return Promise.resolve(false);
  }

  secrets(): readonly string[] {
    return this.all;
  }
}
