import { parseArgs } from 'node:util';
import { KipError } from '../errors.js';
import { commandHelp, commandsTaking } from './usage.js';

/** Options every `kip app` command takes. */
export interface AppOptions {
  namespace: string | undefined;
  json: boolean;
  url: string;
  revision: string | undefined;
  image: string | undefined;
  commit: string | undefined;
  from: string | undefined;
  to: string | undefined;
  project: string | undefined;
  environment: string | undefined;
  timeout: string | undefined;
  /** Why (`--reason`): the commit's body and `Kipper-Reason` trailer, or a lock's reason. */
  reason: string | undefined;
  /** `rollback --lock`: lock the app in the same commit. */
  lock: boolean;
  /** `history --wide`: more columns (REASON). */
  wide: boolean;
}

const OPTIONS = {
  project: { type: 'string', short: 'p' },
  environment: { type: 'string', short: 'e' },
  namespace: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  revision: { type: 'string' },
  image: { type: 'string' },
  commit: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  timeout: { type: 'string' },
  reason: { type: 'string' },
  lock: { type: 'boolean' },
  wide: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * When `argv` asks for help (`--help` or `-h` before any `--`), the positionals it names
 * (`['rollback']` for `rollback api --help`); otherwise undefined. Lenient on purpose:
 * `kip app update --imgae x --help` should still print update's help, not an error.
 */
export function helpRequest(argv: string[]): string[] | undefined {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (!flags.includes('--help') && !flags.includes('-h')) return undefined;
  return parseArgs({ args: argv, allowPositionals: true, strict: false, options: OPTIONS }).positionals;
}

/** Parse `kip app …` arguments into positionals and options. */
export function parseAppArgs(argv: string[], env: NodeJS.ProcessEnv): { positionals: string[]; options: AppOptions } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw new KipError('USAGE', usageMessage(err as Error & { code?: string }, argv));
  }
  const v = parsed.values;
  let namespace = v.namespace;
  if (namespace === undefined && v.project !== undefined && v.environment !== undefined) {
    namespace = `${v.project}-${v.environment}`;
  }
  return {
    positionals: parsed.positionals,
    options: {
      namespace,
      json: v.json ?? false,
      url: (v.url ?? env.KIPPER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
      revision: v.revision,
      image: v.image,
      commit: v.commit,
      from: v.from,
      to: v.to,
      project: v.project,
      environment: v.environment,
      timeout: v.timeout,
      reason: v.reason,
      lock: v.lock ?? false,
      wide: v.wide ?? false,
    },
  };
}

/**
 * Flags only some commands take (their help lists them). Any other command refuses them
 * rather than ignore them: `kip app update --lock` must not look as if it had locked anything.
 */
const NARROW_FLAGS: Array<[keyof AppOptions, string]> = [
  ['reason', '--reason'],
  ['lock', '--lock'],
  ['wide', '--wide'],
  ['timeout', '--timeout'],
];

/** Throws USAGE when `kip app <command>` was given one of NARROW_FLAGS that its help does not list. */
export function checkFlagsOf(command: string, options: AppOptions): void {
  for (const [key, flag] of NARROW_FLAGS) {
    const commands = commandsTaking(flag);
    if (options[key] === undefined || options[key] === false || commands.includes(command)) continue;
    throw new KipError('USAGE', `kip app ${command} takes no ${flag}: it goes with kip app ${commands.join('|')}; see \`kip help ${command}\``);
  }
}

/** `--revision N`, a revision number from `kip app history`, or undefined without the flag. */
export function revisionOf(options: AppOptions): number | undefined {
  if (options.revision === undefined) return undefined;
  const revision = Number(options.revision);
  if (!/^\d+$/.test(options.revision) || revision < 1) {
    throw new KipError('USAGE', `--revision must be a revision number from \`kip app history\`, got "${options.revision}"`);
  }
  return revision;
}

/**
 * `--reason TEXT`, checked where kip can: a missing or blank one is a usage error. The
 * bridge checks the rest (one line, at most 500 characters).
 */
export function reasonOf(options: AppOptions, required: string | undefined): string | undefined {
  if (options.reason !== undefined && options.reason.trim() === '') {
    throw new KipError('USAGE', '--reason needs a text: say why, e.g. --reason "INC-42: bad migration"');
  }
  if (options.reason === undefined && required !== undefined) throw new KipError('USAGE', required);
  return options.reason;
}

/**
 * The `<namespace>/<app>` an app argument names: `ns/app` as is, or `app` with
 * `--namespace` or `--project` and `--environment`.
 */
export function resolveApp(arg: string | undefined, options: AppOptions): { id: string; name: string } {
  if (!arg) throw new KipError('USAGE', 'name the app, e.g. `kip app history api --project yourr-name --environment test`');
  if (arg.includes('/')) {
    const [ns, name] = arg.split('/', 2) as [string, string];
    return { id: `${ns}/${name}`, name };
  }
  if (!options.namespace) {
    throw new KipError('USAGE', `which namespace is ${arg} in? pass --project and --environment, or --namespace`);
  }
  return { id: `${options.namespace}/${arg}`, name: arg };
}

/** Node's parseArgs messages, shortened to what to fix, pointing at the command's help. */
function usageMessage(err: Error & { code?: string }, argv: string[]): string {
  const sub = parseArgs({ args: argv, allowPositionals: true, strict: false, options: OPTIONS }).positionals[0];
  const help = sub && commandHelp(sub) ? `kip help ${sub}` : 'kip app --help';
  const option = /'(-[^' ]+)/.exec(err.message)?.[1];
  let what = err.message.split('\n')[0]!;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) what = `unknown option ${option}`;
  else if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    what = /does not take an argument/.test(err.message) ? `${option} takes no value` : `${option} needs a value (one starting with - as ${option}=VALUE)`;
  }
  return `${what}; see \`${help}\``;
}
