import { parseArgs } from 'node:util';
import { KipError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { commandHelp, commandsTaking, flagsOf } from './usage.js';

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
  /** `history --limit N`: only the newest N revisions. */
  limit: string | undefined;
  /** `update|rollback|promote --direct`: push straight, even for an app in pull-request mode. */
  direct: boolean;
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
  limit: { type: 'string' },
  direct: { type: 'boolean' },
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

/**
 * Parse `kip app …` arguments into positionals and options, and the long flags that were
 * given (`--project` for `-p`), for `checkFlagsOf`.
 */
export function parseAppArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { positionals: string[]; options: AppOptions; given: string[] } {
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
    given: Object.keys(v)
      .filter((k) => k !== 'help')
      .map((k) => `--${k}`),
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
      limit: v.limit,
      direct: v.direct ?? false,
    },
  };
}

/** Whether namespace `ns` is the one `--project`/`--environment` (either, both or neither) name. */
function agrees(ns: string, project: string | undefined, environment: string | undefined): boolean {
  if (project !== undefined && environment !== undefined) return ns === `${project}-${environment}`;
  if (project !== undefined) return ns.startsWith(`${project}-`);
  if (environment !== undefined) return ns.endsWith(`-${environment}`);
  return true;
}

/** `--project P --environment E`, or the one of them given. */
function namespaceFlags(project: string | undefined, environment: string | undefined): string {
  return [
    project === undefined ? '' : `--project ${project}`,
    environment === undefined ? '' : `--environment ${environment}`,
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * Throws USAGE when `kip app <command>` was given a flag that its help does not list:
 * refused rather than ignored, so `kip app update --lock` cannot look as if it had locked
 * anything and `kip app history --revision 3` cannot look as if it had picked one.
 */
export function checkFlagsOf(command: string, given: readonly string[]): void {
  const takes = flagsOf(command);
  for (const flag of given) {
    if (takes.includes(flag)) continue;
    throw new KipError(
      'USAGE',
      `kip app ${command} takes no ${flag}: it goes with kip app ${commandsTaking(flag).join('|')}; see \`kip help ${command}\``,
    );
  }
}

/**
 * Throws USAGE when `--namespace` and `--project`/`--environment` name different namespaces:
 * two answers to one question, and which one was meant is a guess kip does not make (issue #18).
 */
export function checkNamespaceFlags(options: AppOptions): void {
  const { namespace, project, environment } = options;
  if (namespace === undefined || agrees(namespace, project, environment)) return;
  throw new KipError(
    'USAGE',
    `--namespace ${namespace} and ${namespaceFlags(project, environment)} name different namespaces: give one of them`,
  );
}

/** A positive whole number given as `flag`, or a usage error that says what it needs. */
function countOf(value: string, flag: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new KipError('USAGE', `${flag} must be ${what}, got "${value}"`);
  return n;
}

/** `--revision N`, a revision number from `kip app history`, or undefined without the flag. */
export function revisionOf(options: AppOptions): number | undefined {
  if (options.revision === undefined) return undefined;
  return countOf(options.revision, '--revision', 'a revision number from `kip app history`');
}

/** `--limit N`, how many revisions `kip app history` shows (the newest), or undefined for all of them. */
export function limitOf(options: AppOptions): number | undefined {
  if (options.limit === undefined) return undefined;
  return countOf(options.limit, '--limit', 'a positive whole number (how many revisions)');
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
  if (!arg)
    throw new KipError('USAGE', 'name the app, e.g. `kip app history api --project yourr-name --environment test`');
  if (arg.includes('/')) {
    const parts = arg.split('/');
    const [ns, name] = parts as [string, string];
    if (parts.length !== 2 || !ns || !name)
      throw new KipError('USAGE', `name the app as app or namespace/app, got "${arg}"`);
    // As checkNamespaceFlags: two answers to one question are an error, not a guess.
    if (
      options.namespace !== undefined ? options.namespace !== ns : !agrees(ns, options.project, options.environment)
    ) {
      // A namespace without both --project and --environment came from --namespace.
      const fromNamespace =
        options.namespace !== undefined && (options.project === undefined || options.environment === undefined);
      const flags = fromNamespace
        ? `--namespace ${options.namespace}`
        : namespaceFlags(options.project, options.environment);
      const both = options.namespace === undefined ? '' : ` (${ns}, ${options.namespace})`;
      throw new KipError('USAGE', `${arg} and ${flags} name different namespaces${both}: give the namespace once`);
    }
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
  const option = /'(-[^' =]+)/.exec(err.message)?.[1];
  let what = err.message.split('\n')[0]!;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    // Among the command's own flags when it is known: a flag it does not take is no help.
    const known = sub && flagsOf(sub).length > 0 ? flagsOf(sub) : Object.keys(OPTIONS).map((k) => `--${k}`);
    const near = option.startsWith('--') ? didYouMean(option, known) : undefined;
    what = near ? `unknown option ${option}; did you mean ${near}?` : `unknown option ${option}`;
  } else if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    what = /does not take an argument/.test(err.message)
      ? `${option} takes no value`
      : `${option} needs a value (one starting with - as ${option}=VALUE)`;
  }
  // `did you mean --image?` is a question: the pointer to the help follows in parentheses.
  return what.endsWith('?') ? `${what} (see \`${help}\`)` : `${what}; see \`${help}\``;
}
