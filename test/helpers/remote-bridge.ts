import { startBridge, type BridgeProcess } from './bridge-process.js';
import { createConfigRepo } from './config-repo.js';
import { createBareRepo } from './git-cli.js';
import { startGitServer, type GitServerOptions, type GitServer } from './git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from './tokens.js';

/** A config repo served by `git http-backend` and a `kip serve` bridge writing to it. */
export interface RemoteBridge {
  server: GitServer;
  /** The bare repo on the server's disk, for native-git assertions. */
  bare: string;
  bridge: BridgeProcess;
}

/**
 * Start a git server with `config.git` seeded from a fixture directory (or `seed`
 * generated apps), and a bridge on it with the test secret key and admin token.
 */
export async function startRemoteBridge(
  seed: string | number,
  env: NodeJS.ProcessEnv = {},
  serverOptions: GitServerOptions = {},
): Promise<RemoteBridge> {
  const server = await startGitServer(serverOptions);
  const bare =
    typeof seed === 'number'
      ? await createConfigRepo(server.root, 'config.git', seed)
      : await createBareRepo(server.root, 'config.git', seed);
  const bridge = await startBridge({
    KIPPER_REPO_URL: server.url('config.git'),
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...env,
  });
  return { server, bare, bridge };
}
