import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`): browser downloads do not work here. */
export const CHROMIUM = process.env.KIPPER_CHROMIUM ?? '/usr/bin/chromium';

/** What installs it, for the message when it is missing. */
export const INSTALL_CHROMIUM = 'apt-get update && apt-get install -y chromium';

/**
 * A headless Chromium. The flags keep it off the network it cannot reach anyway
 * (background updates, sync, Google lookups) and let it run as root in a container.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`${INSTALL_CHROMIUM}\` (or set KIPPER_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
