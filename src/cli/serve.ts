import { loadSettings } from '../config/settings.js';
import { createLogger } from '../log.js';
import { startServer } from '../http/start-server.js';
import { printable } from './printable.js';

const EXAMPLE_APP = 'demo-test/api';

/** `kip serve`: run the bridge until SIGTERM/SIGINT; resolves with the exit code. */
export async function serve(): Promise<number> {
  const settings = loadSettings();
  const log = createLogger(settings.logLevel);
  const running = await startServer(settings, log);
  const { bridge } = running;
  const out: string[] = [`Kipper bridge listening on ${running.url}`];
  out.push(`Config repo: ${bridge.description}`);
  if (bridge.embedded) {
    // The embedded default is a local playground: printing the example app's token is
    // what makes the quick start a copy-paste. With a real remote nothing secret is printed.
    const token = bridge.webhooks.token(EXAMPLE_APP);
    if (token) {
      const url = running.webhookUrl(EXAMPLE_APP);
      out.push(
        '',
        `Example app ${EXAMPLE_APP}`,
        `Webhook URL: ${url}`,
        `Secret token: ${token}`,
        // `enable` bumps the generation, so this token stops working after it (DESIGN.md, Webhook).
        `(kip app webhook status ${EXAMPLE_APP} shows it again; kip app webhook enable replaces it)`,
        '',
        'Try it:',
        `  curl -X POST ${url} \\`,
        `    -H "X-Kipper-Token: ${token}" \\`,
        `    -H "Content-Type: application/json" \\`,
        `    -d '{"image":"registry.example.com/api:abc123f","commit":"abc123f"}'`,
      );
    }
    out.push('', `Admin token for kip: ${settings.dataDir}/admin-token`);
  }
  // As everything kip prints (index.ts): the config repo's description names a URL from the environment.
  process.stdout.write(`${printable(out.join('\n'))}\n\n`);
  log.info('bridge ready', { url: running.url, head: bridge.head() });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      // Bounded: pushes in flight finish or time out well before this.
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        resolve(1);
      }, 25_000);
      force.unref();
      void running.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
