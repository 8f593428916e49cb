import { describe, expect, it } from 'vitest';
import { mergeTargets, notificationsSchema, notifyUrlEnvSchema, redactUrl } from '../../../src/notify/targets.js';

const SLACK = 'https://hooks.slack.com/services/T000/B000/tokenSECRET';

function issues(result: {
  success: boolean;
  error?: { issues: Array<{ path: PropertyKey[]; message: string }> };
}): string[] {
  return (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('notification targets', () => {
  it('reads kipper.yaml notifications: a URL, an optional event filter and format', () => {
    expect(notificationsSchema.parse(undefined)).toEqual([]);
    expect(notificationsSchema.parse(null)).toEqual([]);
    expect(
      notificationsSchema.parse([
        { url: 'http://deploy-log.ops.svc:8080/kipper', events: ['deployed', 'refused'] },
        { url: ' https://chat.example.com/slack ', format: 'slack' },
      ]),
    ).toEqual([
      { url: 'http://deploy-log.ops.svc:8080/kipper', events: ['deployed', 'refused'] },
      { url: 'https://chat.example.com/slack', format: 'slack' },
    ]);
  });

  it('says what is wrong with a target without repeating its URL', () => {
    const bad = notificationsSchema.safeParse([
      { url: 'ftp://files.example.com/x' },
      { url: 'https://user:tokenSECRET@example.com/hook' },
      { url: 'https://example.com/', events: ['deploy'] },
      { url: 'https://example.com/', events: [] },
      { url: 'https://example.com/', format: 'teams' },
      { url: 'https://example.com/', event: ['deployed'] },
    ]);
    const found = issues(bad);
    expect(found).toEqual([
      '0.url: must be an http:// or https:// URL',
      '1.url: must not carry a user or password before the host (put a token in the path; receivers check the signature)',
      expect.stringMatching(
        /^2\.events\.0: must be one of deployed, rolled_back, locked, unlocked, refused, healthy, degraded$/,
      ),
      '3.events: list at least one event, or leave `events` out for all of them',
      '4.format: must be json or slack',
      expect.stringMatching(/^5: .*event/),
    ]);
    expect(found.join('\n')).not.toContain('SECRET');
  });

  it('reads KIPPER_NOTIFY_URL as one URL or several, separated by commas or spaces', () => {
    expect(notifyUrlEnvSchema.parse(undefined)).toEqual([]);
    expect(notifyUrlEnvSchema.parse('  ')).toEqual([]);
    expect(notifyUrlEnvSchema.parse(SLACK)).toEqual([{ url: SLACK }]);
    expect(notifyUrlEnvSchema.parse(`${SLACK}, http://r.ops.svc/x  http://10.0.0.7:8080`)).toEqual([
      { url: SLACK },
      { url: 'http://r.ops.svc/x' },
      { url: 'http://10.0.0.7:8080/' },
    ]);
    const bad = notifyUrlEnvSchema.safeParse(`${SLACK},hooks.slack.com/services/x`);
    expect(issues(bad)).toEqual([': URL 2 of 2 must be an http:// or https:// URL']);
  });

  it('merges both: a URL in both is one target, as kipper.yaml says', () => {
    const env = [{ url: SLACK }, { url: 'http://r.ops.svc/x' }];
    const file = [{ url: 'http://r.ops.svc/x', events: ['refused' as const] }];
    expect(mergeTargets(env, file)).toEqual([{ url: SLACK }, { url: 'http://r.ops.svc/x', events: ['refused'] }]);
  });

  it('shows a URL in logs as scheme and host only', () => {
    expect(redactUrl(SLACK)).toBe('https://hooks.slack.com/…');
    expect(redactUrl('http://10.0.0.7:8080/')).toBe('http://10.0.0.7:8080');
    expect(redactUrl('http://10.0.0.7:8080/?token=x')).toBe('http://10.0.0.7:8080/…');
    expect(redactUrl('https://user:pw@example.com/x')).toBe('https://example.com/…');
    expect(redactUrl('nope')).toBe('(invalid URL)');
  });
});
