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

/** `--reason`, as update, promote and unlock take it. */
const REASON: [string, string] = [
  '--reason TEXT',
  'why, one line: the commit says it (body and Kipper-Reason trailer)',
];

/** `--direct`, as update, rollback and promote take it (pull-request mode, docs/protected-branches.md). */
const DIRECT: [string, string] = [
  '--direct',
  'push straight to the branch, not as a pull request (incidents; the branch must allow it)',
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
    summary:
      'List the apps in kipper.yaml with their current image and webhook state (only the\n' +
      'namespace given, if one is); when an app is locked, a LOCKED column says why.',
    flags: [],
    example: 'kip app list --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'history',
    usage: 'kip app history <app> [--limit N] [--wide]',
    summary:
      "Show an app's revisions from git, newest first: (current) marks the newest, (undone) one\n" +
      'that a later rollback or git revert took the app away from; BY says who did it. A locked\n' +
      'app first gets a line saying who locked it, when and why.',
    flags: [
      ['--limit N', 'only the newest N revisions (default: all of them)'],
      ['--wide', "also show each revision's REASON (from --reason), last"],
    ],
    example: 'kip app history api --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'rollback',
    usage: 'kip app rollback <app> [--revision N] [--reason TEXT [--lock]]',
    summary:
      'Roll an app back with a new commit: to the newest earlier revision that is not undone and\n' +
      'whose value differs from the current one, or to revision N. With --lock the same commit\n' +
      'locks the app (see kip help lock), so no CI run deploys in between.',
    flags: [
      ['--revision N', 'the revision to go back to (a number from `kip app history`)'],
      REASON,
      ['--lock', "also lock the app's webhook, for --reason (needs --reason)"],
      DIRECT,
    ],
    example: 'kip app rollback api --lock --reason "INC-42: bad migration" --project demo --environment test',
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
    summary:
      'Deploy by hand (trigger manual): an image app gets an image, with the source commit it was\nbuilt from if given; a git-source app gets a commit.',
    flags: [
      ['--image REF', 'the image to deploy (image apps)'],
      ['--commit SHA', "a git-source app's commit, or the source commit of the image"],
      REASON,
      DIRECT,
    ],
    example: 'kip app update api --image registry.example.com/api:hotfix1 --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'promote',
    usage: 'kip app promote <app> --project P --from ENV --to ENV',
    summary:
      'Deploy the current image of the app in namespace P-FROM to the same app in P-TO\n(trigger promotion). Image apps only.',
    flags: [
      ['-p, --project P', 'the project: the app goes from namespace P-FROM to P-TO'],
      ['--from ENV', 'the environment to copy from (a whole namespace without --project)'],
      ['--to ENV', 'the environment to deploy to (a whole namespace without --project)'],
      REASON,
      DIRECT,
    ],
    example: 'kip app promote api --project demo --from test --to prod',
    namespaced: false,
  },
  {
    name: 'lock',
    usage: 'kip app lock <app> --reason TEXT',
    summary:
      'Lock an app during an incident: its webhook (and GitHub/GitLab push events) deploy nothing\n' +
      'and answer 423 APP_LOCKED until kip app unlock; kip app update, promote and rollback still\n' +
      'work. The lock is a commit to kipper.yaml (locks:) naming you: $KIPPER_USER, else git config\n' +
      'user.email, else your OS user name. Locking again replaces the reason.',
    flags: [['--reason TEXT', 'why, one line (required): shown by history and list, and in the commit']],
    example: 'kip app lock api --reason "INC-42: bad migration" --project demo --environment test',
    namespaced: true,
  },
  {
    name: 'unlock',
    usage: 'kip app unlock <app> [--reason TEXT]',
    summary: 'Unlock an app: its webhook deploys again. An app that is not locked is left as it is.',
    flags: [['--reason TEXT', 'why, one line: the commit says it (body and Kipper-Reason trailer)']],
    example: 'kip app unlock api --reason "INC-42 fixed" --project demo --environment test',
    namespaced: true,
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

const LOGIN: CommandHelp = {
  name: 'login',
  usage: 'kip login',
  summary:
    "Sign in through the bridge's OpenID Provider (device authorization: open the address it prints\n" +
    'and enter the code). The refresh token is kept in $XDG_CONFIG_HOME/kipper/login.json (mode 0600);\n' +
    'kip then acts as you when KIPPER_ADMIN_TOKEN is unset. kip logout forgets it.',
  flags: [['-h, --help', 'print this help']],
  example: 'KIPPER_URL=https://kipper.example.com kip login',
  namespaced: false,
};

const LOGOUT: CommandHelp = {
  name: 'logout',
  usage: 'kip logout',
  summary: 'Forget the login kip login kept (and revoke its refresh token at the provider).',
  flags: [['-h, --help', 'print this help']],
  example: 'kip logout',
  namespaced: false,
};

/** `kip --help`: every command on one line each. */
export const USAGE = `usage:
  kip serve                                   run the bridge (env: KIPPER_*)
  kip login | kip logout                      sign in as yourself (single sign-on), or forget it
  kip app webhook enable|status|disable <app> manage an app's webhook token
  kip app list                                apps, current image, webhook state
  kip app history <app> [--limit N] [--wide]  revisions from git, newest first
  kip app rollback <app> [--revision N]       go back one revision, or to #N
  kip app lock <app> --reason TEXT            stop the app's webhook deploying (incidents)
  kip app unlock <app>                        let the webhook deploy again
  kip app wait <app> [--revision N]           wait until a revision runs (Argo CD / Flux)
  kip app update <app> --image REF            deploy an image by hand
  kip app update <app> --commit SHA           deploy a git-source app's commit by hand
  kip app promote <app> --from ENV --to ENV   copy the current image to another environment
  kip help <command>                          a command's flags and an example
  kip --version                               print kip's version

app options: --project P --environment E (namespace P-E) | --namespace NS,
             --json, --url URL (default $KIPPER_URL or http://127.0.0.1:8080);
             --reason TEXT on rollback, update, promote, lock, unlock`;

/** The long flags a help entry lists: `--project` for `-p, --project P`. */
const longFlags = (flags: Array<[string, string]>) => flags.map(([f]) => /--[a-z-]+/.exec(f)![0]);

/** The `kip app` commands whose help lists `flag` (`--reason`), in help order. */
export function commandsTaking(flag: string): string[] {
  return COMMANDS.filter((c) => flagsOf(c.name).includes(flag)).map((c) => c.name);
}

/** Every long flag `kip app <name>` takes, as its help lists them; empty for a name that is no app command. */
export function flagsOf(name: string): string[] {
  const cmd = COMMANDS.find((c) => c.name === name);
  return cmd ? longFlags([...cmd.flags, ...(cmd.namespaced ? NAMESPACE_FLAGS : []), ...APP_FLAGS]) : [];
}

/** The names of the `kip app` commands, in help order. */
export const APP_COMMAND_NAMES = COMMANDS.map((c) => c.name);

/** `kip app --help`: the app commands. */
export const APP_USAGE = `usage: kip app <command> <app> [flags]

commands:
  webhook enable|status|disable <app>   manage an app's webhook token
  list                                  apps, current image, webhook state
  history <app> [--limit N] [--wide]    revisions from git, newest first
  rollback <app> [--revision N]         go back one revision, or to #N
  lock <app> --reason TEXT              stop the app's webhook deploying (incidents)
  unlock <app>                          let the webhook deploy again
  wait <app> [--revision N]             wait until a revision runs (Argo CD / Flux)
  update <app> --image REF | --commit SHA
                                        deploy by hand
  promote <app> --from ENV --to ENV     copy the current image to another environment

Every command takes --project P --environment E (namespace P-E) or --namespace NS, and --json;
rollback, update, promote, lock and unlock take --reason TEXT (rollback --lock also locks).
\`kip app <command> --help\` (or \`kip help <command>\`) shows its flags and an example.`;

/** The names `kip help` knows, for error messages. */
export const COMMAND_NAMES = [SERVE, LOGIN, LOGOUT, ...COMMANDS].map((c) => c.name);

/** The help of `kip app <name>` (or `kip serve`), or undefined for a name that is no command. */
export function commandHelp(name: string): string | undefined {
  const cmd = [SERVE, LOGIN, LOGOUT, ...COMMANDS].find((c) => c.name === name);
  if (!cmd) return undefined;
  const app = cmd !== SERVE && cmd !== LOGIN && cmd !== LOGOUT;
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
