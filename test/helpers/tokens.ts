import { createHmac } from 'node:crypto';

/** docs/design.md's token derivation, written out independently of src/ for tests. */
export function tokenFor(secretKey: string, app: string, generation: number): string {
  return createHmac('sha256', secretKey).update(`${app}:${generation}`).digest('hex');
}

/** A fixed secret key for tests (64 hex). */
export const TEST_SECRET_KEY = 'f'.repeat(16) + '0123456789abcdef'.repeat(3);
export const TEST_ADMIN_TOKEN = 'admin-' + 'a1b2c3d4'.repeat(4);
