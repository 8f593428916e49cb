import type { WebhookState } from '../../api-types.js';
import { KipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';

const ACTIONS = { enable: 'POST', status: 'GET', disable: 'DELETE' } as const;
type Action = keyof typeof ACTIONS;
const isAction = (s: string | undefined): s is Action => s !== undefined && Object.hasOwn(ACTIONS, s);

/** `kip app webhook enable|status|disable <app>`. */
export async function appWebhook(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const [action, appArg] = positionals;
  if (!isAction(action)) throw missingAction(action, appArg);
  const { id, name } = resolveApp(appArg, options);
  const state = await client.request<WebhookState>(ACTIONS[action], `/api/v1/apps/${id}/webhook`);
  if (options.json) return JSON.stringify(state, null, 2);
  const secret = [`Webhook URL: ${state.url}`, `Secret token: ${state.token}`];
  // status reports; enable and disable say what they did (docs/design.md "Admin API and CLI").
  if (action === 'status')
    return state.enabled ? [`Webhook for ${name}: enabled`, ...secret].join('\n') : `Webhook for ${name}: disabled`;
  if (!state.enabled) return `✔ Webhook disabled for ${name}`;
  return [`✔ Webhook enabled for ${name}`, ...secret].join('\n');
}

/** The usage error for `kip app webhook api` (no action) or `kip app webhook api enable` (swapped). */
function missingAction(first: string | undefined, second: string | undefined): KipError {
  if (first === undefined)
    return new KipError('USAGE', 'name the action and the app: kip app webhook enable|status|disable <app>');
  const example = `kip app webhook ${isAction(second) ? second : 'status'} ${first}`;
  return new KipError(
    'USAGE',
    `"${first}" is not a webhook action: use enable, status or disable, e.g. \`${example}\``,
  );
}
