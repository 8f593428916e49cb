import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { bodyTrailers, proposalBody, proposalBranch } from '../../../src/deploys/proposals/proposal-branch.js';
import { isKipError } from '../../../src/errors.js';
import { formatCommitMessage } from '../../../src/history/trailers.js';

const app = (keys: string) => `apps:\n  - namespace: shop-prod\n    name: api\n    files: [a.yaml]\n${keys}`;

function refusal(text: string): string {
  try {
    parseKipperFile(text);
  } catch (err) {
    if (isKipError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

// Issue #20: pull-request mode per app.
describe('kipper.yaml write: pull-request', () => {
  it('defaults to direct writes, no auto-merge, no labels', () => {
    expect(parseKipperFile(app('')).apps.get('shop-prod/api')).toMatchObject({
      write: 'direct',
      autoMerge: false,
      labels: [],
    });
  });

  it('reads write, autoMerge and labels', () => {
    const parsed = parseKipperFile(app('    write: pull-request\n    autoMerge: true\n    labels: [deploy, kipper]\n'));
    expect(parsed.apps.get('shop-prod/api')).toMatchObject({
      write: 'pull-request',
      autoMerge: true,
      labels: ['deploy', 'kipper'],
    });
  });

  it('refuses an unknown mode and a non-boolean autoMerge, naming the field', () => {
    expect(refusal(app('    write: pr\n'))).toContain('apps[0].write: must be direct or pull-request');
    expect(refusal(app('    write: pull-request\n    autoMerge: "yes"\n'))).toContain(
      'apps[0].autoMerge: must be true or false',
    );
    expect(refusal(app('    labels: [""]\n'))).toContain('apps[0].labels[0]');
  });
});

describe('a proposal’s branch and body', () => {
  it('names the branch kipper/<namespace>/<app>', () => {
    expect(proposalBranch('shop-prod/api')).toBe('kipper/shop-prod/api');
  });

  it('ends the body with the commit’s trailers, so a squash merge keeps them', () => {
    const message = formatCommitMessage(
      'deploy shop-prod/api: registry.example.com/api:v2',
      {
        app: 'shop-prod/api',
        image: 'registry.example.com/api:v2',
        trigger: 'rollback',
        actor: 'admin',
        reason: 'INC-7',
        pullRequest: 'https://github.com/acme/config/pull/4',
      },
      'This reverts commit abc1234.',
    );
    const body = proposalBody(message);
    expect(body).toContain('INC-7');
    expect(body).toContain('This reverts commit abc1234.');
    expect(bodyTrailers(body)).toEqual({
      app: 'shop-prod/api',
      image: 'registry.example.com/api:v2',
      trigger: 'rollback',
      reason: 'INC-7',
      actor: 'admin',
      pullRequest: 'https://github.com/acme/config/pull/4',
    });
    // A squash merge's message: the title, then the body.
    expect(bodyTrailers(`deploy shop-prod/api (#4)\r\n\r\n${body.replace(/\n/g, '\r\n')}`).pullRequest).toBe(
      'https://github.com/acme/config/pull/4',
    );
  });
});
