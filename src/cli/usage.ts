/**
 * What `kip --help`, `kip help <command>` and `kip app <command> --help` print: one entry
 * per command, each with its usage line, its flags and one example (issue #9).
 */
interface CommandHelp {
  /** The name after `kip app` (or `serve`). */
  name: string;
  usage: string;
  summary: string;
  flags: Array<[string, string]>;
  example: string;
  /** Takes the flags that name the app's namespace (promote names its own). */
  namespaced: boolean;
}

const NAMESPACE_FLAGS: Array<[string, string]> = [
  ['-p, --project P', 'with --environment E: the app is in namespace P-E'],
  ['-e, --environment E', 'see --project'],
  ['-n, --namespace NS', 'instead of --project/--environment (or name the app ns/app)'],
];
const APP_FLAGS: Array<[string, string]> = [
  ['--json', "print exactly the admin API's JSON"],
  ['--url URL', 'the bridge (default $KIPPER_URL, else http://127.0.0.1:8080)'],
  ['-h, --help', 'print this help'],
];

const COMMANDS: CommandHelp[] = [
  {
    name: 'webhook',
    usage: 'kip app webhook enable|status|disable <app>',
    summary:
      "Manage an app's webhook token. enable turns the webhook on, or regenerates its token (the\n" +
      'old one stops working); status shows the URL and token; disable turns it off.',
    flags: [],
    example: 'kip app webhook enable api --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'list',
    usage: 'kip app list',
    summary: 'List the apps in kipper.yaml with their current image and webhook state (only the\nnamespace given, if one is).',
    flags: [],
    example: 'kip app list --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'history',
    usage: 'kip app history <app>',
    summary:
      "Show an app's revisions from git, newest first: (current) marks the newest, (undone) one\nthat a later rollback or git revert took the app away from.",
    flags: [],
    example: 'kip app history api --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'rollback',
    usage: 'kip app rollback <app> [--revision N]',
    summary:
      'Roll an app back with a new commit: to the newest earlier revision that is not undone and\nwhose value differs from the current one, or to revision N.',
    flags: [['--revision N', 'the revision to go back to (a number from `kip app history`)']],
    example: 'kip app rollback api --revision 2 --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'wait',
    usage: 'kip app wait <app> [--revision N] [--timeout 10m]',
    summary:
      'Wait until a revision (default: the current one) is running, as Argo CD or Flux report it;\n' +
      'a line each time its rollout state changes. Exit 0 healthy, 1 degraded, failed or superseded,\n' +
      '3 when --timeout passes first.',
    flags: [
      ['--revision N', 'the revision to wait for (default: the current one)'],
      ['--timeout T', 'how long to wait: 90s, 10m, 1h, or seconds (default 10m)'],
    ],
    example: 'kip app wait api --timeout 15m --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'update',
    usage: 'kip app update <app> (--image REF [--commit SHA] | --commit SHA)',
    summary: 'Deploy by hand (trigger manual): an image app gets an image, with the source commit it was\nbuilt from if given; a git-source app gets a commit.',
    flags: [
      ['--image REF', 'the image to deploy (image apps)'],
      ['--commit SHA', "a git-source app's commit, or the source commit of the image"],
    ],
    example: 'kip app update api --image registry.example.com/api:hotfix1 --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'promote',
    usage: 'kip app promote <app> --project P --from ENV --to ENV',
    summary: 'Deploy the current image of the app in namespace P-FROM to the same app in P-TO\n(trigger promotion). Image apps only.',
    flags: [
      ['-p, --project P', 'the project: the app goes from namespace P-FROM to P-TO'],
      ['--from ENV', 'the environment to copy from (a whole namespace without --project)'],
      ['--to ENV', 'the environment to deploy to (a whole namespace without --project)'],
    ],
    example: 'kip app promote api --project demo --from test --to prod',
    namespaced: false,
  },
];

const SERVE: CommandHelp = {
  name: 'serve',
  usage: 'kip serve',
  summary:
    'Run the bridge until SIGTERM/SIGINT. Configured by the environment (KIPPER_PORT, KIPPER_HOST,\n' +
    'KIPPER_DATA_DIR, KIPPER_REPO_URL, …; see the README). Without KIPPER_REPO_URL it serves an\n' +
    'embedded config repo in the data dir, with an example app demo-test/api.',
  flags: [['-h, --help', 'print this help']],
  example: 'KIPPER_PORT=8080 kip serve',
  namespaced: false,
};

/** `kip --help`: every command on one line each. */
export const USAGE = `usage:
  kip serve                                   run the bridge (env: KIPPER_*)
  kip app webhook enable|status|disable <app> manage an app's webhook token
  kip app list                                apps, current image, webhook state
  kip app history <app>                       revisions from git, newest first
  kip app rollback <app> [--revision N]       go back one revision, or to #N
  kip app wait <app> [--revision N]           wait until a revision runs (Argo CD / Flux)
  kip app update <app> --image REF            deploy an image by hand
  kip app update <app> --commit SHA           deploy a git-source app's commit by hand
  kip app promote <app> --from ENV --to ENV   copy the current image to another environment
  kip help <command>                          a command's flags and an example

app options: --project P --environment E (namespace P-E) | --namespace NS,
             --json, --url URL (default $KIPPER_URL or http://127.0.0.1:8080)`;

/** `kip app --help`: the app commands. */
export const APP_USAGE = `usage: kip app <command> <app> [flags]

commands:
  webhook enable|status|disable <app>   manage an app's webhook token
  list                                  apps, current image, webhook state
  history <app>                         revisions from git, newest first
  rollback <app> [--revision N]         go back one revision, or to #N
  update <app> --image REF | --commit SHA
                                        deploy by hand
  promote <app> --from ENV --to ENV     copy the current image to another environment

Every command takes --project P --environment E (namespace P-E) or --namespace NS, and --json.
\`kip app <command> --help\` (or \`kip help <command>\`) shows its flags and an example.`;

/** The names `kip help` knows, for error messages. */
export const COMMAND_NAMES = [SERVE, ...COMMANDS].map((c) => c.name);

/** The help of `kip app <name>` (or `kip serve`), or undefined for a name that is no command. */
export function commandHelp(name: string): string | undefined {
  const cmd = [SERVE, ...COMMANDS].find((c) => c.name === name);
  if (!cmd) return undefined;
  const app = cmd !== SERVE;
  const flags = [...cmd.flags, ...(cmd.namespaced ? NAMESPACE_FLAGS : []), ...(app ? APP_FLAGS : [])];
  const width = Math.max(...flags.map(([f]) => f.length));
  const suffix = `${cmd.namespaced ? ' [--project P --environment E | --namespace NS]' : ''}${app ? ' [--json]' : ''}`;
  return [
    `usage: ${cmd.usage}${suffix}`,
    '',
    cmd.summary,
    '',
    'flags:',
    ...flags.map(([f, text]) => `  ${f.padEnd(width)}  ${text}`),
    '',
    'example:',
    `  ${cmd.example}`,
  ].join('\n');
}
