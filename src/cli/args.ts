import { parseArgs } from 'node:util';
import { KipError } from '../errors.js';
import { commandHelp } from './usage.js';

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
    },
  };
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
