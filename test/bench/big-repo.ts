/**
 * A config repo at the scale of issue #14: `apps` apps listed in one kipper.yaml (each
 * with its webhook enabled at generation 1, one Deployment file each) and `commits`
 * commits of history, each deploying one app, written with `git fast-import`.
 *
 * Apps are spread over namespaces of `perNamespace` apps (`team-007-test/app-00712`), as
 * Kipper namespaces are `<project>-<environment>`. One namespace of 10,000 apps is a
 * 10,000-entry directory whose tree changes in every commit: 100,000 versions of a
 * 370 KB tree are 37 GB that any clone hashes (native `git clone` of 5,000 such commits
 * took 4 s here), which no bridge can fetch in 30 s.
 */
import { spawn } from 'node:child_process';
import { deploymentYaml } from '../helpers/config-repo.js';
import { git, GIT_TEST_ENV } from '../helpers/git-cli.js';

/** Ids of `count` apps, `perNamespace` to a namespace. */
export function spreadAppIds(count: number, perNamespace: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const ns = `team-${String(Math.floor(i / perNamespace)).padStart(3, '0')}-test`;
    return `${ns}/app-${String(i).padStart(5, '0')}`;
  });
}

/** The one file of app `id`. */
export function appFile(id: string): string {
  return `apps/${id}/deployment.yaml`;
}

/** Writes the bare repo `<root>/<name>` (refusing non-fast-forward pushes, served for push); returns its path. */
export async function generateBigRepo(
  root: string,
  name: string,
  ids: readonly string[],
  commits: number,
): Promise<string> {
  const bare = `${root}/${name}`;
  await git(['init', '-q', '--bare', '--initial-branch=main', bare]);
  const blob = (path: string, text: string) => `M 100644 inline ${path}\ndata ${Buffer.byteLength(text)}\n${text}\n`;
  const commit = (n: number, message: string, body: string) =>
    `commit refs/heads/main\ncommitter Kipper <kipper@localhost> ${1_600_000_000 + n * 60} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n${body}`;
  const apps = ids.map(
    (id) => `  - namespace: ${id.split('/')[0]}\n    name: ${id.split('/')[1]}\n    files: [${appFile(id)}]`,
  );
  const hooks = ids.map((id) => `  ${id}: { generation: 1 }`);
  const kipper = `apps:\n${apps.join('\n')}\nwebhooks:\n${hooks.join('\n')}\n`;
  const yaml = (id: string, image: string) => deploymentYaml(id.split('/')[1]!, id.split('/')[0]!, image);
  // Streamed in chunks: 100,000 commits are ~60 MB of fast-import input.
  const child = spawn('git', ['--git-dir', bare, 'fast-import', '--quiet'], {
    env: { ...process.env, ...GIT_TEST_ENV },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`)))),
  );
  const write = (text: string) =>
    child.stdin.write(text) ? Promise.resolve() : new Promise<void>((r) => child.stdin.once('drain', () => r()));
  let body = blob('kipper.yaml', kipper);
  for (const id of ids) body += blob(appFile(id), yaml(id, `registry.example.com/${id.split('/')[1]}:v0`));
  await write(commit(0, 'seed\n', body));
  let chunk = '';
  for (let i = 1; i < commits; i++) {
    // A stride coprime with the app count: consecutive commits touch apps far apart.
    const id = ids[(i * 7919) % ids.length]!;
    const image = `registry.example.com/${id.split('/')[1]}:v${i}`;
    const msg = `deploy ${id}: ${image}\n\nKipper-App: ${id}\nKipper-Image: ${image}\nKipper-Trigger: webhook\n`;
    chunk += commit(i, msg, blob(appFile(id), yaml(id, image)));
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  child.stdin.end(chunk);
  await exited;
  await git(['--git-dir', bare, 'config', 'http.receivepack', 'true']);
  await git(['--git-dir', bare, 'config', 'receive.denyNonFastForwards', 'true']);
  await git(['--git-dir', bare, 'repack', '-adq']);
  return bare;
}
