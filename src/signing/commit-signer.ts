/** Signs commit payloads with one key (KIPPER_SIGNING_KEY). */
export interface CommitSigner {
  readonly format: 'ssh' | 'openpgp';
  /** `SHA256:<base64>` as `ssh-keygen -l` prints it, or the 40-hex v4 fingerprint of the OpenPGP (sub)key that signs. */
  readonly fingerprint: string;
  /** For humans and logs: "SSH ED25519 SHA256:…" or "OpenPGP <40-hex fingerprint>". */
  readonly description: string;
  /**
   * The armored signature of `payload`: the commit object without a gpgsig header, exactly
   * the bytes git signs. It ends with a newline, as ssh-keygen and gpg write it. Async:
   * OpenPGP.js signs with promises.
   */
  sign(payload: Buffer): Promise<string>;
}
