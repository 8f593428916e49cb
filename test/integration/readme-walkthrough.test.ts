import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, KIP_BIN, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { eventually } from '../helpers/eventually.js';
import { fillIn, matchOutput, readWalkthrough, renderExpected, type Bindings } from '../helpers/readme-walkthrough.js';

// The quick-start walkthrough, run as written, in order, on a fresh data dir: it starts in
// README.md and goes on in docs/walkthrough.md, one script on one bridge (the page's
// commands depend on what the README's did). `npm start` is `kip serve` in a fresh
// directory (what `npm start` runs once dist/ is built), every other block runs in bash in
// that directory, with `npx kip` being this checkout's `kip` (what npx runs inside the
// checkout), the real `curl` and `git`. Each command must exit 0, write nothing to stderr,
// and print what its output block says, with the placeholders of
// test/helpers/readme-walkthrough.ts. The bridge listens on a free port: `127.0.0.1:8080`
// in the pages stands for it, both ways.

const PAGES = ['README.md', 'docs/walkthrough.md'];
const steps = readWalkthrough(
  PAGES.map((file) => ({ file, markdown: readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8') })),
);
const README_ADDRESS = 'http://127.0.0.1:8080';

/** Output as the pages print it: this bridge's address as theirs, no trailing blanks. */
function normalise(text: string, url: string): string {
  return text
    .split(url)
    .join(README_ADDRESS)
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}

function sh(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const preamble = [
    'set -o pipefail',
    // `npx kip` inside the checkout runs the checkout's bin/kip.js; nothing else may go to npx.
    // curl draws its progress meter on stderr only when stdout is not a terminal, as here.
    'curl() { command curl --no-progress-meter "$@"; }',
    'npx() { if [ "$1" = kip ]; then shift; node "$KIP_BIN" "$@"; else echo "the walkthrough may only run npx kip" >&2; return 127; fi; }',
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `${preamble}\n${script}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the quick-start walkthrough (README.md, then docs/walkthrough.md) runs as written', () => {
  let dir: string;
  let bridge: BridgeProcess | undefined;
  const bindings: Bindings = new Map();
  let failedAt: string | undefined;

  beforeAll(async () => {
    if (spawnSync('curl', ['--version']).status !== 0)
      throw new Error('the walkthrough runs curl: install it (apt-get install -y curl)');
    dir = await mkdtemp(join(tmpdir(), 'kipper-readme-'));
    bindings.set('<checkout>', dir);
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  it('starts with npm start in README.md and goes on in every page', () => {
    expect(steps[0]).toMatchObject({ file: 'README.md', command: 'npm start' });
    expect(new Set(steps.map((s) => s.file))).toEqual(new Set(PAGES));
  });

  steps.forEach((step, i) => {
    it(`${step.file} line ${step.line}: ${step.command.split('\n')[0]}`, async (ctx) => {
      if (failedAt !== undefined) ctx.skip(`a step before it (${failedAt}) failed`);
      failedAt = `${step.file} line ${step.line}`;
      let actual: string;
      if (i === 0) {
        bridge = await startBridge({ KIPPER_DATA_DIR: join(dir, '.kipper') });
        // The banner is one write; the "bridge ready" log line follows it.
        await eventually('the bridge to log that it is ready', () => bridge!.output().includes('"msg":"bridge ready"'));
        // JSON log lines (pino) go to the same stdout: the README shows the banner between them.
        const banner = bridge
          .output()
          .split('\n')
          .filter((l) => !l.startsWith('{"level":'))
          .join('\n');
        actual = normalise(banner, bridge.url);
      } else {
        const script = fillIn(step.command, bindings).split(README_ADDRESS).join(bridge!.url);
        const env = cleanEnv({
          KIPPER_URL: bridge!.url,
          KIP_BIN,
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_CONFIG_NOSYSTEM: '1',
        });
        const run = await sh(script, dir, env);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
        actual = normalise(run.stdout, bridge!.url);
      }
      const expected = normalise(step.expected, README_ADDRESS);
      const match = matchOutput(expected, actual, bindings);
      if (!match.ok) {
        expect(actual, match.reason).toBe(renderExpected(expected, actual, bindings));
        expect.fail(match.reason);
      }
      failedAt = undefined;
    });
  });
});
