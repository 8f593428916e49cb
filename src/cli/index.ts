import { KipError, isKipError } from '../errors.js';
import { AdminClient } from './admin-client.js';
import { parseAppArgs } from './args.js';
import { appPromote, appUpdate } from './commands/app-deploy.js';
import { appHistory } from './commands/app-history.js';
import { appList } from './commands/app-list.js';
import { appRollback } from './commands/app-rollback.js';
import { appWebhook } from './commands/app-webhook.js';
import { serve } from './serve.js';

const USAGE = `usage:
  kip serve                                   run the bridge (env: KIPPER_*)
  kip app webhook enable|status|disable <app> manage an app's webhook token
  kip app list                                apps, current image, webhook state
  kip app history <app>                       revisions from git, newest first
  kip app rollback <app> [--revision N]       go back one revision, or to #N
  kip app update <app> --image REF            deploy an image by hand
  kip app promote <app> --from ENV --to ENV   copy the current image to another environment

app options: --project P --environment E (namespace P-E) | --namespace NS,
             --json, --url URL (default $KIPPER_URL or http://127.0.0.1:8080)`;

/** Exit codes, decided here only: 0 ok, 1 the operation failed, 2 usage error. */
function exitCodeOf(err: unknown): number {
  return isKipError(err) && err.data.usage ? 2 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve();
  if (command === '--help' || command === '-h' || command === 'help' || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'app') throw new KipError('INVALID_BODY', `unknown command "${command}"\n${USAGE}`, { usage: true });
  const { positionals, options } = parseAppArgs(rest, process.env);
  const [sub, ...args] = positionals;
  const client = await AdminClient.fromEnv(options.url, process.env);
  let output: string;
  switch (sub) {
    case 'webhook':
      output = await appWebhook(client, args, options);
      break;
    case 'list':
      output = await appList(client, options);
      break;
    case 'history':
      output = await appHistory(client, args, options);
      break;
    case 'rollback':
      output = await appRollback(client, args, options);
      break;
    case 'update':
      output = await appUpdate(client, args, options);
      break;
    case 'promote':
      output = await appPromote(client, args, options);
      break;
    default:
      throw new KipError('INVALID_BODY', `unknown command "app ${sub ?? ''}"\n${USAGE}`, { usage: true });
  }
  process.stdout.write(`${output}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const json = process.argv.includes('--json');
    if (json && isKipError(err)) {
      const body = (err.data.body as object | undefined) ?? { error: err.message, code: err.code };
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`Error: ${isKipError(err) && err.data.usage ? message : message.split('\n')[0]}\n`);
    process.exit(exitCodeOf(err));
  },
);
