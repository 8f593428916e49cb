import { KipError, isKipError } from '../errors.js';
import { AdminClient } from './admin-client.js';
import { checkFlagsOf, checkNamespaceFlags, helpRequest, parseAppArgs, type AppOptions } from './args.js';
import { appPromote, appUpdate } from './commands/app-deploy.js';
import { appHistory } from './commands/app-history.js';
import { appList } from './commands/app-list.js';
import { appLock, appUnlock } from './commands/app-lock.js';
import { appRollback } from './commands/app-rollback.js';
import { appWait } from './commands/app-wait.js';
import { appWebhook } from './commands/app-webhook.js';
import { currentUser } from './current-user.js';
import { didYouMean } from './did-you-mean.js';
import { printable } from './printable.js';
import { APP_USAGE, COMMAND_NAMES, USAGE, commandHelp } from './usage.js';
import { kipVersion } from './version.js';

type AppCommand = (client: AdminClient, args: string[], options: AppOptions) => Promise<string>;

/** Who a lock names (`by`). */
const whoAmI = () => currentUser(process.env);

const APP_COMMANDS: Record<string, AppCommand> = {
  webhook: appWebhook,
  list: (client, _args, options) => appList(client, options),
  history: appHistory,
  rollback: (client, args, options) => appRollback(client, args, options, whoAmI),
  update: appUpdate,
  promote: appPromote,
  lock: (client, args, options) => appLock(client, args, options, whoAmI),
  unlock: (client, args, options) => appUnlock(client, args, options, whoAmI),
  wait: (client, args, options) => appWait(client, args, options, (line) => write(line)),
};

/** What `kip` itself says: first `kip`, then `kip app`. */
const TOP_COMMANDS = ['serve', 'app', 'login', 'logout', 'help', '--help', '--version'];

/**
 * Every line kip prints goes through here: a commit message or an author with ESC, BEL
 * or C1 in it prints as `\u001b`, and never rewrites the terminal (issue #18, §5).
 */
function write(text: string, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${printable(text)}\n`);
}

/** `unknown command "histroy"; did you mean "history"?`, else what `otherwise` says. */
function unknownCommand(name: string, candidates: readonly string[], otherwise: string): KipError {
  const near = didYouMean(name, candidates);
  return new KipError('USAGE', near ? `unknown command "${name}"; did you mean "${near}"?` : otherwise);
}

/** Exit codes, decided here only: 0 ok, 1 the operation failed, 2 usage error, 3 `wait` timed out. */
function exitCodeOf(err: unknown): number {
  if (isKipError(err, 'USAGE')) return 2;
  return isKipError(err, 'ROLLOUT_TIMEOUT') ? 3 : 1;
}

/** `kip help [app] <command>`: the command's help, or the list of commands. */
function help(names: string[]): string {
  const [first, second] = names;
  if (first === undefined || first === 'help') return USAGE;
  const name = first === 'app' ? second : first;
  if (name === undefined) return APP_USAGE;
  const text = commandHelp(name);
  if (!text)
    throw unknownCommand(
      name,
      COMMAND_NAMES,
      `no command "${[...names].join(' ')}": kip help takes one of ${COMMAND_NAMES.join(', ')}`,
    );
  return text;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    write(USAGE);
    return 2;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    write(help(rest));
    return 0;
  }
  if (command === '--version' || command === '-v') {
    write(kipVersion());
    return 0;
  }
  if (command === 'serve') {
    if (rest.includes('--help') || rest.includes('-h')) {
      write(help(['serve']));
      return 0;
    }
    // Only `kip serve` loads the bridge (express, zod, pino, …): help and the API
    // commands start in a fraction of the time without it (issue #18).
    const { serve } = await import('./serve.js');
    return serve();
  }
  if (command === 'login' || command === 'logout') {
    if (rest.includes('--help') || rest.includes('-h')) {
      write(help([command]));
      return 0;
    }
    // openid-client only for these two (and a stored login's refresh): kip starts light.
    const { login, logout } = await import('./commands/login.js');
    const url = (process.env.KIPPER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    write(command === 'login' ? await login(url, process.env, (line) => write(line)) : await logout(process.env));
    return 0;
  }
  if (command !== 'app')
    throw unknownCommand(
      command,
      TOP_COMMANDS,
      `unknown command "${command}": use kip serve or kip app <command> (see kip --help)`,
    );
  write(await app(rest));
  return 0;
}

/** `kip app <command> …`: the command's output, or its help. */
async function app(argv: string[]): Promise<string> {
  const asked = helpRequest(argv);
  if (asked) return help(asked[0] === 'help' ? ['app', ...asked.slice(1)] : ['app', ...asked.slice(0, 1)]);
  const { positionals, options, given } = parseAppArgs(argv, process.env);
  const [sub, ...args] = positionals;
  if (sub === 'help') return help(['app', ...args]);
  const run = sub !== undefined && Object.hasOwn(APP_COMMANDS, sub) ? APP_COMMANDS[sub] : undefined;
  if (sub === undefined || !run) {
    const list = `kip app ${Object.keys(APP_COMMANDS).join('|')} (see kip app --help)`;
    if (sub === undefined) throw new KipError('USAGE', `name a command: ${list}`);
    throw unknownCommand(sub, Object.keys(APP_COMMANDS), `unknown command "app ${sub}": ${list}`);
  }
  checkFlagsOf(sub, given);
  checkNamespaceFlags(options);
  return run(AdminClient.fromEnv(options.url, process.env), args, options);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const json = process.argv.includes('--json');
    if (json && isKipError(err)) {
      const body = (err.data.body as object | undefined) ?? { error: err.message, code: err.code };
      write(JSON.stringify(body, null, 2));
    }
    const message = err instanceof Error ? err.message : String(err);
    // One line, always (docs/design.md "Admin API and CLI"); the help is a command away.
    write(`Error: ${message.split('\n')[0]}`, process.stderr);
    process.exit(exitCodeOf(err));
  },
);
