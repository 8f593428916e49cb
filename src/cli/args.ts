import { parseArgs } from 'node:util';
import { KipError } from '../errors.js';

/** Options every `kip app` command takes. */
export interface AppOptions {
  namespace: string | undefined;
  json: boolean;
  url: string;
  revision: string | undefined;
  image: string | undefined;
  from: string | undefined;
  to: string | undefined;
  project: string | undefined;
  environment: string | undefined;
}

/** Parse `kip app …` arguments into positionals and options. */
export function parseAppArgs(argv: string[], env: NodeJS.ProcessEnv): { positionals: string[]; options: AppOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        project: { type: 'string', short: 'p' },
        environment: { type: 'string', short: 'e' },
        namespace: { type: 'string', short: 'n' },
        json: { type: 'boolean' },
        url: { type: 'string' },
        revision: { type: 'string' },
        image: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
      },
    });
  } catch (err) {
    throw new KipError('INVALID_BODY', `${(err as Error).message}`, { usage: true });
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
      from: v.from,
      to: v.to,
      project: v.project,
      environment: v.environment,
    },
  };
}

/**
 * The `<namespace>/<app>` an app argument names: `ns/app` as is, or `app` with
 * `--namespace` or `--project` and `--environment`.
 */
export function resolveApp(arg: string | undefined, options: AppOptions): { id: string; name: string } {
  if (!arg) throw new KipError('INVALID_BODY', 'name the app, e.g. `kip app history api --project yourr-name --environment test`', { usage: true });
  if (arg.includes('/')) {
    const [ns, name] = arg.split('/', 2) as [string, string];
    return { id: `${ns}/${name}`, name };
  }
  if (!options.namespace) {
    throw new KipError('INVALID_BODY', `which namespace is ${arg} in? pass --project and --environment, or --namespace`, { usage: true });
  }
  return { id: `${options.namespace}/${arg}`, name: arg };
}
