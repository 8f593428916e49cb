import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM, INSTALL_CHROMIUM } from '../helpers/browser.js';

/**
 * vitest globalSetup: the console's tests drive a real Chromium (Debian's package). On a
 * fresh machine where it is missing, root installs it here, once, so that `npm test` is
 * all it takes; anyone else is told the one command that does. Browser tests never skip.
 */
export default function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const root = process.getuid?.() === 0;
  const aptGet = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !aptGet)
    throw new Error(
      `The console tests need Chromium at ${CHROMIUM}: run \`${INSTALL_CHROMIUM}\` as root, then npm test again.`,
    );
  process.stdout.write(`Installing Chromium for the console tests (${INSTALL_CHROMIUM})…\n`);
  const install = spawnSync('sh', ['-c', `${INSTALL_CHROMIUM} >/dev/null`], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (install.status !== 0 || !existsSync(CHROMIUM))
    throw new Error(`Installing Chromium failed: run \`${INSTALL_CHROMIUM}\` by hand.`);
}
