import type { AppConfig } from '../../config/kipper-file.js';
import { confirmDialog } from './deploys-tab.js';
import { html, type Html } from './html.js';

/** What the Webhook tab shows. */
export interface WebhookView {
  app: AppConfig;
  enabled: boolean;
  url: string;
  /** A token just made by Enable or Regenerate: shown this once. */
  newToken: string | undefined;
  csrf: string;
}

/** The CI steps of the README, with this app's webhook URL and body. */
export function ciSnippets(app: AppConfig, url: string): { gitlab: string; github: string } {
  const gitlabBody =
    app.source === 'git'
      ? '{\\"commit\\":\\"$CI_COMMIT_SHA\\"}'
      : '{\\"image\\":\\"$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA\\",\\"commit\\":\\"$CI_COMMIT_SHA\\"}';
  const githubBody =
    app.source === 'git'
      ? '{\\"commit\\":\\"$GITHUB_SHA\\"}'
      : '{\\"image\\":\\"ghcr.io/${{ github.repository }}:${GITHUB_SHA::7}\\",\\"commit\\":\\"$GITHUB_SHA\\"}';
  return {
    gitlab: [
      'deploy:',
      '  stage: deploy',
      '  image: curlimages/curl:8.10.1',
      '  script:',
      '    - >',
      `      curl --fail-with-body -sS -X POST "${url}"`,
      '      -H "X-Kipper-Token: $KIPPER_WEBHOOK_TOKEN"',
      '      -H "Content-Type: application/json"',
      `      -d "${gitlabBody}"`,
    ].join('\n'),
    github: [
      '      - name: Deploy with Kipper',
      '        env:',
      '          KIPPER_WEBHOOK_TOKEN: ${{ secrets.KIPPER_WEBHOOK_TOKEN }}',
      '        run: |',
      `          curl --fail-with-body -sS -X POST "${url}" \\`,
      '            -H "X-Kipper-Token: $KIPPER_WEBHOOK_TOKEN" \\',
      '            -H "Content-Type: application/json" \\',
      `            -d "${githubBody}"`,
    ].join('\n'),
  };
}

/** The Webhook tab: state, URL, Enable / Regenerate token / Disable, and the CI snippets. */
export function webhookTab(v: WebhookView): Html {
  const snippets = ciSnippets(v.app, v.url);
  const action = `/apps/${v.app.id}/webhook`;
  return html`<h2>Webhook</h2>
    <p>Status: <strong id="webhook-state">${v.enabled ? 'enabled' : 'disabled'}</strong></p>
    <p>URL: <code>${v.url}</code></p>
    ${
      v.newToken
        ? html`<div class="new-token">
            <p>
              <strong>New token</strong>, shown this once: store it as the CI secret <code>KIPPER_WEBHOOK_TOKEN</code>.
            </p>
            <p>
              <code id="new-token">${v.newToken}</code>
              <button type="button" class="small" data-copy="#new-token">Copy token</button>
            </p>
          </div>`
        : ''
    }
    <div class="buttons">
      <form method="post" action="${action}">
        <input type="hidden" name="_csrf" value="${v.csrf}" />
        ${
          v.enabled
            ? html`<button
                type="submit"
                data-confirm-text="Regenerate the token of ${v.app.id}? The old token stops working at once: update the CI secret."
              >
                Regenerate token
              </button>`
            : html`<button type="submit">Enable</button>`
        }
      </form>
      ${
        v.enabled
          ? html`<form method="post" action="${action}/disable">
              <input type="hidden" name="_csrf" value="${v.csrf}" />
              <button
                type="submit"
                class="quiet"
                data-confirm-text="Disable the webhook of ${v.app.id}? No token will deploy it until it is enabled again."
              >
                Disable
              </button>
            </form>`
          : ''
      }
    </div>
    <h3>GitLab CI</h3>
    <p>
      Settings → CI/CD → Variables: <code>KIPPER_WEBHOOK_TOKEN</code> (masked, protected). Then in
      <code>.gitlab-ci.yml</code>:
    </p>
    <pre><code>${snippets.gitlab}</code></pre>
    <h3>GitHub Actions</h3>
    <p>
      Settings → Secrets and variables → Actions: <code>KIPPER_WEBHOOK_TOKEN</code>. Then as a step after the image
      push:
    </p>
    <pre><code>${snippets.github}</code></pre>
    ${confirmDialog()}`;
}
