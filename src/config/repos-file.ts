import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { KipError } from '../errors.js';

/** A repo's name: what `repo` says in history, /api/v1/apps, `kip app list` and /metrics. */
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BRANCH = /^(?!.*\.\.)(?!\/)[A-Za-z0-9._/-]+(?<!\/)(?<!\.lock)$/;

const authSchema = z
  .object({
    token: z
      .object({ file: z.string().min(1), username: z.string().min(1).optional() })
      .strict()
      .optional(),
    ssh: z
      .object({ key: z.string().min(1), knownHosts: z.string().min(1) })
      .strict()
      .optional(),
    githubApp: z
      .object({
        appId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String),
        privateKey: z.string().min(1),
        installationId: z
          .union([z.number().int().positive(), z.string().regex(/^\d+$/)])
          .transform(String)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((a) => [a.token, a.ssh, a.githubApp].filter(Boolean).length <= 1, {
    message: 'at most one of token, ssh, githubApp',
  });

const repoSchema = z
  .object({
    name: z.string().regex(NAME, 'must be lowercase letters, digits and -, e.g. platform'),
    url: z.string().min(1),
    branch: z.string().regex(BRANCH, 'must be a valid branch name').default('main'),
    provider: z.enum(['github', 'gitlab', 'generic']).optional(),
    apiUrl: z.url().optional(),
    auth: authSchema.optional(),
  })
  .strict();

const fileSchema = z
  .object({ repos: z.array(repoSchema).min(1, 'list at least one repo') })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.repos.forEach((r, i) => {
      if (seen.has(r.name))
        ctx.addIssue({
          code: 'custom',
          path: ['repos', i, 'name'],
          message: `"${r.name}" is used twice: names must be unique`,
        });
      seen.add(r.name);
    });
  });

/** One entry of KIPPER_REPOS_FILE (docs/design.md "Several config repos"). */
export type RepoEntry = z.infer<typeof repoSchema>;

/**
 * Read KIPPER_REPOS_FILE: every problem reported as `path: message`, naming the file.
 * Read once at startup, synchronously, like the rest of the environment.
 */
export function loadReposFile(path: string): RepoEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_REPOS_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KipError(
      'CONFIG_INVALID',
      `KIPPER_REPOS_FILE: ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`);
    throw new KipError('CONFIG_INVALID', `KIPPER_REPOS_FILE ${path}: ${lines.join('; ')}`, { issues: lines });
  }
  return parsed.data.repos;
}
