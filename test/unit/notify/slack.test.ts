import { describe, expect, it } from 'vitest';
import { notificationEvent } from '../../../src/notify/events.js';
import { isSlackIncomingWebhook, slackMessage } from '../../../src/notify/slack.js';
import { formatOf } from '../../../src/notify/targets.js';

describe('Slack format', () => {
  it('is chosen for Slack incoming webhooks only, or when a target asks for it', () => {
    expect(isSlackIncomingWebhook('https://hooks.slack.com/services/T000/B000/XXXX')).toBe(true);
    expect(isSlackIncomingWebhook('https://hooks.slack.com/triggers/T000/1/abc')).toBe(false); // Workflow Builder: flat JSON
    expect(isSlackIncomingWebhook('http://hooks.slack.com/services/T000/B000/XXXX')).toBe(false);
    expect(isSlackIncomingWebhook('https://hooks.slack.com.example.com/services/T/B/X')).toBe(false);
    expect(isSlackIncomingWebhook('not a url')).toBe(false);
    expect(formatOf({ url: 'https://hooks.slack.com/services/T000/B000/XXXX' })).toBe('slack');
    expect(formatOf({ url: 'https://hooks.slack.com/services/T000/B000/XXXX', format: 'json' })).toBe('json');
    expect(formatOf({ url: 'http://127.0.0.1:9999/slack', format: 'slack' })).toBe('slack');
    expect(formatOf({ url: 'http://receiver.ops.svc:8080/' })).toBe('json');
  });

  it('is a one-line text and one mrkdwn section with what is known, escaped', () => {
    const m = slackMessage(
      notificationEvent({
        event: 'rolled_back',
        app: 'team/api',
        revision: 9,
        image: 'ghcr.io/acme/api:1.3',
        commit: '0123456789abcdef0123456789abcdef01234567',
        trigger: 'rollback',
        reason: 'errors <5xx> & timeouts\nafter 1.4',
        author: 'alice',
        url: 'https://git.example.com/acme/config/commit/abc?x=1|2',
      }),
    );
    expect(m.text).toBe('team/api rolled back revision 9: ghcr.io/acme/api:1.3');
    expect(m.blocks).toHaveLength(1);
    expect(m.blocks[0]!.type).toBe('section');
    expect(m.blocks[0]!.text.type).toBe('mrkdwn');
    expect(m.blocks[0]!.text.text.split('\n')).toEqual([
      '*team/api rolled back revision 9: ghcr.io/acme/api:1.3*',
      '*Image:* `ghcr.io/acme/api:1.3`',
      '*Revision:* 9',
      '*Commit:* `0123456789abcdef0123456789abcdef01234567`',
      '*Trigger:* rollback',
      '*Reason:* errors &lt;5xx&gt; &amp; timeouts after 1.4',
      '*Author:* alice',
      '<https://git.example.com/acme/config/commit/abc?x=1%7C2|Open>',
    ]);
  });

  it('says why a deploy was refused, and how a rollout ended', () => {
    const refused = slackMessage(
      notificationEvent({
        event: 'refused',
        app: 'team/api',
        image: 'ghcr.io/acme/api:2.0',
        code: 'REPO_UNAVAILABLE',
        error: 'the config repo did not answer',
      }),
    );
    expect(refused.text).toBe('team/api deploy refused: ghcr.io/acme/api:2.0');
    expect(refused.blocks[0]!.text.text).toContain('*Error:* the config repo did not answer (REPO_UNAVAILABLE)');
    expect(slackMessage(notificationEvent({ event: 'degraded', app: 'team/api', revision: 3 })).text).toBe(
      'team/api revision 3 is degraded',
    );
    expect(slackMessage(notificationEvent({ event: 'unlocked', app: 'team/api' })).blocks[0]!.text.text).toBe(
      '*team/api unlocked*',
    );
  });

  it('stays within Block Kit limits whatever the fields hold, cutting no entity and keeping the link', () => {
    const long = notificationEvent({
      event: 'refused',
      app: 'team/api',
      image: `ghcr.io/acme/${'a'.repeat(3_000)}:1`,
      trigger: '>'.repeat(3_000),
      reason: '<&>'.repeat(5_000),
      author: 'x'.repeat(5_000),
      code: 'INTERNAL',
      error: '&'.repeat(5_000),
      url: 'https://console.example.com/apps/team/api',
    });
    const m = slackMessage(long);
    const text = m.blocks[0]!.text.text;
    expect(text.length).toBeLessThanOrEqual(3_000);
    expect(m.text.length).toBeLessThanOrEqual(200);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(text.endsWith('\n<https://console.example.com/apps/team/api|Open>')).toBe(true);
  });
});
